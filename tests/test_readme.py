"""The README's Python examples run as written, and print what their comments say."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _examples() -> str:
    return "\n\n".join(re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S))


def test_the_readmes_python_examples_run_and_print_what_they_say(tmp_path):
    script = tmp_path / "readme_examples.py"
    script.write_text(_examples(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    promised = [m.group(1).strip() for m in re.finditer(r"^print\(.*?\)\s+# (.*)$", _examples(), flags=re.M)]
    assert len(promised) >= 5
    for text in promised:
        if "…" not in text:
            assert text in done.stdout, f"the README promises {text!r}; the examples printed:\n{done.stdout}"
