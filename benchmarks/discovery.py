"""Discovery benchmark (DESIGN §8): Feynman, bonus, Strogatz and ODEBench through the engine and two
baselines (pyoperon alone; the naive pykan workflow), side by side on the same data, in parallel on
Dask, resumable.

Run: python -m benchmarks.discovery --suite feynman|feynman_bonus|strogatz|odebench|counterfactual|srsd_{easy,medium,hard}[_dummy]
     --noise 0 --budget 20
     [--limit N | --problems I_14_3,I_43_31] [--pykan] [--scheduler ADDR]
Writes benchmarks/results/<suite>_noise<σ>_budget<B>.jsonl (one line per problem, resumed on restart)
and a summary JSON beside it; prints a Markdown summary row.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tools.results import Candidate

RESULTS = Path(__file__).parent / "results"
#: Scored side by side: the engine, on noisy ODE data also its derivative-only result, and the baselines.
ARMS = ("engine", "engine_derivatives", "operon_only", "pykan_naive")


def naive_pykan(X: np.ndarray, y: np.ndarray, names: list[str], seed: int):
    """The textbook pykan workflow of issue #6 (KAN [d, 1, 1], grid 5, LBFGS, default ``auto_symbolic``,
    ``symbolic_formula``), with only the hygiene our library needs (no files, quiet, isolated RNG)."""
    import sympy as sp
    import torch
    from kan import KAN

    from tools.train import pykan_session
    from twin.expressions import make_symbols

    rows = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    with pykan_session(seed) as scratch:
        tensor = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        dataset = {"train_input": tensor(X[rows[:cut]]), "train_label": tensor(y[rows[:cut], None]),
                   "test_input": tensor(X[rows[cut:]]), "test_label": tensor(y[rows[cut:], None])}
        model = KAN(width=[X.shape[1], 1, 1], grid=5, k=3, seed=seed, auto_save=False, ckpt_path=scratch)
        model.fit(dataset, opt="LBFGS", steps=50)
        model.auto_symbolic()
        formula = model.symbolic_formula(var=[make_symbols(names)[n] for n in names])
    if formula is None or not isinstance(formula[0][0], sp.Expr):
        return None
    return formula[0][0]


def _scorer(parts, names: list[str], truth, extra_X, extra_y, samples: Mapping[str, np.ndarray]):
    """``score(expr, started)``: a baseline's formula, seconds since ``started``, R² on test and extrapolation, exact."""
    from tools.constants import evaluate
    from tools.verify import exact_match, r2

    def score(expr, started: float) -> dict:
        return {"formula": str(expr), "seconds": time.perf_counter() - started,
                "r2_test": r2(evaluate(expr, parts.X_test, names), parts.y_test),
                "r2_extrapolation": None if extra_X is None else r2(evaluate(expr, extra_X, names), extra_y),
                "exact": exact_match(expr, truth, samples=samples)}

    return score


def _naive_pykan_arm(row: dict, parts, names: list[str], seed: int, score) -> None:
    """Score the naive pykan workflow on the training and validation rows the engine searched."""
    started = time.perf_counter()
    try:
        expr = naive_pykan(np.vstack([parts.X_train, parts.X_val]), np.concatenate([parts.y_train, parts.y_val]),
                           names, seed)
    except Exception as error:  # the naive workflow's own failures (NaN fits) count as misses
        expr, row["pykan_error"] = None, repr(error)[:200]
    row["pykan_naive"] = None if expr is None else score(expr, started)


def _baselines(row: dict, parts, names: list[str], truth, extra_X, extra_y, budget: float, seed: int,
               samples: Mapping[str, np.ndarray], pykan: bool) -> None:
    """Score pyoperon alone (MSE selection, the engine's operon budget) and, when asked, naive pykan."""
    from tools.constants import evaluate, nmse
    from tools.arms import OperonArm

    score = _scorer(parts, names, truth, extra_X, extra_y, samples)
    started = time.perf_counter()
    proposals = OperonArm().regress(parts.X_train, parts.y_train, names, 0.7 * budget, seed)
    best = min(proposals, key=lambda e: nmse(evaluate(e, parts.X_val, names), parts.y_val)) if proposals else None
    row["operon_only"] = None if best is None else score(best, started)
    if pykan:
        _naive_pykan_arm(row, parts, names, seed, score)


