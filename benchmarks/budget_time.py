"""Wall time of a search against its budget: the budget counts work (evaluations), not seconds, and refits and
polish come on top; this measures how far apart they are, with and without noise, and which arms take the time.

Run: python -m benchmarks.budget_time [--problem feynman_I_12_1] [--noise 0,0.01] [--budgets 1,10,30] [--seed 0]
Prints a Markdown row per (noise, budget): seconds in all, the formula found, and the three slowest arms. Writes
nothing.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.discovery import closed_form_problem
from tools.symbolic import discover


class ArmTimes:
    """Hears a search's progress and gives each arm the seconds from the previous arm's candidates (or the start)
    to its own."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str, info: dict) -> None:
        now = time.perf_counter()
        if stage == "candidates":
            self.seconds[info["source"]] = self.seconds.get(info["source"], 0.0) + now - self.last
            self.last = now

    def slowest(self, count: int = 3) -> str:
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])[:count]
        return ", ".join(f"{source} {seconds:.0f} s" for source, seconds in ranked)


def measure(problem: str, noise: float, budget: float, seed: int) -> dict:
    """One search of ``problem`` (a closed-form benchmark row's data) at ``noise`` and ``budget``."""
    twin, data, _, _ = closed_form_problem(problem, noise, seed)
    clock = ArmTimes()
    found = discover(data.X, data.y[:, 0], twin.input_names, budget, seed, progress=clock,
                     units={v.name: v.unit for v in twin.inputs}, target_unit=twin.outputs[0].unit)
    return {"problem": problem, "noise": noise, "budget": budget, "seconds": time.perf_counter() - clock.started,
            "formula": found.best.text, "slowest_arms": clock.slowest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="feynman_I_12_1")
    parser.add_argument("--noise", default="0,0.01", help="comma-separated noise levels (relative σ)")
    parser.add_argument("--budgets", default="1,10,30", help="comma-separated search budgets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| problem | noise | budget | seconds | formula | slowest arms |\n|---|---|---|---|---|---|")
    for noise in map(float, args.noise.split(",")):
        for budget in map(float, args.budgets.split(",")):
            row = measure(args.problem, noise, budget, args.seed)
            print(f"| {row['problem']} | {noise:g} | {budget:g} | {row['seconds']:.1f} | `{row['formula'][:60]}` | "
                  f"{row['slowest_arms']} |", flush=True)


if __name__ == "__main__":
    main()
