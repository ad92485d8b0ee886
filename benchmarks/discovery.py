"""Discovery benchmark (DESIGN §8): Feynman and bonus equations through the engine and a pyoperon-only
baseline, side by side on the same data, in parallel on Dask, resumable.

Run: python -m benchmarks.discovery --suite feynman --noise 0 --budget 20 [--limit N] [--scheduler ADDR]
Writes benchmarks/results/<suite>_noise<σ>_budget<B>.jsonl (one line per problem, resumed on restart)
and a summary JSON beside it; prints a Markdown summary row.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def solve(name: str, noise: float, budget: float, seed: int) -> dict:
    """One problem: data from the twin, discovery from data only, then scoring against the truth."""
    from tools.constants import evaluate, nmse
    from tools.design import design
    from tools.symbolic import discover, operon_arm, split
    from tools.verify import exact_match, extrapolation_inputs, positive_inputs, r2
    from twin import get_twin

    twin = get_twin(name)
    truth = next(iter(twin.ground_truth.values()))
    data = twin.simulate(design(twin.input_bounds(), 400, "sobol", seed), noise=noise, seed=seed, drop_invalid=True)
    names = twin.input_names
    X, y = data.X, data.y[:, 0]
    positive = positive_inputs(names, X)
    extra = twin.simulate(extrapolation_inputs(twin.input_bounds(), 400, seed + 1), drop_invalid=True)
    row: dict = {"problem": name, "noise": noise, "seed": seed, "n": len(y), "dropped": data.meta["dropped"]}
    started = time.perf_counter()
    found = discover(X, y, names, budget, seed)
    row["engine"] = {
        "formula": found.best.text, "seconds": time.perf_counter() - started, "complexity": found.best.complexity,
        "r2_test": found.best.test_r2, "r2_extrapolation": r2(evaluate(found.best.expression, extra.X, names), extra.y[:, 0]),
        "exact": exact_match(found.best.expression, truth, positive=positive), "source": found.best.source,
    }
    parts = split(X, y, seed)
    started = time.perf_counter()
    proposals = operon_arm(parts.X_train, parts.y_train, names, 0.7 * budget, seed)
    best = min(proposals, key=lambda e: nmse(evaluate(e, parts.X_val, names), parts.y_val)) if proposals else None
    row["operon_only"] = None if best is None else {
        "formula": str(best), "seconds": time.perf_counter() - started,
        "r2_test": r2(evaluate(best, parts.X_test, names), parts.y_test),
        "r2_extrapolation": r2(evaluate(best, extra.X, names), extra.y[:, 0]),
        "exact": exact_match(best, truth, positive=positive),
    }
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def summarise(rows: list[dict]) -> dict:
    def rate(arm: str, key: str, test=lambda v: bool(v)) -> float:
        values = [r[arm][key] if r.get(arm) else None for r in rows]
        return float(np.mean([test(v) if v is not None else False for v in values]))

    return {
        "problems": len(rows),
        "engine_exact": rate("engine", "exact"),
        "engine_r2_gt_0.999": rate("engine", "r2_test", lambda v: v > 0.999),
        "engine_median_seconds": float(np.median([r["engine"]["seconds"] for r in rows])),
        "operon_only_exact": rate("operon_only", "exact"),
        "operon_only_r2_gt_0.999": rate("operon_only", "r2_test", lambda v: v > 0.999),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=["feynman", "feynman_bonus"], default="feynman")
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of search per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    args = parser.parse_args()

    import dask
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    from twin import twin_names

    problems = [n for n in twin_names() if n.startswith(args.suite + "_") and
                (args.suite != "feynman" or not n.startswith("feynman_bonus_"))][: args.limit]
    RESULTS.mkdir(exist_ok=True)
    stem = f"{args.suite}_noise{args.noise:g}_budget{args.budget:g}"
    log = RESULTS / f"{stem}.jsonl"
    done = {json.loads(line)["problem"] for line in log.read_text().splitlines()} if log.exists() else set()
    todo = [p for p in problems if p not in done]
    # exact_match forks a helper to time-limit sympy; Dask's worker processes are daemonic by default.
    dask.config.set({"distributed.worker.daemon": False})
    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       processes=True, dashboard_address=None)
    with Client(args.scheduler or cluster) as client:
        futures = [client.submit(solve, p, args.noise, args.budget, args.seed, key=f"{stem}-{p}", pure=False)
                   for p in todo]
        with log.open("a") as handle, tqdm(total=len(problems), initial=len(done), desc=stem) as bar:
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as error:  # a crashed problem is recorded as a failure, not retried forever
                    row = {"problem": future.key.removeprefix(stem + "-"), "error": repr(error)[:300],
                           "engine": {"exact": False, "r2_test": None, "seconds": args.budget}, "operon_only": None}
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                bar.update()
    if cluster:
        cluster.close()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    rows = [r for r in rows if r["problem"] in problems]
    summary = summarise(rows) | {"suite": args.suite, "noise": args.noise, "budget_s": args.budget,
                                 "seed": args.seed, "machine": f"{platform.machine()}, {args.workers} workers"}
    (RESULTS / f"{stem}.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
