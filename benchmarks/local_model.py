"""The README's offline goals through a model behind an OpenAI-compatible URL (a local llama.cpp, Ollama or vLLM
server), with and without planner assist (issue 39).

Run: python -m benchmarks.local_model --base-url http://127.0.0.1:8080/v1 --model NAME [--goals N]
     [--assist on,off] [--constrain default|on|off] [--time-budget S]
Writes benchmarks/results/local_model_<model>.json and prints one line per goal: tool calls the model made and how
many of them were valid (the registry ran them without an argument error), the steps the planner took over,
whether the goal was answered exact, whether the model's explanation stated a number nothing measured (then left
out of the report), and the seconds per goal beside the offline planner's (``--assist off`` alone skips it); of
them, ``model_seconds`` were spent waiting for the model's answers. ``--constrain on|off`` holds every tool turn to
the grammar of ``agent.constrained``, or never (by default: the product's, with assist off only) and writes
``local_model_<model>_constrained.json`` or ``…_unconstrained.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from agent import Agent, load_events
from benchmarks.offline_goals import GOALS, write_csvs

RESULTS = Path(__file__).parent / "results"


def run_goal(goal: str, runs: Path, llm: str, options: dict, assist: bool, budget: float) -> dict:
    """One goal: the counts read from its session."""
    started = time.perf_counter()
    report = Agent(llm=llm, runs_dir=runs, seed=0, discovery_seconds=budget, provider_options=options,
                   assist=assist).run(goal)
    events = load_events(report.session)
    by_model = [s for s in report.steps if s["by"] == "model"]
    handed = next((i for i, e in enumerate(events) if e["type"] == "assist"), len(events))  # the planner's from here
    waited = [(datetime.fromisoformat(b["time"]) - datetime.fromisoformat(a["time"])).total_seconds()
              for i, (a, b) in enumerate(zip(events, events[1:])) if a["type"] == "llm_request"
              and b["type"] == "llm_response" and (i < handed or a["step"] in ("choose", "explain"))]
    return {"goal": goal, "llm": llm, "assist": assist, "seconds": round(time.perf_counter() - started, 2),
            "model_seconds": round(sum(waited), 2) if llm != "offline" else 0.0,
            "model_calls": len(by_model), "valid_model_calls": sum(not s["failed"] for s in by_model),
            "calls_written_as_text": sum(len(e["decision"]["tool_calls"]) for e in events
                                         if e["type"] == "llm_response" and e["decision"].get("calls_from_text")),
            "planner_steps": sum(s["by"] == "planner" for s in report.steps), "answered": report.answered,
            "exact": report.exact, "invented_numbers_caught": "explanation was left out" in report.explanation,
            "errors": report.errors}


def summarize(rows: list[dict]) -> dict[str, dict]:
    """Per setting (offline planner, model with assist, model alone): goals answered exact, tool calls the model
    made and how many were valid, explanations left out for an invented number, median seconds per goal and, for
    the model's settings, the median of each goal's time over the offline planner's."""
    offline = {r["goal"]: r["seconds"] for r in rows if r["llm"] == "offline"}
    summary = {}
    for name, chosen in (("offline", [r for r in rows if r["llm"] == "offline"]),
                         ("assist", [r for r in rows if r["llm"] != "offline" and r["assist"]]),
                         ("no_assist", [r for r in rows if r["llm"] != "offline" and not r["assist"]])):
        if not chosen:
            continue
        ratios = [r["seconds"] / offline[r["goal"]] for r in chosen if r["goal"] in offline]
        summary[name] = {
            "goals": len(chosen), "exact": sum(r["exact"] is True for r in chosen),
            "answered": sum(r["answered"] for r in chosen), "model_calls": sum(r["model_calls"] for r in chosen),
            "valid_model_calls": sum(r["valid_model_calls"] for r in chosen),
            "explanations_left_out": sum(r["invented_numbers_caught"] for r in chosen),
            "median_seconds": float(statistics.median(r["seconds"] for r in chosen)),
            "median_model_seconds": float(statistics.median(r["model_seconds"] for r in chosen)),
            "median_ratio_to_offline": float(statistics.median(ratios)) if ratios and name != "offline" else None}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--goals", type=int, default=len(GOALS), help="the first N goals")
    parser.add_argument("--assist", default="on,off")
    parser.add_argument("--constrain", choices=("default", "on", "off"), default="default")
    parser.add_argument("--time-budget", type=float, default=30.0)
    args = parser.parse_args()
    settings = [{"on": True, "off": False}[a] for a in args.assist.split(",")]
    options = {"base_url": args.base_url, "model": args.model,
               **({} if args.constrain == "default" else {"constrain": args.constrain == "on"})}
    rows = []
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            write_csvs(Path(scratch))
            for goal in GOALS[: args.goals]:
                if True in settings:
                    rows.append(run_goal(goal, Path(scratch) / "runs", "offline", {}, False, args.time_budget))
                    print(json.dumps(rows[-1]), flush=True)
                for assist in settings:
                    rows.append(run_goal(goal, Path(scratch) / "runs", "openai", options, assist, args.time_budget))
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            os.chdir(here)
    RESULTS.mkdir(exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.model)
    name += {"default": "", "on": "_constrained", "off": "_unconstrained"}[args.constrain]
    summary = summarize(rows)
    print(json.dumps(summary, indent=1))
    (RESULTS / f"local_model_{name}.json").write_text(json.dumps(
        {"model": args.model, "constrain": args.constrain, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
         "summary": summary, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