def add_naive_pykan(row: dict) -> dict:
    """Score the naive pykan workflow on a stored row's data and add it to the row (every other arm kept).

    The data are regenerated from the row's problem, noise and seed, so they are the samples, derivative table
    and split the run's engine and pyoperon saw: for suites run without ``--pykan``, whose hours of pykan
    training would have doubled the run."""
    from tools.results import split
    from tools.verify import substitute_parameters

    seed = row["seed"]
    if "components" in row:
        twin, trajectories, table, rows, samples = ode_problem(row["problem"], row["noise"], seed, row["n"])
        names = table.input_names
        for component in row["components"]:
            parts = split(table.X[rows], table.y[rows, names.index(component["state"])], seed)
            truth = substitute_parameters(twin.ground_truth[component["state"]], trajectories.params)
            _naive_pykan_arm(component, parts, names, seed, _scorer(parts, names, truth, None, None, samples))
        _score_system(row)
        return row
    twin, data, truth, samples = closed_form_problem(row["problem"], row["noise"], seed)
    names = twin.input_names
    parts, extra = split(data.X, data.y[:, 0], seed), _extrapolation(twin, seed)
    _naive_pykan_arm(row, parts, names, seed, _scorer(parts, names, truth, extra.X, extra.y[:, 0], samples))
    return row


#: Rows of the derivative table each ODE component is searched on.
ODE_ROWS = 2000


def ode_problem(name: str, noise: float, seed: int, n_rows: int):
    """An ODE benchmark problem's data: the twin, 16 trajectories from Sobol initial states, their derivative
    table, the seeded choice of ``n_rows`` rows the search sees, and every row of the table by state name,
    wherever the trajectories went (the exact check's domain)."""
    from tools.derived import derivative_table
    from tools.design import design
    from twin import get_twin

    twin = get_twin(name)
    trajectories = twin.simulate(design(twin.input_bounds(), 16, "sobol", seed), noise=noise, seed=seed, device="cpu")
    table = derivative_table(trajectories)
    rows = np.random.default_rng(seed).permutation(table.n_samples)[:n_rows]
    return twin, trajectories, table, rows, dict(zip(table.input_names, table.X.T))


def solve_ode(name: str, noise: float, budget: float, seed: int, pykan: bool = False) -> dict:
    """One ODE system: 16 trajectories, derivatives by `derivative_table`, each component discovered from data;
    with noisy data the system is then refined against the trajectories (tools.trajectory_refit), and the
    derivative-only result is kept as its own arm. The system counts as exact when every component is."""
    from tools.results import split
    from tools.system import discover_derivatives
    from tools.verify import exact_match, substitute_parameters

    twin, trajectories, table, rows, samples = ode_problem(name, noise, seed, ODE_ROWS)
    names = table.input_names
    X = table.X[rows]
    row: dict = {"problem": name, "noise": noise, "seed": seed, "n": len(rows), "components": []}
    found = discover_derivatives(table, budget, seed, rows=rows)  # the tool's and the estimator's search
    truths = {}
    for column, state in enumerate(names):
        y = table.y[rows, column]
        truths[state] = substitute_parameters(twin.ground_truth[state], trajectories.params)
        best = found[state].best
        component = {"state": state, "engine": {
            "formula": best.text, "seconds": found[state].seconds, "complexity": best.complexity,
            "r2_test": best.test_r2, "exact": exact_match(best.expression, truths[state], samples=samples),
            "source": best.source}}
        if noise > 0:  # what the trajectory refit chooses from, so that a refit can be re-scored without the search
            component["front"] = stored(found[state].pareto)
        _baselines(component, split(X, y, seed), names, truths[state], None, None, budget, seed, samples, pykan)
        row["components"].append(component)
    if noise > 0:
        _refine(row, trajectories, found, truths, X, [table.y[rows, c] for c in range(len(names))], seed, samples)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _score_system(row)
    return row


def _score_system(row: dict) -> None:
    """Each arm's system-level score from its components: exact when every component is, the worst R²."""
    for arm in ARMS:
        parts = [c.get(arm) for c in row["components"]]
        if arm in row["components"][0]:
            row[arm] = {"exact": all(p is not None and p["exact"] for p in parts),
                        "r2_test": min((p["r2_test"] for p in parts if p), default=None) if all(parts) else None,
                        "seconds": sum(p["seconds"] for p in parts if p)}


