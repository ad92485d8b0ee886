"""Symbolic discovery: from (X, y) to a Pareto front of verified candidate formulas.

Arms (tools.arms, one per module) propose structure — a signed power-law fit in log space, sparse and rational
regression over feature libraries, products of one-variable functions, an enumeration of every small expression,
separability and symmetry found on a network of the data, parametric templates of the shapes found, a KAN,
pyoperon genetic programming — on the problem as given and on its dimensionless, screened and symmetry
reductions; every proposal is refitted, normalised, snapped to simple constants, domain-checked (tools.polish)
and scored on validation data the arms never saw (tools.selection). Data only: nothing here reads a twin's
ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from tools import dimensions
from tools.arms import DEFAULT_ARMS, Arm, Problem, SearchState, resolve_arms
from tools.arms.base import Progress
from tools.confidence import EdgeOptions, edge_ratio
from tools.constants import evaluate, nmse
from tools.polish import PolishOptions, polished_candidates, resolved_candidates, rewritten_candidates
from tools.results import Candidate, Discovery, r2_score, split
from tools.scaling import Scaling
from tools.screening import irrelevant_inputs
from tools.selection import CHOICE_RULES, EXACT_NMSE, choose, pareto_front, selection_tolerance
from twin.expressions import count_nodes, make_symbols


@dataclass(frozen=True)
class SearchOptions:
    """Settings of the search loop (the arms' own settings are their constructor arguments).

    Parameters
    ----------
    confident_r2 : float
        A formula is ``confident`` only with at least this test R² (and the edge test, ``edges``).
    exact_nmse : float
        Validation NMSE at which noiseless data is explained to machine precision: the search stops.
    arm_budget_fraction : float
        Share of the time budget the arms that take a share of it divide (network, KAN, genetic programming);
        the rest is left to the polish of their proposals.
    constant_target : float
        A target whose spread is below this fraction of its magnitude is constant (to rounding).
    screen_inputs : bool
        Screen the inputs for ones that do not matter (tools.screening) and search the problem without them beside
        the full one (about 0.7 s per search).
    screen_refuted : float
        The arms that run once (skeleton, genetic programming) skip the problem without the screened-out columns
        once a formula using one of them fits this many times better than every formula without them.
    choose_by : str
        How the final choice ranks the candidates within the validation margin (``tools.selection.choose``).
        Derivative tables of ODE trajectories keep ``"nodes"``: the description length was measured on the
        closed-form suites only (on the stored noisy ODE fronts it would start 10 of 131 components elsewhere).
    polish : PolishOptions
        Settings of the refit, normal form and snapping of every proposal.
    edges : EdgeOptions
        The edge test behind ``confident`` (tools.confidence).
    max_rows : int or None
        A larger table is searched on a seeded choice of this many rows (None: every row). The arms that do not
        take a share of the budget (templates, skeletons, sparse regression) refit every proposal on every row they
        see, so their cost grows with the rows while the budget counts evaluations: 16 ODE trajectories give a
        32,000-row derivative table, whose search took several times its budget. (PySR's ``batching`` answers the
        same cost; 4,000 is twice the rows the ODE benchmarks search.)
    """

    confident_r2: float = 0.99
    exact_nmse: float = EXACT_NMSE
    arm_budget_fraction: float = 0.7
    constant_target: float = 1e-12
    screen_inputs: bool = True
    screen_refuted: float = 10.0
    choose_by: str = "description"
    polish: PolishOptions = field(default_factory=PolishOptions)
    edges: EdgeOptions = field(default_factory=EdgeOptions)
    max_rows: int | None = 4000


def discover(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    time_budget: float = 60.0,
    seed: int = 0,
    arms: Sequence[str | Arm] = DEFAULT_ARMS,
    progress: Progress | None = None,
    units: Mapping[str, str] | None = None,
    target_unit: str | None = "",
    choose_by: str | None = None,
    options: SearchOptions | None = None,
) -> Discovery:
    """Search for y = f(X) within ``time_budget`` seconds; data only.

    Parameters
    ----------
    X, y : array
        Inputs (n × d) and target (n), finite, at least 10 rows.
    names : sequence of str
        The inputs' names, as they appear in the formulas.
    time_budget : float
        Seconds of search, counted as work (evaluations), not wall time, so that a run replays.
    seed : int
        Every random choice (split, arms) follows it.
    arms : sequence of str or Arm
        Arm names (``tools.arms.registered_arms``) or arm instances.
    progress : callable, optional
        Hears ``(stage, info)`` as the search goes.
    units, target_unit : optional
        With units for every input and the target's ("" is dimensionless, None unknown), the arms also search the Buckingham-π reductions
        y = s(x)·F(π) (tools.dimensions); every proposal is scored in the original variables.
    choose_by : str, optional
        Overrides ``options.choose_by``.
    options : SearchOptions, optional
        Settings of the search loop and the polish.

    Returns
    -------
    Discovery
        The chosen formula, the Pareto front, every candidate, ``confident`` and findings in words.

    Columns of extreme magnitude are searched at order one and the formulas mapped back (tools.scaling);
    a constant target is reported as such, never as a confident law.
    """
    start = time.perf_counter()
    options = options or SearchOptions()
    choose_by = choose_by or options.choose_by
    names = list(names)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(names):
        raise ValueError(f"X must be (n, {len(names)}) with one y per row; got {X.shape} and {y.shape}")
    if len(y) < 10:
        raise ValueError(f"need at least 10 samples to discover a law, got {len(y)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("data holds NaN or inf; clean it first")
    chosen = resolve_arms(arms)
    if choose_by not in CHOICE_RULES:
        raise ValueError(f"unknown choice rule {choose_by!r}; choose from {CHOICE_RULES}")
    if np.ptp(y) <= options.constant_target * np.max(np.abs(y)):
        return _constant(y, names, start)
    rows = len(y)
    if options.max_rows and rows > options.max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(rows, options.max_rows, replace=False))
        X, y = X[keep], y[keep]
    scaling = Scaling().fit(X, y)
    X_scaled, y_scaled = scaling.transform(X, y)
    found = _search(X_scaled, y_scaled, names, time_budget, seed, chosen, progress, dict(units or {}), target_unit,
                    choose_by, options)
    if len(y) < rows:
        found.findings.insert(0, f"searched a seeded choice of {len(y)} of the {rows} rows")
    if scaling.active:
        found.findings.insert(0, scaling.describe(names))
        for candidate in found.candidates:
            candidate.expression = scaling.lift(candidate.expression, names)
            candidate.complexity = count_nodes(candidate.expression)
    found.seconds = time.perf_counter() - start
    return found


def _constant(y: np.ndarray, names: list[str], start: float) -> Discovery:
    """The outcome for a constant target: the constant, not confident, and said in ``findings``."""
    value = Candidate(sp.Float(float(np.median(y)), 15), "constant", 0.0, 1, test_r2=None)
    return Discovery(value, [value], False, time.perf_counter() - start, names, [],
                     [f"the target is constant ({float(np.median(y)):.6g}) on every row: no law of the inputs "
                      "can be told from these data"], [value])


def _search(X: np.ndarray, y: np.ndarray, names: list[str], time_budget: float, seed: int, arms: list[Arm],
            progress: Progress | None, units: dict[str, str], target_unit: str | None, choose_by: str,
            options: SearchOptions) -> Discovery:
    """The search itself on validated data (``discover``): the arms in order, then the choice."""
    start = time.perf_counter()
    data = split(X, y, seed)
    state = SearchState(data, names, seed, time_budget, arms, options, units, target_unit,
                        progress or (lambda stage, info: None))

    def consider(proposals: list[sp.Expr], source: str, arm: Arm | None = None) -> None:
        state.candidates.extend(polished_candidates(
            proposals, source, data, names, best=state.best(), fitted=arm is not None and arm.fits_constants,
            options=options.polish))
        if state.candidates:
            state.notify("candidates", {"source": source, "best": state.best()})

    # Each problem is searched as given, in each dimensionless reduction and without screened-out columns;
    # ``lift`` maps its formulas back.
    state.problems.append(Problem("", data.X_train, data.y_train, names))
    for reduction in dimensions.reductions(names, units, target_unit):
        reduced = reduction.apply(data.X_train, data.y_train)
        if reduced is not None:
            state.problems.append(Problem("π·", *reduced, reduction.group_names, reduction.lift))
            state.notify("dimensions", {"reduction": reduction.describe()})
    dropped = irrelevant_inputs(data.X_train, data.y_train, seed) if len(names) > 1 and options.screen_inputs else []
    if dropped:  # searched beside the full problem: a wrong drop costs time, never the law
        kept = [i for i in range(len(names)) if i not in dropped]
        state.problems.append(Problem("sel·", data.X_train[:, kept], data.y_train, [names[i] for i in kept],
                                      omitted=frozenset(make_symbols([names[i] for i in dropped]).values())))
        state.notify("screen", {"dropped": [names[i] for i in dropped]})

    def search_per_problem(problems: list[Problem]) -> None:
        for problem in problems:
            if not problem.names:  # every input is needed to carry the units: y = constant · s(x)
                consider([problem.lift(sp.Float(float(np.median(problem.y)), 15))], problem.tag + "constant")
                continue
            for arm in state.per_problem_arms():
                found = arm.propose(problem, state)
                consider([problem.lift(e) for e in found.expressions], problem.tag + arm.tag, arm)

    search_per_problem(state.problems)
    state.arms_run += state.per_problem_arms()
    for arm in arms:
        if arm.per_problem or not arm.applies(state):
            continue
        searched = len(state.problems)
        arm.run(state, consider)
        state.arms_run.append(arm)
        search_per_problem(state.problems[searched:])  # sub-problems an arm found (a network's symmetries)
    return _choice(state, dropped, choose_by, start)


def _choice(state: SearchState, dropped: list[int], choose_by: str, start: float) -> Discovery:
    """The chosen formula among every candidate and its rewrites, its test score, whether to trust it, and the
    findings."""
    data, names, options, candidates = state.data, state.names, state.options, state.candidates
    findings = list(state.findings)
    if not candidates:
        mean = sp.Float(float(np.mean(data.y_train)), 15)
        candidates.append(Candidate(mean, "constant", nmse(np.full_like(data.y_val, float(mean)), data.y_val), 1))
    tolerance = selection_tolerance(len(data.y_val))
    candidates += rewritten_candidates(candidates, data, names, tolerance, options.polish)
    candidates[:] = resolved_candidates(candidates, data, names, tolerance, options.polish)
    front = pareto_front(candidates)
    best = choose(candidates, tolerance, len(data.y_train), choose_by)
    for c in {id(c): c for c in [*front, best]}.values():  # the choice may tie a front member it does not beat
        c.test_r2 = r2_score(evaluate(c.expression, data.X_test, names), data.y_test)
    confident = best.test_r2 is not None and best.test_r2 >= options.confident_r2
    if confident:
        fitted_X, fitted_y = np.vstack([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val])
        ratio = edge_ratio(best.expression, fitted_X, fitted_y, names, options.edges)
        if ratio > options.edges.factor:
            confident = False
            findings.append(f"not confident: its constants refitted on the interior of the data miss the edges "
                            f"{ratio:.3g} times worse than the full fit (a smooth stand-in bends to the box it saw)")
    unused = [names[i] for i in dropped if make_symbols([names[i]])[names[i]] not in best.expression.free_symbols]
    if unused:
        findings.append(f"{', '.join(unused)} found not to matter (no importance beyond shuffled copies of the "
                        "columns) and left out of the formula")
    arms_run = [arm.name for arm in state.arms_run]
    return Discovery(best, front, confident, time.perf_counter() - start, names, arms_run, findings, candidates)
