"""Re-score the last stage of a benchmark run from what its rows stored, without re-running the search.

The search takes nearly all of a benchmark's time and is seeded (a re-run differs only where pyoperon's wall-time
cap cuts its search elsewhere on a loaded machine), so the last stage is judged on the stored search results:
- a noisy ODE run: the trajectory refit alone is re-run on the same trajectories and stored Pareto fronts
  (``benchmarks.discovery.rescore_refit``), so a change to tools.trajectory_refit is judged in minutes;
- a closed-form run: the final choice is made again among the stored candidates (``benchmarks.discovery.rechoose``),
  so a change to tools.selection.choose is judged on a whole suite.
Every arm but ``engine`` is copied from the run.

With ``--naive-pykan`` nothing is re-scored: the naive pykan baseline is scored on each row's data (regenerated from
its seed: the same samples and split) and added to the row (``benchmarks.discovery.add_naive_pykan``), for a
suite run without ``--pykan``.

Run: python -m benchmarks.rescore benchmarks/results/odebench_noise0.01_budget10.jsonl [--workers 2] [--naive-pykan]
Writes <stem>_rescored.jsonl (<stem>_pykan_added.jsonl with --naive-pykan; resumed on restart) and its summary
.json beside the run's files.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tqdm import tqdm

from benchmarks.discovery import add_naive_pykan, rechoose, rescore_refit, summarise
from benchmarks.workers import one_thread


def _usable(row: dict, needed: str) -> bool:
    """Whether a run's row holds what the pass needs; a row without it crashed in the run and stays a failure."""
    return needed in row and "error" not in row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a results file (.jsonl): a noisy ODE suite's with stored fronts, "
                                                   "or a closed-form suite's with stored candidates")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive-pykan", action="store_true",
                        help="add the naive pykan baseline on each row's data instead of re-scoring")
    args = parser.parse_args()
    if not args.results.is_file():
        sys.exit(f"no such results file: {args.results}")
    runs = [json.loads(line) for line in args.results.read_text().splitlines()]
    ode = any("components" in r for r in runs)
    if args.naive_pykan:
        rescore, suffix, needed = add_naive_pykan, "_pykan_added", "engine"
    else:
        missing = [r["problem"] for r in runs if "engine" in r and "error" not in r and
                   (not all("front" in c for c in r["components"]) if ode else "candidates" not in r)]
        if missing:
            sys.exit(f"{len(missing)} rows stored no {'Pareto fronts' if ode else 'candidates'} (e.g. {missing[0]}): "
                     "rerun the suite with the current benchmarks.discovery")
        rescore, suffix, needed = rescore_refit if ode else rechoose, "_rescored", "components" if ode else "candidates"
    log = args.results.with_name(args.results.stem + suffix + ".jsonl")
    done = {json.loads(line)["problem"] for line in log.read_text().splitlines()} if log.exists() else set()
    with ProcessPoolExecutor(args.workers, initializer=one_thread) as pool, log.open("a") as handle:
        for crashed in (r for r in runs if not _usable(r, needed) and r["problem"] not in done):
            handle.write(json.dumps(crashed) + "\n")  # a problem that crashed in the run stays a failure
        futures = {pool.submit(rescore, r): r["problem"] for r in runs if _usable(r, needed) and r["problem"] not in done}
        for future in tqdm(as_completed(futures), total=len(futures), desc=log.stem):
            try:
                row = future.result()
            except BrokenProcessPool:  # a killed worker (memory) is the machine's fault: rows left resume on restart
                raise
            except Exception as error:  # a row whose rescore crashes keeps its place as a failure, and says why
                row = {"problem": futures[future], "error": repr(error)[:300],
                       "engine": {"exact": False, "r2_test": None, "seconds": 0.0}, "operon_only": None}
            handle.write(json.dumps(row) + "\n")
            handle.flush()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    summary = summarise(rows) | {("pykan_added_to" if args.naive_pykan else "rescored_from"): args.results.name}
    log.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
