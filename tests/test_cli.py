import json
import os
import subprocess
import sys

import numpy as np


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_run_json_contract_and_replay(tmp_path):
    done = _cli("run", "What law governs Coulomb's force?", "--llm", "offline", "--runs-dir", str(tmp_path),
                "--json", "--time-budget", "5")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"session", "twin", "formula", "latex", "r2_test", "exact", "explanation", "errors"}
    assert payload["twin"] == "coulomb_force" and payload["exact"] is True
    replayed = _cli("replay", payload["session"], "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["reproduced"] is True


def test_discover_json_and_bad_csv(tmp_path):
    x = np.linspace(1, 4, 60)
    (tmp_path / "m.csv").write_text("x,y\n" + "\n".join(f"{a},{3 * a**3}" for a in x) + "\n")
    done = _cli("discover", "--csv", str(tmp_path / "m.csv"), "--target", "y", "--time-budget", "4", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert {"formula", "r2_test", "complexity", "seconds", "pareto"} <= set(payload)
    assert payload["r2_test"] > 0.999999 and payload["seconds"] < 30
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n2,oops\n3,4\n")
    bad = _cli("discover", "--csv", str(tmp_path / "bad.csv"), "--target", "y", "--json")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_twins_json_and_bad_session(tmp_path):
    done = _cli("twins", "--json")
    names = {t["name"] for t in json.loads(done.stdout)["twins"]}
    assert len(names) >= 200 and "klein_gordon_lattice" in names
    bad = _cli("replay", str(tmp_path / "nothing"))
    assert bad.returncode == 1 and "no session file" in bad.stderr


def test_a_run_without_an_answer_exits_non_zero_and_bad_budgets_stop_before_any_experiment(tmp_path):
    unmapped = _cli("run", "Tell me a joke about thermodynamics", "--llm", "offline", "--runs-dir", str(tmp_path))
    assert unmapped.returncode == 1 and "no result" in unmapped.stderr
    zero = _cli("run", "What law governs Coulomb's force?", "--llm", "offline", "--runs-dir", str(tmp_path / "z"),
                "--time-budget", "0")
    assert zero.returncode == 1 and "between 1 and 900 seconds" in zero.stderr
    assert not (tmp_path / "z").exists()  # refused before a session (or an experiment) started


def test_discover_reads_units_from_headers_and_the_units_option(tmp_path):
    rng = np.random.default_rng(0)
    m, v, T = rng.uniform(1, 5, 200), rng.uniform(1, 3, 200), rng.uniform(200, 300, 200)
    rows = "\n".join(f"{a},{b},{c},{a * b * b / 2}" for a, b, c in zip(m, v, T))
    (tmp_path / "e.csv").write_text("m [kg],v (m/s),T,E [J]\n" + rows + "\n")
    done = _cli("discover", "--csv", str(tmp_path / "e.csv"), "--target", "E [J]", "--units", "T=K",
                "--time-budget", "4", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["formula"] == "m*v**2/2"
    bad = _cli("discover", "--csv", str(tmp_path / "e.csv"), "--target", "E", "--units", "m=kg,oops")
    assert bad.returncode == 1 and "is not name=unit" in bad.stderr
    missing = _cli("discover", "--csv", "no/such.csv", "--target", "E")
    assert missing.returncode == 1 and "no/such.csv does not exist" in missing.stderr


def test_run_takes_units_for_a_csv_goal(tmp_path):
    rng = np.random.default_rng(1)
    m, v = rng.uniform(1, 5, 120), rng.uniform(1, 3, 120)
    (tmp_path / "e.csv").write_text("m,v,E\n" + "\n".join(f"{a},{b},{a * b * b / 2}" for a, b in zip(m, v)) + "\n")
    done = _cli("run", f"Find the law in {tmp_path / 'e.csv'} predicting E", "--units", "m=kg,v=m/s,E=J",
                "--llm", "offline", "--runs-dir", str(tmp_path / "runs"), "--time-budget", "5", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["formula"] == "m*v**2/2"
    events = [json.loads(line) for line in next((tmp_path / "runs").iterdir()).joinpath("session.jsonl").open()]
    csv_call = next(e for e in events if e.get("type") == "tool_call" and e.get("name") == "twin_from_csv")
    assert csv_call["args"]["units"] == {"m": "kg", "v": "m/s", "E": "J"}
    verdict = next(e for e in events if e.get("type") == "tool_result" and e.get("name") == "verify_law")
    assert verdict["result"]["units_consistent"] is True


def test_model_serve_says_what_is_missing(tmp_path):
    missing = _cli("model", "serve", "--gguf", str(tmp_path / "none.gguf"))
    assert missing.returncode == 1 and "no GGUF file" in missing.stderr
    model = tmp_path / "small.gguf"
    model.write_bytes(b"GGUF")
    shown = _cli("model", "serve", "--gguf", str(model), "--port", "8090", "--print-command")
    assert shown.returncode == 0 and "-m llama_cpp.server --model" in shown.stdout and "--port 8090" in shown.stdout
    assert "--host 127.0.0.1" in shown.stdout and f"--n_threads {os.cpu_count()}" in shown.stdout
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:  # the default install: the extra is named
        served = _cli("model", "serve", "--gguf", str(model))
        assert served.returncode == 1 and ".[local]" in served.stderr


def test_bench_help_starts_nothing_and_a_benchmark_runs_from_any_directory(tmp_path):
    shown = _cli("bench", "offline_goals", "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "Run a benchmark suite" in shown.stdout
    module_help = _cli("bench", "offline_goals", "--", "--help", cwd=tmp_path)  # the benchmark's own help
    assert module_help.returncode == 0 and "--time-budget" in module_help.stdout, module_help.stderr
    assert not any(tmp_path.iterdir())
