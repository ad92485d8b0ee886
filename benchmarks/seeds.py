"""Seed robustness: exact recovery of one twin's law over many seeds (fresh data and search per seed).

Run: python -m benchmarks.seeds relativistic_velocity_addition --seeds 10 --budget 20 [--noise 0]
Writes benchmarks/results/seeds_<twin>_noise<σ>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tools.design import design
from tools.symbolic import discover
from tools.verify import exact_match, substitute_parameters
from twin import get_twin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("twin")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--noise", type=float, default=0.0)
    args = parser.parse_args()
    twin = get_twin(args.twin)
    truth = substitute_parameters(next(iter(twin.ground_truth.values())), twin.default_params)
    runs = []
    for seed in range(args.seeds):
        data = twin.simulate(design(twin.input_bounds(), 400, "sobol", seed), noise=args.noise, seed=seed)
        found = discover(data.X, data.y[:, 0], twin.input_names, args.budget, seed)
        exact = exact_match(found.best.expression, truth, samples=dict(zip(twin.input_names, data.X.T)))
        runs.append({"seed": seed, "formula": found.best.text, "exact": exact, "seconds": found.seconds})
        print(json.dumps(runs[-1]))
    summary = {"twin": args.twin, "noise": args.noise, "budget_s": args.budget,
               "exact": sum(r["exact"] for r in runs), "seeds": args.seeds,
               "median_seconds": float(np.median([r["seconds"] for r in runs])), "runs": runs}
    out = Path(__file__).parent / "results" / f"seeds_{args.twin}_noise{args.noise:g}.json"
    out.write_text(json.dumps(summary, indent=1))
    print(f"{summary['exact']}/{args.seeds} exact, median {summary['median_seconds']:.1f} s")


if __name__ == "__main__":
    main()