@dataclass
class Discovered:
    """What the refit needs of a stored search result (tools.results.Discovery's best and front)."""

    best: Candidate
    pareto: list[Candidate]


def rescore_refit(row: dict) -> dict:
    """Re-run only the trajectory refit of a noisy ODE row from the Pareto fronts it stored (the trajectories are
    seeded, so they and the fronts are those the refit saw in the run); the engine arm
    is replaced, every other arm kept. For judging a change to tools.trajectory_refit in minutes, not hours."""
    from tools.results import Candidate
    from tools.verify import substitute_parameters
    from twin import parse_expression

    if not all("front" in c for c in row.get("components", [])):
        raise ValueError(f"{row.get('problem')}: no stored Pareto fronts (a noisy ODE row of a run that kept them)")
    seed = row["seed"]
    twin, trajectories, table, rows, samples = ode_problem(row["problem"], row["noise"], seed, row["n"])
    names = table.input_names
    found, truths = {}, {}
    for component in row["components"]:
        state = component["state"]
        front = [Candidate(parse_expression(c["formula"], names), c["source"], c["val_nmse"], c["complexity"])
                 for c in component["front"]]
        chosen = parse_expression(component["engine_derivatives"]["formula"], names)
        best = next((c for c in front if c.expression == chosen), None)
        if best is None:  # the chosen formula was not on the front
            best = Candidate(chosen, component["engine_derivatives"]["source"], min(c.val_nmse for c in front),
                             component["engine_derivatives"]["complexity"])
        found[state] = Discovered(best, front)
        truths[state] = substitute_parameters(twin.ground_truth[state], trajectories.params)
        component["engine"] = dict(component["engine_derivatives"])
    _refine(row, trajectories, found, truths, table.X[rows], [table.y[rows, c] for c in range(len(names))], seed,
            samples)
    _score_system(row)
    return row


def _refine(row: dict, trajectories, found: dict, truths: dict, X: np.ndarray, targets: list[np.ndarray],
            seed: int, samples: Mapping[str, np.ndarray]) -> None:
    """Refine the discovered system against the noisy trajectories: the result becomes the engine arm, the
    derivative-only result is kept as ``engine_derivatives``; the refinement's time is shared by the components."""
    from tools.constants import evaluate
    from tools.results import r2_score, split
    from tools.trajectory_refit import refine_system
    from tools.verify import exact_match

    names = list(found)
    for component in row["components"]:
        component["engine_derivatives"] = dict(component["engine"])
    started = time.perf_counter()
    try:
        refined = refine_system(trajectories, {s: f.pareto for s, f in found.items()},
                                {s: f.best for s, f in found.items()})
    except ValueError as error:  # the derivative-only result stands, and says why
        row["refinement"] = {"error": str(error)}
        return
    share = (time.perf_counter() - started) / len(names)
    row["refinement"] = {"rss_chosen": refined.rss_chosen, "rss": refined.rss, "adequate": refined.adequate,
                         "observations": refined.n_observations, "trials": len(refined.trials),
                         "seconds": refined.seconds, "window_steps": refined.window_steps}
    for component, target in zip(row["components"], targets):
        state, expr = component["state"], refined.formulas[component["state"]]
        test = split(X, target, seed)
        component["engine"] = {
            "formula": str(expr), "seconds": component["engine"]["seconds"] + share,
            "r2_test": r2_score(evaluate(expr, test.X_test, names), test.y_test),
            "exact": exact_match(expr, truths[state], samples=samples), "source": "trajectory refit"}


def closed_form_problem(name: str, noise: float, seed: int) -> tuple:
    """A closed-form problem's twin, its 400 Sobol samples, its ground truth (for scoring only) and the samples
    by input name (the exact check's domain)."""
    from benchmarks import srsd
    from benchmarks.counterfactual import PREFIX, counterfactual_twin
    from tools.design import design
    from twin import get_twin

    if name.startswith(srsd.PREFIX):  # drawn as SRSD draws them: log-uniform over orders of magnitude, both signs
        twin = srsd.srsd_twin(name)
        drawn = twin.simulate(srsd.samples(name, 4000, seed), drop_invalid=True)  # the first 400 where it is defined
        data = twin.simulate(drawn.X[:400], noise=noise, seed=seed)
    else:
        twin = counterfactual_twin(name) if name.startswith(PREFIX) else get_twin(name)
        data = twin.simulate(design(twin.input_bounds(), 400, "sobol", seed), noise=noise, seed=seed,
                             drop_invalid=True)
    return twin, data, next(iter(twin.ground_truth.values())), dict(zip(twin.input_names, data.X.T))


