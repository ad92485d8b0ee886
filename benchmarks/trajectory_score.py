"""Score discovered ODE systems by the trajectories they predict, not by derivative targets.

R² on a derivative test split scores a formula against derivatives estimated from noisy trajectories, which
are biased; a system refined against the trajectories (tools.trajectory_refit) is unbiased and scores a little
lower there. This scorer integrates each arm's system of a discovery-benchmark results file from held-out
initial states (8 Sobol points of another seed than the 16 the search saw) over the twin's own time span and
compares it with the twin's noiseless trajectories: R² per state over all times and trajectories, the worst
state counting for the system (as ODEFormer reports R² on trajectories; its thresholds, not its code).
Chaotic systems lose this score over long spans even when exact; the R² on the derivative split stays beside it.
Benchmark-only: it reads the twin's ground truth by simulating it.

Run: python -m benchmarks.trajectory_score benchmarks/results/odebench_noise0.01_budget10.jsonl
Writes <stem>_trajectories.json beside the results file and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.discovery import ARMS

#: Held-out initial states per system, and the seed offset that keeps them apart from the search's 16.
HELD_OUT_STATES = 8
HELD_OUT_SEED_OFFSET = 1000
#: Shares of systems reported: predicted trajectories with R² above these (worst state).
THRESHOLDS = (0.9, 0.99, 0.999)


def trajectory_r2(problem: str, formulas: dict[str, str], seed: int) -> float | str:
    """The worst state's R² of ``formulas`` (state → right-hand side text) against the twin's noiseless
    trajectories from held-out initial states; a string says why there is no number (unparseable, diverged)."""
    from tools.design import design
    from twin import SimulationError, from_ode, get_twin

    twin = get_twin(problem)
    x0 = design(twin.input_bounds(), HELD_OUT_STATES, "sobol", seed + HELD_OUT_SEED_OFFSET)
    truth = twin.simulate(x0, noise=0.0, device="cpu").arrays["states"]
    ranges = {v.name: (v.low, v.high) for v in twin.inputs}
    try:
        model = from_ode({s: f.replace("Abs(", "abs(") for s, f in formulas.items()}, ranges, name=f"{problem}_model")
    except ValueError as error:
        return f"unparseable: {error}"[:200]
    try:
        predicted = model.simulate(x0, t_end=twin.t_end, n_steps=twin.n_steps, device="cpu").arrays["states"]
    except (SimulationError, ValueError, ZeroDivisionError, OverflowError) as error:
        return f"diverged: {error}"[:200]
    if not np.isfinite(predicted).all():
        return "diverged: non-finite states"
    residual = ((predicted - truth) ** 2).sum(axis=(0, 1))
    spread = ((truth - truth.mean(axis=(0, 1))) ** 2).sum(axis=(0, 1))
    return float(np.min(1.0 - residual / np.maximum(spread, 1e-300)))


def score_file(path: Path) -> dict:
    """Trajectory R² of every arm of every system in a discovery results file (JSONL)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    systems = []
    for row in rows:
        if "components" not in row:
            continue
        scores = {}
        for arm in ARMS:
            parts = [c.get(arm) for c in row["components"]]
            if all(parts) and all(p.get("formula") for p in parts):
                formulas = {c["state"]: p["formula"] for c, p in zip(row["components"], parts)}
                scores[arm] = {"r2": trajectory_r2(row["problem"], formulas, row.get("seed", 0)),
                               "exact": row.get(arm, {}).get("exact")}
        systems.append({"problem": row["problem"], "arms": scores})
    return {"results": str(path.name), "held_out_states": HELD_OUT_STATES, "systems": systems,
            "summary": summarise(systems)}


def summarise(systems: list[dict]) -> dict:
    """Per arm: the median trajectory R² (a failure counts as −∞), shares above THRESHOLDS, failures."""
    summary = {}
    for arm in ARMS:
        values = [s["arms"][arm]["r2"] for s in systems if arm in s["arms"]]
        if not values:
            continue
        numbers = np.array([v if isinstance(v, float) else -np.inf for v in values])
        summary[arm] = {"systems": len(values), "median_r2": float(np.median(numbers)),
                        "failed": sum(not isinstance(v, float) for v in values),
                        **{f"r2_gt_{t:g}": float(np.mean(numbers > t)) for t in THRESHOLDS}}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a discovery results file (.jsonl) of an ODE suite")
    args = parser.parse_args()
    if not args.results.is_file():
        sys.exit(f"no such results file: {args.results}")
    scored = score_file(args.results)
    out = args.results.with_name(args.results.stem + "_trajectories.json")
    out.write_text(json.dumps(scored, indent=2))
    print("| arm | systems | median trajectory R² | " + " | ".join(f"R² > {t:g}" for t in THRESHOLDS) + " | failed |")
    print("|---|---|---|" + "---|" * len(THRESHOLDS) + "---|")
    for arm, s in scored["summary"].items():
        shares = " | ".join(f"{100 * s[f'r2_gt_{t:g}']:.0f}%" for t in THRESHOLDS)
        print(f"| {arm} | {s['systems']} | {s['median_r2']:.4f} | {shares} | {s['failed']} |")
    print(f"→ {out}")


if __name__ == "__main__":
    main()
