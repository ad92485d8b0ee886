"""Re-apply the exact-recovery check (tools.verify.exact_match) to the formulas a benchmark run stored.

For when the check itself changes: no search and no refit is rerun, only the comparison of each arm's stored
formula with the problem's ground truth. Rows are rewritten in place; the summary JSON beside the file gets
the new rates. Prints every flag that changed.

Run: python -m benchmarks.rescore_exact benchmarks/results/feynman_noise0_budget20.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.counterfactual import PREFIX, summarise_tiers
from benchmarks.discovery import ARMS, _score_system, closed_form_problem, ode_problem, summarise


def _check(formula: str, names: list[str], truth, samples) -> bool:
    from tools.verify import exact_match
    from twin import parse_expression

    try:
        expr = parse_expression(formula, names)
    except ValueError:  # a baseline's formula outside the safe grammar stays a miss
        return False
    return exact_match(expr, truth, samples=samples)


def rescore_row(row: dict) -> tuple[dict, list[str]]:
    """The row with every arm's ``exact`` recomputed, and a line for each flag that changed."""
    from tools.verify import substitute_parameters

    changes = []
    if "components" in row:  # an ODE system: each component, then the system
        twin, trajectories, table, _, samples = ode_problem(row["problem"], row["noise"], row["seed"], row["n"])
        names = table.input_names
        parts = [(c, c["state"], substitute_parameters(twin.ground_truth[c["state"]], trajectories.params), samples)
                 for c in row["components"]]
    elif "error" not in row:
        twin, _, truth, samples = closed_form_problem(row["problem"], row["noise"], row["seed"])
        names = twin.input_names
        parts = [(row, "", truth, samples)]
    else:  # a crashed problem stays a failure
        return row, changes
    for holder, state, truth, samples in parts:
        for arm in ARMS:
            if holder.get(arm) and "formula" in holder[arm]:
                exact = _check(holder[arm]["formula"], names, truth, samples)
                if exact != holder[arm]["exact"]:
                    changes.append(f"{row['problem']} {state} {arm}: {holder[arm]['exact']} → {exact}  "
                                   f"{holder[arm]['formula']}")
                holder[arm]["exact"] = exact
    if "components" in row:
        _score_system(row)
    return row, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, nargs="+", help="benchmark results files (.jsonl)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    missing = [str(p) for p in args.results if not p.is_file()]
    if missing:
        sys.exit(f"no such results file: {', '.join(missing)}")
    for path in args.results:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        with ProcessPoolExecutor(args.workers) as pool:
            rescored = list(pool.map(rescore_row, rows))
        path.write_text("".join(json.dumps(row) + "\n" for row, _ in rescored))
        summary_path = path.with_suffix(".json")
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        before = {k: v for k, v in summary.items() if k.endswith("_exact")}
        summary.update(summarise([row for row, _ in rescored]))
        if rows and rows[0]["problem"].startswith(PREFIX):
            summary.update(summarise_tiers([row for row, _ in rescored], ARMS))
        summary_path.write_text(json.dumps(summary, indent=2))
        print(f"{path.name}: " + ", ".join(f"{k} {before.get(k, float('nan'))} → {summary[k]}"
                                          for k in summary if k.endswith("_exact")))
        for _, changes in rescored:
            for change in changes:
                print("  " + change)


if __name__ == "__main__":
    main()