#: Closed-form rows store every polished candidate within this factor of the best validation error.
STORED_NMSE_FACTOR = 10.0


def stored(candidates: Sequence[Candidate]) -> list[dict]:
    """Candidates as stored in a results row: formula (safe-parser text), source, validation NMSE, complexity."""
    return [{"formula": c.text, "source": c.source, "val_nmse": c.val_nmse, "complexity": c.complexity}
            for c in candidates]


def _extrapolation(twin, seed: int):
    """400 noiseless samples on the range widened beyond the training inputs."""
    from tools.verify import extrapolation_inputs

    return twin.simulate(extrapolation_inputs(twin.input_bounds(), 400, seed + 1), drop_invalid=True)


def _score_closed_form(best: Candidate, twin, truth, samples: Mapping[str, np.ndarray], parts, extra) -> dict:
    """The chosen formula's scores: complexity, R² on test and on the extrapolation range, the exact check."""
    from tools.constants import evaluate
    from tools.verify import exact_match, r2

    names = twin.input_names
    return {"formula": best.text, "complexity": best.complexity,
            "r2_test": r2(evaluate(best.expression, parts.X_test, names), parts.y_test),
            "r2_extrapolation": r2(evaluate(best.expression, extra.X, names), extra.y[:, 0]),
            "exact": exact_match(best.expression, truth, samples=samples), "source": best.source}


def solve(name: str, noise: float, budget: float, seed: int, pykan: bool = False) -> dict:
    """One problem: data from the twin, discovery from data only, then scoring against the truth."""
    from tools.results import split
    from tools.symbolic import discover

    twin, data, truth, samples = closed_form_problem(name, noise, seed)
    names = twin.input_names
    X, y = data.X, data.y[:, 0]
    parts, extra = split(X, y, seed), _extrapolation(twin, seed)
    row: dict = {"problem": name, "noise": noise, "seed": seed, "n": len(y), "dropped": data.meta["dropped"]}
    started = time.perf_counter()
    units = {v.name: v.unit for v in twin.inputs}  # metadata of the data, as AI Feynman uses; not the law
    found = discover(X, y, names, budget, seed, units=units, target_unit=twin.outputs[0].unit)
    row["engine"] = {"seconds": time.perf_counter() - started,
                     **_score_closed_form(found.best, twin, truth, samples, parts, extra)}
    best_error = min(c.val_nmse for c in found.candidates)  # never empty: discover falls back to the mean
    # the candidates a different final choice could pick: judged again without re-running the search
    row["candidates"] = stored([c for c in found.candidates if c.val_nmse <= STORED_NMSE_FACTOR * best_error])
    _baselines(row, parts, names, truth, extra.X, extra.y[:, 0], budget, seed, samples, pykan)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def rechoose(row: dict) -> dict:
    """Make a closed-form row's final choice again with the current tools.selection.choose among the candidates
    the run stored (a choice lies within ``selection_tolerance`` of the best, far inside STORED_NMSE_FACTOR);
    the engine's seconds and every other arm are the run's (the rewrites of ``discover`` run again on them, in
    seconds). Two choices are so compared on the same candidates;
    a re-run's candidates can differ a little, where pyoperon's time limit cuts its search elsewhere under load."""
    from tools.polish import resolved_candidates, rewritten_candidates
    from tools.results import Candidate, split
    from tools.selection import choose, selection_tolerance
    from twin import parse_expression

    if "candidates" not in row:
        raise ValueError(f"{row.get('problem')}: no stored candidates (a closed-form row of a run that kept them)")
    twin, data, truth, samples = closed_form_problem(row["problem"], row["noise"], row["seed"])
    names = twin.input_names
    parts = split(data.X, data.y[:, 0], row["seed"])
    candidates = []
    for c in row["candidates"]:
        try:
            candidates.append(Candidate(parse_expression(c["formula"], names), c["source"], c["val_nmse"],
                                        c["complexity"]))
        except ValueError:  # beyond the safe parser's limits: discover now drops such candidates too
            continue
    if not candidates:
        raise ValueError(f"{row['problem']}: no stored candidate reads back through the safe parser")
    tolerance = selection_tolerance(len(parts.y_val))
    candidates += rewritten_candidates(candidates, parts, names, tolerance)  # as discover does
    candidates = resolved_candidates(candidates, parts, names, tolerance)
    best = choose(candidates, tolerance, len(parts.y_train))
    row["engine"] = {"seconds": row["engine"]["seconds"],
                     **_score_closed_form(best, twin, truth, samples, parts, _extrapolation(twin, row["seed"]))}
    return row


