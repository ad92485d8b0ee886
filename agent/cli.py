"""The ``twinsight`` command line (DESIGN §6): run, replay, discover, twins, ui, bench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Discover laws of nature from digital twins.")
err = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
    raise typer.Exit(code=1)


def _units(text: Optional[str]) -> dict[str, str] | None:
    """``"m1=kg, r=m"`` as {"m1": "kg", "r": "m"}; a malformed entry ends the command with a clear error."""
    if not text:
        return None
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    bad = [("=".join(p)).strip() for p in pairs if len(p) != 2 or not p[0].strip() or not p[1].strip()]
    if bad:
        _fail(f"--units: {', '.join(repr(b) for b in bad)} is not name=unit (e.g. --units 'm1=kg,r=m')")
    return {name.strip(): unit.strip() for name, unit in pairs}


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")


def _llm_spec(llm: Optional[str]) -> str:
    from agent.providers import default_provider_spec

    return llm or default_provider_spec()


@app.command()
def run(
    goal: str = typer.Argument(..., help="what to find, in plain words"),
    llm: Optional[str] = typer.Option(None, help="offline | openai | replay:PATH (default: openai when configured, else offline)"),
    runs_dir: Path = typer.Option(Path("runs"), help="where sessions are written"),
    seed: int = typer.Option(0, help="seed for every random choice"),
    time_budget: float = typer.Option(30.0, help="search budget per output, in seconds of search work (counted in "
                                                  "evaluations so that a replay repeats it; polish and scoring come on top)"),
    units: Optional[str] = typer.Option(None, help="units of a CSV's columns, e.g. 'F=N,m1=kg' (added to the goal)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    assist: bool = typer.Option(True, "--assist/--no-assist", help="with --llm openai: when the model produces no "
                                "result, the offline planner runs the pipeline for the goal (the report says who "
                                "chose each step)"),
    constrain: Optional[bool] = typer.Option(None, "--constrain/--no-constrain", help="with --llm openai: hold the "
                                             "model's tool turns to a JSON call or answer by the server's grammar "
                                             "(default: for any URL but OpenAI's; see docs/local-model.md)"),
) -> None:
    """Run a goal end to end and report the formula, its scores and an explanation."""
    from agent import Agent, describe_result
    from agent.eta import RoundsClock, SearchClock

    given = _units(units)
    if given:  # in the goal's words, so that a model reads them too and a replay sees the same goal
        goal = f"{goal} (units: {', '.join(f'{n}={u}' for n, u in given.items())})"

    agent = Agent(llm=_llm_spec(llm), runs_dir=runs_dir, seed=seed, discovery_seconds=time_budget, assist=assist,
                  provider_options={} if constrain is None else {"constrain": constrain})
    try:
        with err.status("starting…") as status:
            current: dict[str, Any] = {}

            clock, rounds = SearchClock(), RoundsClock()

            def show(event: dict[str, Any]) -> None:
                clock.hear(event)
                rounds.hear(event)
                if event["type"] == "tool_call":
                    current.update(name=event["name"], started=time.perf_counter())
                    status.update(f"[bold]{event['name']}[/] {json.dumps(event['args'])[:80]}")
                    if not as_json:
                        err.print(f"→ {event['name']} {json.dumps(event['args'])[:100]}", markup=False)
                elif event["type"] == "tool_result" and not event["error"] and not as_json:
                    line = describe_result(event["name"], event["result"])
                    if line:
                        err.print(f"  {line}", markup=False, highlight=False)
                elif event["type"] == "progress" and event.get("stage") == "design_round":
                    status.update(f"{current.get('name', 'run_experiment')}: {rounds.describe()}; {event['calls']} "
                                  f"runs, law so far {event['law'][:60]}")
                elif event["type"] == "progress" and current.get("name") == "discover_law":
                    elapsed = time.perf_counter() - current["started"]
                    stage = (f"genetic search run {event['run']} of {event['of']}" if event.get("stage") == "operon"
                             else event.get("stage", ""))
                    status.update(f"discover_law: {elapsed:.0f} s; {clock.describe()} · {stage}")
                elif event["type"] in ("error", "assist") and not as_json:
                    err.print(f"! {event['message']}", markup=False)

            report = agent.run(goal, listener=show)
    except (ValueError, OSError) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        err.print("stopped by the user; the partial session stays in its run directory", markup=False)
        raise typer.Exit(code=130) from None
    if as_json:
        _emit(report.cli_json())
    else:
        _print_report(goal, report)
    if not report.answered:
        err.print("no result: the session produced no formula or measurement (see the explanation and "
                  f"{report.session})", markup=False, highlight=False)
        raise typer.Exit(code=1)


def _print_report(goal: str, report: Any) -> None:
    out.print(f"\n[bold]Goal:[/] {goal}")
    out.print(f"[bold]Twin:[/] {report.twin}")
    out.print("[bold]Formula:[/]", report.formula, highlight=False)
    out.print("[bold]LaTeX:[/]", report.latex.replace("[", r"\[") if report.latex else None, highlight=False)
    out.print(f"[bold]R² (held-out):[/] {report.r2_test}   [bold]exact:[/] {report.exact}")
    out.print(f"\n{report.explanation}\n", highlight=False, markup=False)
    out.print(f"[bold]Session:[/] {report.session}", soft_wrap=True)  # one line, so the path can be pasted


@app.command()
def replay(
    session: Path = typer.Argument(..., help="a session directory or its session.jsonl"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-execute a recorded session without a model and check that it reproduces."""
    from agent import SessionError, load_events

    try:
        load_events(session)  # a missing or corrupt session is told at once, before the engine loads (seconds)
        with err.status("replaying…"):
            from agent import replay as replay_session

            result = replay_session(session)
    except (SessionError, ValueError, OSError) as error:
        _fail(str(error))
    if as_json:
        _emit(result)
    else:
        if result["incomplete"]:
            out.print("this session is incomplete (it ends without a report): only its recorded steps were replayed")
        out.print(f"reproduced: {result['reproduced']} ({result['steps']} tool steps)")
        for diff in result["diffs"]:
            out.print(json.dumps(diff, default=str)[:500], markup=False)
    if not result["reproduced"]:
        raise typer.Exit(code=2)


