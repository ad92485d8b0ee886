"""Goal-to-formula time of the offline planner for the goals it must understand (issue: LLM layer).

Run: python -m benchmarks.offline_goals [--suite readme|words] [--question Q] [--time-budget S]; writes
benchmarks/results/offline_goals.json (the README's goals) or offline_goals_words[_Q].json (every goal of
benchmarks/data/goals.json, or those of question Q, in English, Russian and Chinese, each with the twin it must
reach or "refuse"; the answer is right when the twin is and, for a law, it is exact, or when a goal marked
"refuse" produced no answer).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from agent import Agent
from twin import get_twin

GOALS = [
    "Rediscover the relativistic velocity addition law",
    "What law governs Coulomb's force?",
    "Find the period of a pendulum as a function of its length",
    "Find the equations of motion of the Lotka-Volterra system",
    "Find the dispersion relation of the Klein-Gordon field",
    "Where is the resonance of the driven oscillator and how sharp is it?",
    "Calibrate the damped oscillator to data.csv",
    "Find the law in measurements.csv predicting y",
    "What equation governs the Burgers field?",
    "Find the PDE of the heat lattice",
    "What equation governs the Klein–Gordon field?",
]


def write_csvs(directory: Path) -> None:
    """The example CSVs the goals name (measurements.csv, data.csv), written into ``directory``."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1, 3, 300), rng.uniform(1, 3, 300)
    rows = ["a,b,y"] + [f"{x},{z},{2.5 * x**2 / z}" for x, z in zip(a, b)]
    (directory / "measurements.csv").write_text("\n".join(rows) + "\n")
    twin = get_twin("driven_damped_oscillator")
    data = twin.simulate(np.array([[0.5, 0.0]]), params={"gamma": 0.4, "omega0": 1.5}, t_end=10, n_steps=400,
                         noise=0.01, seed=0)
    rows = ["t,x,v"] + [f"{t},{x},{v}" for t, (x, v) in zip(data.arrays["t"], data.arrays["states"][0])]
    (directory / "data.csv").write_text("\n".join(rows) + "\n")


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("readme", "words"), default="readme")
    parser.add_argument("--question", help="words suite: only the goals of this question (law, observable, …)")
    parser.add_argument("--time-budget", type=float, default=30.0, help="search seconds per output")
    args = parser.parse_args()
    suite = json.loads((Path(__file__).parent / "data" / "goals.json").read_text())["goals"]
    goals = GOALS if args.suite == "readme" else [g["goal"] for g in suite
                                                   if args.question in (None, g["question"])]
    expected = {g["goal"]: g for g in suite}
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        here = Path.cwd()
        os.chdir(scratch)
        try:
            write_csvs(Path(scratch))
            for goal in goals:
                started = time.perf_counter()
                report = Agent(runs_dir=Path(scratch) / "runs", seed=0, discovery_seconds=args.time_budget).run(goal)
                results.append({"goal": goal, "seconds": round(time.perf_counter() - started, 2),
                                "twin": report.twin, "formula": report.formula, "r2_test": report.r2_test,
                                "r2_extrapolation": report.laws[0].get("r2_extrapolation") if report.laws else None,
                                "exact": report.exact, "confident": report.confident, "metrics": report.metrics,
                                "errors": report.errors})
                if goal in expected and args.suite == "words":
                    want = expected[goal]
                    # a goal is answered by a law of the right twin that is not known to be wrong (a session that
                    # only trained a network, its time spent, has not answered it)
                    results[-1]["right"] = (not report.answered if want["question"] == "refuse" else
                                            report.twin == want["twin"] and bool(report.laws)
                                            and report.exact is not False)
                print(json.dumps(results[-1], default=str))
        finally:
            os.chdir(here)
    name = "offline_goals" if args.suite == "readme" else "_".join(filter(None, ("offline_goals_words", args.question)))
    out = Path(__file__).parent / "results" / f"{name}.json"
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "goals": results},
                              indent=2, default=str))


if __name__ == "__main__":
    main()
