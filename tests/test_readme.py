"""The README's Python examples run as written, and print what their comments say."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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


def test_the_readmes_example_csvs_ship_and_are_the_benchmarks_own(tmp_path):
    from agent import check_csv
    from benchmarks.offline_goals import write_csvs

    readme = README.read_text(encoding="utf-8")
    named = set(re.findall(r"examples/[\w.]+\.csv", readme))
    assert named == {"examples/data.csv", "examples/measurements.csv"}
    write_csvs(tmp_path)
    for path in named:
        assert check_csv(str(ROOT / path))
        assert (ROOT / path).read_bytes() == (tmp_path / Path(path).name).read_bytes()