def summarise(rows: list[dict]) -> dict:
    def rate(arm: str, key: str, test=lambda v: bool(v)) -> float:
        values = [r[arm][key] if r.get(arm) else None for r in rows]
        return float(np.mean([test(v) if v is not None else False for v in values]))

    summary = {"problems": len(rows)}
    for arm in ARMS:
        if any(arm in r for r in rows):
            summary[f"{arm}_exact"] = rate(arm, "exact")
            summary[f"{arm}_r2_gt_0.999"] = rate(arm, "r2_test", lambda v: v > 0.999)
            summary[f"{arm}_median_seconds"] = float(np.median([r[arm]["seconds"] for r in rows if r.get(arm)] or [np.nan]))
    extrapolated = [r["engine"].get("r2_extrapolation") for r in rows]
    if any(v is not None for v in extrapolated):
        summary["engine_extrapolation_r2_gt_0.999"] = float(np.mean([v is not None and v > 0.999 for v in extrapolated]))
    return summary


SUITES = {"feynman": "feynman_", "feynman_bonus": "feynman_bonus_", "strogatz": "strogatz_", "odebench": "odebench_",
          "counterfactual": "counterfactual_", "srsd_easy": "srsd_easy_", "srsd_medium": "srsd_medium_",
          "srsd_hard": "srsd_hard_", "srsd_easy_dummy": "srsd_dummy_easy_", "srsd_medium_dummy": "srsd_dummy_medium_",
          "srsd_hard_dummy": "srsd_dummy_hard_"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="feynman")
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of search per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    parser.add_argument("--problems", default=None,
                        help="comma-separated problem names (the suite prefix may be left off): only these, "
                             "written to <stem>_selected.* apart from the whole suite's results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pykan", action="store_true", help="also score the naive pykan workflow (slow)")
    parser.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    args = parser.parse_args()

    import dask
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    from benchmarks import srsd
    from benchmarks.counterfactual import problem_names, summarise_tiers
    from twin import twin_names

    names = twin_names() + problem_names() + srsd.problem_names()
    problems = [n for n in names if n.startswith(SUITES[args.suite]) and
                (args.suite != "feynman" or not n.startswith("feynman_bonus_"))][: args.limit]
    if args.problems:
        wanted = {SUITES[args.suite] + n.removeprefix(SUITES[args.suite]) for n in args.problems.split(",")}
        if wanted - set(problems):
            parser.error(f"not in the {args.suite} suite: {', '.join(sorted(wanted - set(problems)))}")
        problems = [p for p in problems if p in wanted]
    task = solve_ode if args.suite in ("strogatz", "odebench") else solve
    RESULTS.mkdir(exist_ok=True)
    stem = (f"{args.suite}_noise{args.noise:g}_budget{args.budget:g}"
            + ("_pykan" if args.pykan else "")
            + ("_selected" if args.problems else ""))
    log = RESULTS / f"{stem}.jsonl"
    done = {json.loads(line)["problem"] for line in log.read_text().splitlines()} if log.exists() else set()
    todo = [p for p in problems if p not in done]
    # exact_match forks a helper to time-limit sympy; Dask's worker processes are daemonic by default.
    dask.config.set({"distributed.worker.daemon": False})
    cluster = None if args.scheduler else LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       processes=True, dashboard_address=None)
    with Client(args.scheduler or cluster) as client:
        futures = [client.submit(task, p, args.noise, args.budget, args.seed, args.pykan, key=f"{stem}-{p}", pure=False)
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
    if args.suite == "counterfactual":
        summary |= summarise_tiers(rows, ARMS)
    (RESULTS / f"{stem}.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