@app.command()
def discover(
    csv: Optional[Path] = typer.Option(None, help="CSV of measurements"),
    target: Optional[str] = typer.Option(None, help="column to explain"),
    field: Optional[Path] = typer.Option(None, help=".npz of field snapshots: arrays u (times × nx, times × ny × nx, "
                                                    "or runs × …; several fields as u, v, …), t, x (and y); finds "
                                                    "their PDE"),
    periodic: bool = typer.Option(False, help="the field's spatial domain wraps around (with --field)"),
    inputs: Optional[str] = typer.Option(None, help="comma-separated input columns (default: all others)"),
    time_budget: float = typer.Option(60.0, help="search budget in seconds of search work (counted in evaluations, "
                                                  "so that a run repeats exactly; polish and scoring come on top)"),
    units: Optional[str] = typer.Option(None, help="units by column, e.g. 'm1=kg,r=m,F=N' (also read from headers "
                                                   "such as 'F [N]'); with every input's unit the search also runs on "
                                                   "dimensionless groups"),
    seed: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Find a formula for one column of a CSV, or the PDE of a field file, from the data alone (no ground truth is
    ever read)."""
    if field is not None:
        if csv is not None or target is not None:
            _fail("give either --field or --csv with --target, not both")
        _discover_field(field, periodic, as_json)
        return
    if csv is None or target is None:
        _fail("give --csv and --target (a table), or --field (snapshots of a field)")
    if time_budget <= 0:
        _fail("--time-budget must be positive")
    given = _units(units)  # a malformed option is told before the engine loads (seconds)
    from tools.symbolic import discover as search
    from twin import CsvError, from_csv

    try:
        data = from_csv(csv, target, inputs.split(",") if inputs else None, units=given).simulate()
    except CsvError as error:
        _fail(str(error))
    output = data.output_names[0]
    started = time.perf_counter()
    try:
        with err.status("searching…") as status:
            found = search(data.X, data.y[:, 0], data.input_names, time_budget, seed,
                           progress=lambda stage, info: status.update(f"{stage} {info}"),
                           units={n: u for n, u in data.units.items() if n != output},
                           target_unit=data.units.get(output))
    except ValueError as error:
        _fail(str(error))
    result = {"formula": found.best.text, "r2_test": found.best.test_r2, "complexity": found.best.complexity,
              "seconds": time.perf_counter() - started, "confident": found.confident, "findings": found.findings,
              "pareto": [c.as_dict() for c in found.pareto]}
    if as_json:
        _emit(result)
    else:
        out.print(f"{output} = {result['formula']}", highlight=False, markup=False)
        out.print(f"R² (held-out) = {result['r2_test']:.6f}, complexity {result['complexity']}, "
                  f"{result['seconds']:.1f} s" + ("" if found.confident else "  [low confidence]"), markup=False)
        for finding in found.findings:
            out.print(f"  · {finding}", highlight=False, markup=False)


def _discover_field(path: Path, periodic: bool, as_json: bool) -> None:
    """``twinsight discover --field``: the PDE of each field in an .npz file."""
    from tools.pde import FieldDataError, discover_pde, load_field_file

    try:
        data = load_field_file(path, periodic=periodic)
        with err.status("finding the field's PDE…") as status:
            found = discover_pde(data, progress=lambda stage, info: status.update(f"{stage} {info}"))
    except (FieldDataError, ValueError) as error:
        _fail(str(error))
    result = {"equation": found.equation, "terms": {law.lhs: law.coefficients for law in found.laws.values()},
              "r2_test": found.r2_test, "confident": found.confident, "noise": found.noise, "seconds": found.seconds}
    if as_json:
        _emit(result)
        return
    for law in found.laws.values():
        out.print(law.equation, highlight=False, markup=False)
    out.print(f"R² (held-out weak form) = {found.r2_test:.6f}, {found.seconds:.1f} s"
              + ("" if found.confident else "  [low confidence]"), markup=False)


@app.command()
def twins(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the catalogue of twins."""
    from twin import all_twins

    rows = [t.summary() for t in all_twins()]
    if as_json:
        _emit({"twins": rows})
        return
    table = Table("name", "kind", "inputs", "description")
    for row in rows:
        table.add_row(row["name"], row["kind"], ", ".join(v["name"] for v in row["inputs"]), row["description"][:70])
    out.print(table)


@app.command()
def ui(port: int = typer.Option(8501), runs_dir: Path = typer.Option(Path("runs")),
       address: str = typer.Option("127.0.0.1", help="address to serve on; 0.0.0.0 opens the lab to the network")) -> None:
    """Start the Streamlit lab (this machine only, no usage statistics; Ctrl-C stops its server)."""
    app_path = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    if not app_path.is_file():
        _fail("the Streamlit app (ui/app.py) is not installed yet")
    _serve([sys.executable, "-m", "streamlit", "run", str(app_path), "--server.port", str(port),
            "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false"],
           os.environ | {"TWINSIGHT_RUNS_DIR": str(runs_dir)})


def _serve(command: list[str], env: dict[str, str] | None = None) -> None:
    """Run a server in the foreground; stopping this command (Ctrl-C, kill) stops the server."""
    server = subprocess.Popen(command, env=env)

    def stop(*_: object) -> None:
        server.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
    except KeyboardInterrupt:
        stop()
        code = server.wait()
    raise typer.Exit(code)


model_app = typer.Typer(no_args_is_help=True, help="A local model for --llm openai (llama-cpp-python's server).")
app.add_typer(model_app, name="model")


@model_app.command("serve")
def serve_model(
        gguf: Path = typer.Option(..., help="an instruct model's GGUF file (you bring it; none is downloaded)"),
        port: int = typer.Option(8080), context: int = typer.Option(8192, help="context size in tokens"),
        threads: Optional[int] = typer.Option(None, help="CPU threads while the model writes (default: every core: "
                                              "Twinsight's tools and the model take turns; llama-cpp-python's own "
                                              "default is half of them)"),
        chat_format: Optional[str] = typer.Option(None, help="llama-cpp-python chat format (default: the GGUF's own "
                                                           "template)"),
        print_command: bool = typer.Option(False, "--print-command", help="print the server command and exit"),
) -> None:
    """Serve a GGUF model on 127.0.0.1 as an OpenAI-compatible endpoint; then, in another terminal:
    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 twinsight run GOAL --llm openai."""
    import importlib.util

    if not gguf.is_file():
        _fail(f"no GGUF file at {gguf}")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(context),
               "--n_threads", str(threads or os.cpu_count() or 1),
               *(["--chat_format", chat_format] if chat_format else [])]
    if print_command:
        out.print(" ".join(command), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    if importlib.util.find_spec("llama_cpp") is None:
        _fail("llama-cpp-python is not installed: pip install -e '.[local]' (on CPUs with AMX build it without: "
              "CMAKE_ARGS='-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF'); see docs/local-model.md")
    _serve(command)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(suite: str = typer.Argument(..., help="twin_speed | offline_goals | discovery | local_model | sequential | "
                                                "budget_time"),
          extra: Optional[list[str]] = typer.Argument(None)) -> None:
    """Run a benchmark suite from benchmarks/."""
    modules = {"twin_speed": "benchmarks.twin_speed", "offline_goals": "benchmarks.offline_goals",
               "discovery": "benchmarks.discovery", "local_model": "benchmarks.local_model",
               "sequential": "benchmarks.sequential", "budget_time": "benchmarks.budget_time"}
    if suite not in modules:
        _fail(f"unknown suite {suite!r}; suites: {', '.join(modules)}")
    # The benchmarks live in the repository (not in the installed package): run them from its root, wherever the
    # command was typed.
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__init__.py").is_file():
        _fail(f"the benchmarks ship with the repository, not the package: clone it and run `twinsight bench {suite}` "
              "there")
    raise typer.Exit(subprocess.call([sys.executable, "-m", modules[suite], *(extra or [])], cwd=root,
                                     env=os.environ | {"PYTHONPATH": str(root)}))


if __name__ == "__main__":
    app()
