"""Re-score only the trajectory refit of a noisy ODE benchmark run, from the Pareto fronts its rows stored.

The derivative search takes ~95 % of a noisy ODE benchmark's time and does not depend on
tools.trajectory_refit; this reruns the refit alone on the same trajectories and fronts (the search is seeded),
so a change to the refit is judged on a whole suite in minutes. Every arm but ``engine`` is copied from the run.

Run: python -m benchmarks.refit_rescore benchmarks/results/odebench_noise0.01_budget20.jsonl [--workers 2]
Writes <stem>_rescored.jsonl (resumed on restart) and <stem>_rescored.json beside the run's files.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from benchmarks.discovery import rescore_refit, summarise
from benchmarks.workers import one_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a noisy ODE suite's results file (.jsonl) with stored fronts")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not args.results.is_file():
        sys.exit(f"no such results file: {args.results}")
    runs = [json.loads(line) for line in args.results.read_text().splitlines()]
    missing = [r["problem"] for r in runs if "components" in r and not all("front" in c for c in r["components"])]
    if missing:
        sys.exit(f"{len(missing)} rows stored no Pareto fronts (e.g. {missing[0]}): rerun the suite with the current "
                 "benchmarks.discovery")
    log = args.results.with_name(args.results.stem + "_rescored.jsonl")
    done = {json.loads(line)["problem"] for line in log.read_text().splitlines()} if log.exists() else set()
    with ProcessPoolExecutor(args.workers, initializer=one_thread) as pool, log.open("a") as handle:
        for crashed in (r for r in runs if "components" not in r and r["problem"] not in done):
            handle.write(json.dumps(crashed) + "\n")  # a problem that crashed in the run stays a failure
        futures = {pool.submit(rescore_refit, r): r["problem"] for r in runs
                   if "components" in r and r["problem"] not in done}
        for future in tqdm(as_completed(futures), total=len(futures), desc=log.stem):
            try:
                row = future.result()
            except ValueError as error:  # a row that cannot be rescored keeps its place, and says why
                row = {"problem": futures[future], "error": str(error)[:300],
                       "engine": {"exact": False, "r2_test": None, "seconds": 0.0}, "operon_only": None}
            handle.write(json.dumps(row) + "\n")
            handle.flush()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    summary = summarise(rows) | {"rescored_from": args.results.name}
    log.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
