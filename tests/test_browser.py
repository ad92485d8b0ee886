"""Real-browser smoke test: the lab in headless Chromium (Debian's, driven by Playwright)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on this machine")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_goal_in_a_real_browser(tmp_path):
    port = _free_port()
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    env = os.environ | {"TWINSIGHT_RUNS_DIR": str(tmp_path / "runs")}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    artifacts = Path(os.environ.get("TWINSIGHT_TEST_ARTIFACTS", tmp_path))
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            deadline = time.time() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}", timeout=10_000)
                    break
                except playwright.Error:
                    if time.time() > deadline:
                        raise
                    time.sleep(1)
            page.wait_for_selector("textarea", timeout=60_000)
            page.fill("textarea", "What law governs Coulomb's force?")
            page.keyboard.press("Enter")
            page.wait_for_selector(".katex", timeout=240_000)
            assert "held-out" in page.content()
            artifacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifacts / "lab_smoke.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (artifacts / "lab_smoke.png").stat().st_size > 10_000
