"""Sequential design benchmark (issue 38): twin runs needed to reach the exact law, the sequential design
(tools.sequential) against one-shot Sobol and uniform designs of the same total size, paired by problem and seed.

Run: python -m benchmarks.sequential --suite feynman|counterfactual|odebench|fields [--noise σ] [--problems N]
     [--seeds 0,1,2,3,4]
     [--budget 5] [--workers 2] [--one-shot sobol,uniform]
Writes benchmarks/results/sequential_<suite>_noise<σ>.jsonl (one line per problem and seed; resumed on restart) and
the summary (``summarise``) of every row measured so far beside it (.json), and prints it.

Each arm climbs the ladder of design sizes 25, 50, 100, 200, 400 and stops at the first size whose discovered law
is exact (tools.verify.exact_match against the twin's law, scoring only): its runs to exact, or "not within 400".
A one-shot arm draws a fresh design of each size (seeded as ``benchmarks.discovery``); the sequential arm's size
B is its first design plus the rounds it chose, B runs in all, searched with the same seconds per search. The
sequential design runs with its stop rule off (the ladder is fixed), and each row records where the stop rule
would have stopped and whether the law there was exact. The problems are a seeded sample of the suite (the
counterfactual rows carry the suite's held-out mark).

ODEBench: the ladder is 4, 8, 16, 32 initial states; the sequential arm is tools.state_design (the next initial
states where rival systems part); a system is exact when every state's formula is, judged on the derivative table
of the 16 Sobol trajectories ``benchmarks.discovery`` uses.

Fields (the twins of ``benchmarks.fields``, its catalogue and held-out suite): the ladder is 1, 2, 4, 8 runs; the
one-shot arm (``random``) runs from the twin's own random initial fields, the sequential arm is
tools.field_design (the next initial fields where rival PDEs part); exact by ``benchmarks.fields``' rule (the
right terms, coefficients within 1 % at σ = 0, 5 % with noise).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
LADDER = (25, 50, 100, 200, 400)
#: Initial states of the ODE ladder.
ODE_LADDER = (4, 8, 16, 32)
#: Runs (initial fields) of the field ladder.
FIELD_LADDER = (1, 2, 4, 8)
ONE_SHOT = ("sobol", "uniform")
#: Every one-shot arm a row may hold: the designs above, and a field twin's own random initial fields.
BASELINES = (*ONE_SHOT, "random")


class _Solved(Exception):
    """Raised from the sequential design's progress callback to end it at its first exact round (the rounds
    before are what a longer run would also have taken; stopping saves the later searches)."""


def _not_found(ladder: tuple[int, ...]) -> int:
    """Runs to exact recorded for an arm that never got there (twice the ladder's top), for the paired tests."""
    return 2 * ladder[-1]


def _runs_to_exact(steps: list[dict], ladder: tuple[int, ...] = LADDER) -> int:
    """The runs of an arm's first exact step, or ``_not_found``."""
    return next((s["runs"] for s in steps if s["exact"]), _not_found(ladder))


def _problem(name: str):
    from benchmarks.discovery import closed_form_problem

    twin, _, truth, samples = closed_form_problem(name, 0.0, 0)
    units = {v.name: v.unit for v in twin.inputs}
    return twin, truth, samples, units


def one_shot(name: str, method: str, noise: float, seed: int, budget: float) -> dict:
    """The one-shot arm: a fresh ``method`` design of each ladder size until the law found is exact."""
    from tools.design import design
    from tools.symbolic import discover
    from tools.verify import exact_match

    twin, truth, samples, units = _problem(name)
    steps = []
    for size in LADDER:
        started = time.perf_counter()
        data = twin.simulate(design(twin.input_bounds(), size, method, seed), noise=noise, seed=seed,
                             drop_invalid=True)
        found = discover(data.X, data.y[:, 0], twin.input_names, budget, seed, units=units,
                         target_unit=twin.outputs[0].unit)
        exact = exact_match(found.best.expression, truth, samples=samples)
        steps.append({"runs": size, "formula": found.best.text, "exact": exact, "confident": found.confident,
                      "seconds": time.perf_counter() - started})
        if exact:
            break
    return {"runs_to_exact": _runs_to_exact(steps), "steps": steps}


def sequential(name: str, noise: float, seed: int, budget: float, settings: dict | None = None) -> dict:
    """The sequential arm: one design grown round by round to 400 runs, ended at its first exact round."""
    from tools.sequential import SequentialDesign, SequentialOptions
    from tools.verify import exact_match
    from twin import parse_expression

    twin, truth, samples, units = _problem(name)
    steps: list[dict] = []

    def check(stage: str, info: dict) -> None:
        if stage != "design_round":  # the searches' own progress
            return
        exact = exact_match(parse_expression(info["formula"], twin.input_names), truth, samples=samples)
        steps.append({key: info[key] for key in ("calls", "formula", "confident", "seconds", "outside_box",
                                                 "one_law_left", "disagreement")}
                     | {"runs": info["calls"], "valid_runs": info["runs"]}
                     | {"exact": exact, "eliminated": len(info["eliminated"]), "rivals": len(info["rivals"])})
        if exact:
            raise _Solved

    options = SequentialOptions(initial=LADDER[0], search_budget=budget, stop=False, **(settings or {}))
    design = SequentialDesign(LADDER[-1], seed, options, progress=check)
    try:
        design.run(twin, noise=noise, units=units)
    except _Solved:
        pass
    stop = next((s for s in steps if s["one_law_left"]), None)
    return {"runs_to_exact": _runs_to_exact(steps), "steps": steps,
            "stop_rule": None if stop is None else {"runs": stop["runs"], "exact": stop["exact"]}}


def _ode_problem(name: str, noise: float, seed: int):
    """An ODEBench problem's twin, its laws with the parameters of its runs (scoring only) and the exact check's
    domain: the derivative table of ``benchmarks.discovery``'s 16 Sobol trajectories, by state name."""
    from benchmarks.discovery import ode_problem
    from tools.verify import substitute_parameters

    twin, trajectories, _, _, samples = ode_problem(name, noise, seed, 0)
    return twin, {s: substitute_parameters(twin.ground_truth[s], trajectories.params) for s in twin.state_names}, samples


def _system_exact(formulas: dict, truths: dict, samples: dict, names: list[str]) -> bool:
    from tools.verify import exact_match
    from twin import parse_expression

    return all(exact_match(parse_expression(formulas[s], names), truths[s], samples=samples) for s in truths)


def one_shot_ode(name: str, method: str, noise: float, seed: int, budget: float) -> dict:
    """The one-shot arm on an ODE twin: a fresh ``method`` design of initial states of each ladder size."""
    from tools.derived import derivative_table
    from tools.design import design
    from tools.state_design import StateDesignOptions
    from tools.system import discover_derivatives

    twin, truths, samples = _ode_problem(name, noise, seed)
    rows = StateDesignOptions().rows
    steps = []
    for size in ODE_LADDER:
        started = time.perf_counter()
        table = derivative_table(twin.simulate(design(twin.input_bounds(), size, method, seed), noise=noise,
                                               seed=seed, device="cpu"))
        found = discover_derivatives(table, budget, seed, rows=np.random.default_rng(seed).permutation(
            table.n_samples)[:rows])
        formulas = {s: found[s].best.text for s in twin.state_names}
        exact = _system_exact(formulas, truths, samples, twin.state_names)
        steps.append({"runs": size, "formulas": formulas, "exact": exact, "seconds": time.perf_counter() - started})
        if exact:
            break
    return {"runs_to_exact": _runs_to_exact(steps, ODE_LADDER), "steps": steps}


def sequential_ode(name: str, noise: float, seed: int, budget: float) -> dict:
    """The sequential arm on an ODE twin: initial states chosen round by round up to 32, ended at its first
    exact round."""
    from tools.state_design import StateDesign, StateDesignOptions

    twin, truths, samples = _ode_problem(name, noise, seed)
    steps: list[dict] = []

    def check(stage: str, info: dict) -> None:
        if stage != "design_round":  # the searches' own progress
            return
        exact = _system_exact(info["formulas"], truths, samples, twin.state_names)
        steps.append({key: info[key] for key in ("calls", "formulas", "seconds", "outside_box", "rivals",
                                                 "disagreement", "one_system_left")}
                     | {"runs": info["calls"], "exact": exact})
        if exact:
            raise _Solved

    options = StateDesignOptions(initial=ODE_LADDER[0], search_budget=budget, stop=False)
    try:
        StateDesign(ODE_LADDER[-1], seed, options, progress=check).run(twin, noise=noise)
    except _Solved:
        pass
    return {"runs_to_exact": _runs_to_exact(steps, ODE_LADDER), "steps": steps}


def _field_problem(name: str):
    """A field twin of the field-law benchmark (its catalogue or held-out suite) and its law (scoring only)."""
    from benchmarks.fields import held_out_twins
    from twin import get_twin

    twin = held_out_twins().get(name) or get_twin(name)
    return twin, twin.field_equations()


def _field_exact(equation: str, twin, truth: dict, noise: float) -> bool:
    """``benchmarks.fields``' rule on a found ``equation`` ("u_t = …; v_t = …", read by the safe parser): the right
    terms, every coefficient within 1 % (σ = 0) or 5 % of the truth."""
    from benchmarks.fields import prune
    from tools.pde.verify import matches
    from twin import parse_expression
    from twin.pde import VELOCITY, jet_names

    fields = twin.fields if hasattr(twin, "fields") else ("u",)
    dims = twin.grid.dims if hasattr(twin, "grid") else 1
    names = jet_names((*fields, *(VELOCITY if getattr(twin, "velocity_of", "") else ())), dims)
    found = dict(part.split(" = ", 1) for part in equation.split("; "))
    laws = {lhs: parse_expression(rhs, names) for lhs, rhs in found.items()}
    return matches(prune(laws), truth, 0.01 if noise == 0 else 0.05)


def one_shot_field(name: str, noise: float, seed: int) -> dict:
    """The one-shot arm on a field twin: runs from the twin's own random initial fields, of each ladder size."""
    from benchmarks.fields import simulate
    from tools.pde import FieldData, discover_pde

    twin, truth = _field_problem(name)
    steps = []
    for size in FIELD_LADDER:
        started = time.perf_counter()
        found = discover_pde(FieldData.from_dataset(simulate(twin, size, seed, noise)))
        exact = _field_exact(found.equation, twin, truth, noise)
        steps.append({"runs": size, "equation": found.equation, "exact": exact, "confident": found.confident,
                      "seconds": time.perf_counter() - started})
        if exact:
            break
    return {"runs_to_exact": _runs_to_exact(steps, FIELD_LADDER), "steps": steps}


def sequential_field(name: str, noise: float, seed: int) -> dict:
    """The sequential arm on a field twin: initial fields chosen round by round up to 8 runs, ended at its first
    exact round."""
    from tools.field_design import FieldDesign, FieldDesignOptions

    twin, truth = _field_problem(name)
    steps: list[dict] = []

    def check(stage: str, info: dict) -> None:
        exact = _field_exact(info["equation"], twin, truth, noise)
        steps.append({key: info[key] for key in ("calls", "equation", "confident", "seconds", "rivals",
                                                 "disagreement", "amplitudes")} | {"runs": info["calls"], "exact": exact})
        if exact:
            raise _Solved

    options = FieldDesignOptions(initial=FIELD_LADDER[0])
    try:
        FieldDesign(FIELD_LADDER[-1], seed, options, progress=check).run(twin, noise=noise)
    except _Solved:
        pass
    return {"runs_to_exact": _runs_to_exact(steps, FIELD_LADDER), "steps": steps}


def rescore(row: dict) -> dict:
    """A row judged again with the numeric identity test that ``exact_match`` gained in session 29
    (tools.verify.numerically_identical) on the formulas it stored; the symbolic verdicts stand (that part of the
    check did not change, and re-running its simplifications takes up to 10 s a formula). Each arm's runs to exact
    become those of its first step now exact (the steps after the first exact one were never run; a check that
    accepts more can only move it earlier)."""
    from tools.verify import numerically_identical
    from twin import parse_expression

    twin, truth, samples, _ = _problem(row["problem"])
    for arm in ("sequential", *ONE_SHOT):
        if arm not in row:
            continue
        for step in row[arm]["steps"]:
            found = parse_expression(step["formula"], twin.input_names)
            step["exact"] = bool(step["exact"] or (found.free_symbols and numerically_identical(found, truth, samples)))
        row[arm]["runs_to_exact"] = _runs_to_exact(row[arm]["steps"])
    return row


def solve(name: str, noise: float, seed: int, budget: float, one_shots: tuple[str, ...] = ONE_SHOT,
          settings: dict | None = None) -> dict:
    """The sequential arm and the ``one_shots`` arms on one problem and seed."""
    from benchmarks.workers import one_thread

    one_thread()
    row = {"problem": name, "noise": noise, "seed": seed, "budget_s": budget}
    if name in field_problems():  # the twin's own random initial fields against fields chosen in rounds
        return row | {"random": one_shot_field(name, noise, seed), "sequential": sequential_field(name, noise, seed)}
    ode = name.startswith("odebench_")
    for method in one_shots:
        row[method] = (one_shot_ode if ode else one_shot)(name, method, noise, seed, budget)
    row["sequential"] = sequential_ode(name, noise, seed, budget) if ode else sequential(name, noise, seed, budget,
                                                                                          settings)
    return row


def field_problems() -> list[str]:
    """The field-law benchmark's twins: its catalogue, then its held-out suite."""
    from benchmarks.fields import CATALOGUE, held_out_twins

    return [*CATALOGUE, *held_out_twins()]


def _runs(row: dict, arm: str, ladder: tuple[int, ...] = LADDER) -> int:
    """An arm's runs to exact as the ladder size it reached (the first rows of the Feynman run recorded only the
    runs the twin could evaluate, 47 of 50, before the steps counted every call)."""
    runs = row[arm]["runs_to_exact"]
    return next((size for size in ladder if size >= runs), _not_found(ladder))


def summarise(rows: list[dict], ladder: tuple[int, ...] = LADDER) -> dict:
    """Per arm: solved within each ladder size, median runs to exact (bootstrap 95 % interval); per one-shot arm
    the paired Wilcoxon p of the sequential arm's runs to exact against it (two-sided), and wins/ties/losses."""
    from scipy.stats import bootstrap, wilcoxon

    summary: dict = {"rows": len(rows), "problems": len({r["problem"] for r in rows})}
    one_shots = [arm for arm in BASELINES if all(arm in r for r in rows)]
    for arm in ("sequential", *one_shots):
        runs = np.array([_runs(r, arm, ladder) for r in rows], dtype=float)
        summary[arm] = {f"exact_within_{b}": f"{int((runs <= b).sum())}/{len(runs)}" for b in ladder}
        summary[arm]["median_runs_to_exact"] = float(np.median(runs))
        if len(set(runs)) > 1:
            interval = bootstrap((runs,), np.median, n_resamples=2000, random_state=0, method="percentile")
            summary[arm]["median_95"] = [float(interval.confidence_interval.low),
                                         float(interval.confidence_interval.high)]
    ours = np.array([_runs(r, "sequential", ladder) for r in rows], dtype=float)
    for arm in one_shots:
        theirs = np.array([_runs(r, arm, ladder) for r in rows], dtype=float)
        differs = ours != theirs
        summary[f"sequential_vs_{arm}"] = {
            "fewer_runs": int((ours < theirs).sum()), "same": int((~differs).sum()), "more_runs": int((ours > theirs).sum()),
            "wilcoxon_p": float(wilcoxon(ours, theirs).pvalue) if differs.any() else None}
    stops = [r["sequential"]["stop_rule"] for r in rows if r["sequential"].get("stop_rule")]
    summary["stop_rule_fired"] = len(stops)
    summary["stop_rule_exact"] = sum(s["exact"] for s in stops)
    return summary


#: The first draw of ``problems``; larger samples add problems drawn from the rest, so that a larger sample holds
#: every smaller one (rows already measured stay in it).
FIRST_DRAW = 8


def problems(suite: str, count: int) -> list[str]:
    """A seeded sample of ``count`` problems of the suite (Feynman: the 100 main equations): ``FIRST_DRAW`` drawn at
    once, then the rest in a seeded order."""
    from benchmarks.counterfactual import problem_names
    from twin import twin_names

    names = {"feynman": [n for n in twin_names() if n.startswith("feynman_") and not n.startswith("feynman_bonus_")],
             "odebench": [n for n in twin_names() if n.startswith("odebench_")],
             "fields": field_problems()}.get(suite) or problem_names()
    first = np.random.default_rng(38).choice(len(names), size=min(FIRST_DRAW, len(names)), replace=False)
    rest = [i for i in np.random.default_rng(39).permutation(len(names)) if i not in set(first)]
    chosen = [*sorted(first), *rest][:count]
    return [names[i] for i in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("feynman", "counterfactual", "odebench", "fields"), default="feynman")
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--problems", type=int, default=10, help="size of the seeded sample of the suite")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds of search per discovery")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one-shot", default=",".join(ONE_SHOT),
                        help="one-shot designs to compare with (sobol, uniform; each costs as much as the sequential arm)")
    parser.add_argument("--widen", type=float, default=None, help="SequentialOptions.widen (a variant: own file)")
    parser.add_argument("--explore", type=float, default=None, help="SequentialOptions.explore (a variant: own file)")
    parser.add_argument("--only", default=None, help="comma-separated problems of the sample to run (a variant's trial)")
    parser.add_argument("--rescore", action="store_true",
                        help="judge the stored rows again with the current exact check (writes <stem>_rescored.jsonl)")
    args = parser.parse_args()
    from benchmarks.counterfactual import laws
    from benchmarks.fields import CATALOGUE

    RESULTS.mkdir(exist_ok=True)
    settings = {k: v for k, v in (("widen", args.widen), ("explore", args.explore)) if v is not None}
    variant = "".join(f"_{k}{v:g}" for k, v in settings.items())
    log = RESULTS / f"sequential_{args.suite}_noise{args.noise:g}{variant}.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    if args.rescore:
        rows = [rescore(row) for row in rows]
        log = log.with_name(log.stem + "_rescored.jsonl")
        log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = {(r["problem"], r["seed"]) for r in rows}
    todo = [] if args.rescore else [(p, int(s)) for s in args.seeds.split(",")
                                    for p in problems(args.suite, args.problems) if (p, int(s)) not in done]
    with ProcessPoolExecutor(args.workers) as pool, log.open("a") as handle:
        one_shots = tuple(m for m in args.one_shot.split(",") if m)
        if set(one_shots) - set(ONE_SHOT):
            parser.error(f"--one-shot takes {', '.join(ONE_SHOT)}")
        if args.only:
            todo = [(p, s) for p, s in todo if p.removeprefix(f"{args.suite}_") in args.only.split(",")]
        futures = [pool.submit(solve, p, args.noise, s, args.budget, one_shots, settings) for p, s in todo]
        for count, future in enumerate(as_completed(futures), 1):
            row = future.result()
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            rows.append(row)
            print(f"[{count}/{len(todo)}] {row['problem']} seed {row['seed']}: runs to exact "
                  + ", ".join(f"{a} {row[a]['runs_to_exact']}" for a in ("sequential", *BASELINES) if a in row),
                  flush=True)
    ladder = {"odebench": ODE_LADDER, "fields": FIELD_LADDER}.get(args.suite, LADDER)
    summary = {"all": summarise(rows, ladder)}
    held = (set(field_problems()) - set(CATALOGUE) if args.suite == "fields"
            else {n for n, law in laws().items() if law["held_out"]})
    if args.suite in ("counterfactual", "fields"):
        for split, keep in (("dev", False), ("held_out", True)):
            chosen = [r for r in rows if (r["problem"] in held) == keep]
            if chosen:
                summary[split] = summarise(chosen, ladder)
    log.with_suffix(".json").write_text(json.dumps(summary | {"budget_s": args.budget, "machine": (
        f"{platform.machine()}, {args.workers} workers")}, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
