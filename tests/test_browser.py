"""Real-browser smoke test: the lab in headless Chromium (Debian's, driven by Playwright)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on this machine")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab served on a free loopback port, and a page open on it in headless Chromium."""
    port = _free_port()
    runs = tmp_path_factory.mktemp("lab") / "runs"
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        env=os.environ | {"TWINSIGHT_RUNS_DIR": str(runs)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            yield page
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ask(page, goal: str) -> None:
    page.fill("textarea", goal)
    page.keyboard.press("Enter")


def test_a_goal_the_lab_cannot_answer_reads_as_an_error(lab):
    _ask(lab, "Bake me a cake")
    lab.wait_for_selector("[data-testid='stAlertContentError']", timeout=120_000)
    assert "I could not map that goal" in lab.inner_text("[data-testid='stAlertContentError']")
    assert not lab.get_by_text("Done", exact=True).is_visible()
    assert "held-out" not in lab.content()  # no metrics for a failure


def test_a_csv_with_units_in_its_header_is_uploaded_and_its_law_found_with_units(lab, tmp_path):
    table = tmp_path / "forces.csv"
    rng = np.random.default_rng(0)
    m, a = rng.uniform(0.5, 5.0, 60), rng.uniform(0.1, 10.0, 60)
    table.write_text("m [kg],a [m/s^2],F [N]\n" + "".join(f"{x},{y},{x * y}\n" for x, y in zip(m, a)))
    lab.get_by_text("Upload a CSV").click()
    lab.set_input_files("input[type='file']", str(table))
    units = lab.get_by_role("textbox", name="units of the columns (optional)")
    units.wait_for(timeout=60_000)
    assert units.input_value() == "m=kg, a=m/s^2, F=N"  # read from the header, editable
    suggestion = lab.inner_text("[data-testid='stAlertContentSuccess']")
    goal = suggestion[suggestion.index("“") + 1:suggestion.index("”")]
    assert goal.endswith("predicting F (units: m=kg, a=m/s^2, F=N)")
    _ask(lab, goal)
    lab.wait_for_selector(".katex", timeout=240_000)
    assert "Its units are consistent" in lab.content()
    artifacts = Path(os.environ.get("TWINSIGHT_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    lab.screenshot(path=str(artifacts / "lab_units.png"), full_page=True)
    assert (artifacts / "lab_units.png").stat().st_size > 10_000
