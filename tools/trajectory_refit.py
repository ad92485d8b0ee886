"""Refine a discovered ODE system against the noisy trajectories themselves, not the estimated derivatives.

Derivatives estimated from noisy trajectories are biased where the smoother flattens peaks (constants off by
≈ 2 % on the Strogatz systems at σ = 1 %), and regression on them inherits the bias: constants miss the
3-significant-digit rule, and a more flexible formula can fit the biased targets better than the law does.
Here the system is integrated instead, by multiple shooting: each trajectory is cut into windows, and the
integrated windows are compared with the observations, each state weighted by its estimated noise (so the
residual sum of squares is in units of σ²). Least squares (scipy) fits the constants of every component and
every window's start state at once (starts from the smoothing spline; fixing them there biased the constants
by ≈ 1 % on Lotka–Volterra, measured), with a forward-difference Jacobian from one batched fixed-step RK4
integration (``rk4_path``). For each component, its Pareto-front candidates near the chosen one and sparse polynomial and
rational right-hand sides (``sparse_candidates``), and sums of terms of the other components' current formulas
(``_shared_candidates``), are compared by the Bayesian information criterion, then
constants snap to simple values (or to 0, dropping a term) where the criterion allows, and rival right-hand
sides snapped as well may replace the choice by description length. Data only: nothing here reads a ground
truth.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy import sparse
from scipy.integrate import cumulative_trapezoid
from scipy.optimize import least_squares

from tools.constants import evaluate, nice_values, normalise, parameterise
from tools.derived import edge_trim, noise_sigma, smooth_trajectories
from tools.results import Candidate
from tools.sparse import sparse_fits
from twin import Dataset
from twin.expressions import compile_expression, count_nodes, make_symbols

#: Integration steps per shooting window: long enough for the dynamics to show, short enough that chaotic
#: or stiff systems do not wander off (0.5 time units on the benchmark grids). At most: see ``window_steps``.
WINDOW_STEPS = 50
#: A window spans at most this many time scales of the fastest state, std(x)/rms(x′), and at least
#: MIN_WINDOW_STEPS steps (over 12 steps a constant right-hand side fitted the logistic law's trajectories to
#: 1.1σ² per value, measured at σ = 1 %: too short a window cannot tell structures apart).
WINDOW_TIME_SCALES = 6.0
MIN_WINDOW_STEPS = 20
#: Front candidates per component compared with the chosen one (the nearest in complexity).
CANDIDATES_PER_COMPONENT = 5
#: Only candidates whose derivative fit is within this factor of the best on the front are worth integrating.
CANDIDATE_NMSE_FACTOR = 4.0
MAX_EVALUATIONS = 40
#: Sparse polynomial right-hand sides per component compared as well (the sizes whose derivative fit comes
#: within POLYNOMIAL_RSS_FACTOR of the fullest one's, smallest first), at most POLYNOMIAL_TERMS monomials. The
#: factor is wide because the derivatives are biased: on ODEBench at σ = 1 % a cubic fitted the derivatives of
#: the linear law 0.32 − 0.6x with 1.5× less residual than the line.
POLYNOMIAL_CANDIDATES = 3
POLYNOMIAL_RSS_FACTOR = 3.0
#: The same for the integral form, whose residual is mostly the observation noise: a size that misses a term
#: shows as a small relative excess only.
INTEGRAL_RSS_FACTOR = 1.1
#: Distinct terms of a state's front formulas in the library that recombines them (``_front_terms``).
FRONT_TERMS = 24
#: Distinct terms of the other states' current formulas added to that library (``_shared_candidates``).
SHARED_TERMS = 8
#: Rational candidates per state, among the denominators whose fit comes within RATIONAL_RSS_SPREAD of the best.
RATIONAL_CANDIDATES = 2
RATIONAL_RSS_SPREAD = 1.2
POLYNOMIAL_TERMS = 6
#: Sweeps over the states: a state is tried again when a state after it changed (at most SWEEPS times in all). On
#: ODEBench 26 at σ = 1 %, with the derivative search's wrong x₀′ still in place, x₁′ = x₁(2 − x₀ − x₁) lost to a
#: five-term polynomial that made up for it; x₀′ became the law right after.
SWEEPS = 2
#: Snap refits per system; counted, not timed, so that a replay makes the same choices.
SNAP_TRIALS = 30
#: Rival right-hand sides per state compared with the chosen one after both are snapped.
RIVALS_PER_STATE = 2
#: How much larger (expression nodes) than the chosen formula a rival may be: one more constant term.
RIVAL_EXTRA_NODES = 2
#: Prior cost (in units of z²/2) of a snap to a value the system already holds: naming it again costs little.
REUSE_COST = 1.0
#: Description lengths closer than this (RSS in σ² with the same constants and priors: under 2σ² over every
#: observation) do not tell two snapped right-hand sides apart; the one of fewer nodes wins.
STRUCTURE_TIE = 2.0
#: Above this RSS/σ² per observation the refitted system does not reproduce the trajectories and is not used.
ADEQUATE_RSS = 1.5
#: Residual of a window that leaves the finite numbers, in units of σ.
BLOW_UP_RESIDUAL = 1e3


@dataclass
class Windows:
    """Shooting windows: initial start states (N, S) from the smoothing spline, observations after each step
    (N, W, S), noise σ per state."""

    t: np.ndarray
    starts: np.ndarray
    observed: np.ndarray
    scale: np.ndarray

    @property
    def n_observations(self) -> int:
        return int(self.observed.size)


def shooting_windows(data: Dataset, steps: int = WINDOW_STEPS) -> Windows:
    """Cut every trajectory into consecutive windows of ``steps`` steps (edges trimmed as for derivatives)."""
    smoothed, _, _ = smooth_trajectories(data)
    t, states = data.arrays["t"], data.arrays["states"]
    trim = edge_trim(data)
    starts = list(range(trim, len(t) - trim - steps, steps))
    if not starts:
        raise ValueError(f"trajectories of {len(t)} points are too short for shooting windows of {steps} steps")
    S = states.shape[-1]
    scale = np.array([noise_sigma(states[:, :, s].T) for s in range(S)])
    rms = np.sqrt(np.mean(states**2, axis=(0, 1)))
    return Windows(
        t=np.asarray(t[: steps + 1] - t[0], dtype=float),
        starts=np.concatenate([smoothed[:, i] for i in starts]).astype(float),
        observed=np.concatenate([states[:, i + 1: i + steps + 1] for i in starts]),
        scale=np.maximum(scale, 1e-9 * np.maximum(rms, 1e-300)),
    )


def window_steps(data: Dataset) -> int:
    """Shooting-window length for these trajectories: WINDOW_TIME_SCALES of the fastest state's time scale
    std(x)/rms(x′) on the smoothed data, between MIN_WINDOW_STEPS and WINDOW_STEPS steps.

    Why, measured at σ = 1 % on ODEBench 55 (Lorenz with ρ = 99.96, time scale 0.057 = 5.7 steps): its chosen
    system fits the trajectories to 0.98σ² per value over windows of 30–45 steps but stalls at 29σ² over 50
    (8.8 time scales), and fits of simpler structures stall there too; its refit never finished over 50 steps
    (74 min) and took 28 min over 34. ODEBench 59 (Rössler, 6.8 steps per time scale) gets 41 steps and refits to
    the same formulas as over 50; every other ODEBench and Strogatz system has over 9 and keeps WINDOW_STEPS.
    """
    smoothed, derivatives, _ = smooth_trajectories(data)
    trim = edge_trim(data)
    t = data.arrays["t"]
    scales = [np.std(smoothed[:, trim:-trim, s]) / rate for s in range(smoothed.shape[-1])
              if (rate := np.sqrt(np.mean(derivatives[:, trim:-trim, s] ** 2))) > 0]
    if not scales:  # every state constant
        return WINDOW_STEPS
    steps = WINDOW_TIME_SCALES * min(scales) / float(t[1] - t[0])
    return int(np.clip(round(steps), MIN_WINDOW_STEPS, WINDOW_STEPS))


def unfreeze(expr: sp.Expr) -> sp.Expr:
    """Exact coefficients become floats the trajectory fit may move (snapping later restores simple ones);
    exponents stay exact."""
    if not expr.free_symbols:  # a number, π·3/4 included: one float
        try:
            value = float(expr)
        except TypeError:  # zoo, nan: leave as found
            return expr
        return sp.Float(value, 15) if value != 0 and np.isfinite(value) else expr
    if isinstance(expr, sp.Mul):
        number, rest = expr.as_independent(*expr.free_symbols, as_Add=False)
        if number != 1:
            return unfreeze(number) * unfreeze(rest)
    if isinstance(expr, sp.Pow) and expr.exp.is_Number:
        return sp.Pow(unfreeze(expr.base), expr.exp)
    if expr.args:
        return expr.func(*[unfreeze(a) for a in expr.args])
    return expr


def _canonical(expr: sp.Expr) -> sp.Expr:
    """The canonical fraction of tools.constants.normalise, unless it blows up (> 1.5× the nodes)."""
    canonical = normalise(expr)
    return canonical if count_nodes(canonical) <= 1.5 * count_nodes(expr) + 2 else expr


def _free(expr: sp.Expr) -> sp.Expr:
    """``unfreeze`` then the canonical fraction, of the whole or else of each term: products of sums such as
    −2y(x/2 + y/2 − 1), or a term 7x₁/(6x₀ + 6/x₀) (sympy spreads the 6 of 6(x₀ + 1/x₀) over the sum), carry a
    redundant scale that leaves their constants unidentifiable. On ODEBench 42 the latter's three constants
    snapped one by one to 37/7 and 34/9 (twice), a ratio 1.3992 where the law has 7/5."""
    free = unfreeze(expr)
    whole = _canonical(free)
    if whole != free:
        return whole
    return sp.Add(*[_canonical(term) for term in sp.Add.make_args(free)])


@dataclass
class SystemFit:
    """Formulas with constants fitted to the trajectories; ``rss`` in units of the noise variance; ``priors``
    per state: the prior cost of the constants snapped in it (see ``_prior_cost``)."""

    formulas: dict[str, sp.Expr]
    rss: float
    n_constants: int
    stderr: dict[sp.Float, float] = field(default_factory=dict)
    priors: dict[str, float] = field(default_factory=dict)

    def bic(self, scale2: float, n: int) -> float:
        return self.rss / scale2 + self.n_constants * np.log(n)

    def description(self, scale2: float, n: int) -> float:
        """BIC plus twice the snapped values' prior cost: the score snapping lowers (a description length)."""
        return self.bic(scale2, n) + 2 * sum(self.priors.values())


def rk4_path(field: Callable[[np.ndarray], np.ndarray], start: np.ndarray, t: np.ndarray) -> np.ndarray:
    """States (len(t), *start.shape) of the autonomous ODE x′ = field(x) from ``start``, one RK4 step (the 3/8
    rule, as torchdiffeq's "rk4") per interval of the grid ``t``.

    Written out because the refit integrates a few hundred windows at a time without gradients: on ODEBench 42's
    shooting windows torchdiffeq took 1.5–2.1× as long for the same steps (torch's overhead per operation on
    small arrays; 73 against 35 ms per integration, measured). Agrees with it to ~1e-13 (libm against torch's pow and sin).
    """
    path = np.empty((len(t), *start.shape))
    path[0] = x = start
    for i, dt in enumerate(np.diff(t), start=1):
        k1 = field(x)
        k2 = field(x + dt * k1 * (1 / 3))
        k3 = field(x + dt * (k2 - k1 * (1 / 3)))
        k4 = field(x + dt * (k1 - k2 + k3))
        path[i] = x = x + (k1 + 3 * (k2 + k3) + k4) * dt * 0.125
    return path


class _System:
    """The right-hand sides with every float constant a parameter, integrable for a batch of parameter sets."""

    def __init__(self, formulas: Mapping[str, sp.Expr], windows: Windows):
        self.states = list(formulas)
        self.windows = windows
        self.templates: dict[str, sp.Expr] = {}
        self.symbols: list[sp.Symbol] = []
        values: list[float] = []
        for state, expr in formulas.items():
            template, symbols, start = parameterise(expr)
            renamed = [sp.Symbol(f"_k{len(self.symbols) + i}", real=True) for i in range(len(symbols))]
            self.templates[state] = template.xreplace(dict(zip(symbols, renamed)))
            self.symbols += renamed
            values += list(start)
        self.start = np.array(values, dtype=float)
        self.compiled = [compile_expression(self.templates[s]) for s in self.states]

    def integrate(self, thetas: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Integrate the windows from ``starts`` (P, N, S) under parameter sets ``thetas`` (P, k): residuals
        in σ units, (P, N, W, S)."""
        windows = self.windows
        P, N, S = starts.shape
        params = {s.name: np.repeat(thetas[:, i], N) for i, s in enumerate(self.symbols)}

        def field(x: np.ndarray) -> np.ndarray:
            values = {**params, **{s: x[:, i] for i, s in enumerate(self.states)}}
            columns = [np.broadcast_to(fn(values), (x.shape[0],)) for fn in self.compiled]
            return np.nan_to_num(np.stack(columns, axis=1), nan=0.0, posinf=1e150, neginf=-1e150)

        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = rk4_path(field, starts.reshape(P * N, S), windows.t)[1:].transpose(1, 0, 2)
        residual = (path.reshape(P, N, -1, S) - windows.observed) / windows.scale
        residual = np.where(np.isfinite(residual), residual, BLOW_UP_RESIDUAL)
        return np.clip(residual, -BLOW_UP_RESIDUAL, BLOW_UP_RESIDUAL)

    def formulas(self, theta: np.ndarray) -> dict[str, sp.Expr]:
        values = {s: sp.Float(v, 15) for s, v in zip(self.symbols, theta)}
        return {state: self.templates[state].xreplace(values) for state in self.states}


def fit_system(formulas: Mapping[str, sp.Expr], windows: Windows, max_evaluations: int = MAX_EVALUATIONS) -> SystemFit:
    """Least-squares fit of every float constant of the system and of every window's start state.

    The windows are independent, so one perturbed integration per state gives the derivatives with respect to
    that state's start in every window at once. The Jacobian takes forward differences from the residuals just
    computed at the same point, so it costs constants + states batched integrations (central differences cost
    twice that, and the Jacobian was three quarters of a refit's time: py-spy on ODEBench 42), and is sparse in
    the starts (scipy's trust-region solver with LSMR).
    """
    system = _System(formulas, windows)
    k = len(system.start)
    base = windows.starts
    N, S = base.shape
    W = windows.observed.shape[1]
    # Sparsity of the start block: window n's W·S residuals depend on its own start (n, j) only.
    start_rows = np.tile(np.arange(N * W * S), S)
    start_cols = np.concatenate([np.repeat(np.arange(N) * S + j, W * S) for j in range(S)])

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[:k], x[k:].reshape(N, S)

    last: dict[str, np.ndarray] = {}  # the point and residuals of the last evaluation: the differences' base

    def residuals(x: np.ndarray) -> np.ndarray:
        theta, starts = unpack(x)
        last["x"], last["residuals"] = x.copy(), system.integrate(theta[None, :], starts[None])[0].reshape(-1)
        return last["residuals"]

    def jacobian(x: np.ndarray) -> sparse.csr_matrix:
        base_residuals = last["residuals"] if np.array_equal(last.get("x"), x) else residuals(x)
        theta, starts = unpack(x)
        steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
        shifts = np.concatenate([np.diag(steps), np.zeros((S, k))])
        start_steps = 1e-6 * np.maximum(np.abs(starts), 1e-3)  # (N, S)
        moved = np.repeat(starts[None], k + S, axis=0)
        for j in range(S):
            moved[k + j, :, j] += start_steps[:, j]
        runs = system.integrate(theta[None, :] + shifts, moved).reshape(len(moved), -1) - base_residuals
        dense = (runs[:k] / steps[:, None]).T
        per_start = runs[k:].reshape(S, N, W * S) / start_steps.T[:, :, None]
        return sparse.hstack([sparse.csr_matrix(dense), sparse.csr_matrix(
            (per_start.reshape(-1), (start_rows, start_cols)), shape=(N * W * S, N * S))]).tocsr()

    fit = least_squares(residuals, np.concatenate([system.start, base.reshape(-1)]), jac=jacobian, method="trf",
                        tr_solver="lsmr", max_nfev=max_evaluations, x_scale="jac")
    rss = float(fit.fun @ fit.fun)
    theta = fit.x[:k]
    stderr: dict[sp.Float, float] = {}
    if k:
        covariance = _constant_covariance(fit.jac, k, S) * max(1.0, rss / max(1, len(fit.fun) - len(fit.x)))
        # A direction the data leave flat (a redundant scale) has no meaningful error: call it 100 %.
        stderr = {sp.Float(v, 15): float(np.sqrt(covariance[i, i])) if covariance[i, i] > 0 else abs(v) + 1.0
                  for i, v in enumerate(theta)}
    return SystemFit(system.formulas(theta), rss, k, stderr)


def _constant_covariance(jac: sparse.csr_matrix, k: int, S: int) -> np.ndarray:
    """(JᵀJ)⁻¹ restricted to the k constants, with the window starts profiled out: the Schur complement
    A − B·D⁻¹·Bᵀ, D being block-diagonal with one S×S block per window (a dense inverse of the whole
    information matrix took seconds for a few hundred windows)."""
    constants = jac[:, :k].toarray()
    starts = jac[:, k:]
    N = starts.shape[1] // S
    A = constants.T @ constants
    B = np.asarray((starts.T @ constants).T).reshape(k, N, S)
    D = (starts.T @ starts).tocsr()
    rows, cols = np.broadcast_arrays(np.arange(N)[:, None, None] * S + np.arange(S)[None, :, None],
                                     np.arange(N)[:, None, None] * S + np.arange(S)[None, None, :])
    blocks = np.asarray(D[rows.reshape(-1), cols.reshape(-1)]).reshape(N, S, S)
    schur = A - np.einsum("ans,nst,bnt->ab", B, np.linalg.pinv(blocks), B)
    return np.linalg.pinv(schur)


@dataclass
class Refinement:
    """The outcome: the refined formula per state and what was compared on the way."""

    formulas: dict[str, sp.Expr]
    rss: float
    rss_chosen: float
    n_observations: int
    trials: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    #: The residual variance per observation (in σ² units) the comparisons assumed: s² of BIC.
    scale2: float = 1.0
    adequate: bool = True
    #: Integration steps per shooting window.
    window_steps: int = WINDOW_STEPS

    def as_dict(self) -> dict:
        return {"formulas": {s: str(e) for s, e in self.formulas.items()}, "rss_over_sigma2": self.rss,
                "rss_chosen": self.rss_chosen, "observations": self.n_observations, "trials": self.trials,
                "seconds": self.seconds, "noise_scale2": self.scale2, "adequate": self.adequate,
                "window_steps": self.window_steps}


def _alternatives(front: Sequence[Candidate], chosen: Candidate) -> list[sp.Expr]:
    """The front's candidates worth integrating, nearest in complexity to the chosen one first."""
    best = min(c.val_nmse for c in front)
    plausible = [c for c in front if c.val_nmse <= CANDIDATE_NMSE_FACTOR * best + 1e-12 and c is not chosen]
    plausible.sort(key=lambda c: abs(c.complexity - chosen.complexity))
    return [c.expression for c in plausible[:CANDIDATES_PER_COMPONENT]]


def sparse_candidates(data: Dataset, steps: int | None = None,
                      fronts: Mapping[str, Sequence[Candidate]] | None = None) -> dict[str, list[sp.Expr]]:
    """Per state, sparse polynomial and rational right-hand sides over SINDy's library (the constant and every
    monomial of the states up to degree 3, or 2 with three or more states), each form fitted by
    tools.sparse.sparse_fits, one least-squares fit per number of terms; duplicates dropped:

    - differential: polynomials fitted to the spline derivatives; the POLYNOMIAL_CANDIDATES smallest sizes whose
      residual is within POLYNOMIAL_RSS_FACTOR of the fullest fit's;
    - integral (Schaeffer & McCalla 2017): polynomials fitted to the observed change x(t + Δ) − x(t) over a
      shooting window against the library's integrals over the smoothed states, Δ = ``steps`` steps
      (``window_steps(data)`` unless given); the
      smallest sizes within INTEGRAL_RSS_FACTOR of the fullest. The observed ends carry the noise unbiased,
      where the spline's derivative is flattened at peaks;
    - rational, in the same integral form: x′ = p(x)/(1 + d·m(x)) for a monomial m of degree ≤ 2 is linear in
      p and d as x′ = p(x) − d·m(x)·x′ (the implicit form of SINDy-PI, Kaheman et al. 2020), integrated as
      Δx = ∫p dt − d·∫m dx; per denominator the smallest size within INTEGRAL_RSS_FACTOR of its best, and
      of those the RATIONAL_CANDIDATES of fewest terms within RATIONAL_RSS_SPREAD of the best residual;
    - front terms, in the same integral form: sums of the additive terms of the state's ``fronts`` formulas
      (``_front_terms``), so that terms proposed in different formulas can meet. On Strogatz's shear flow at
      σ = 1 % the front held sin(x)/10 + 8x·cos²(y)/11 and sin(x)·sin(y)/10 + 11·sin(x)·cos²(y)/12, each one
      term from the law sin(x)/10 + 9·sin(x)·cos²(y)/10.

    Choosing among them by BIC on the integrated trajectories is the model selection of Mangan et al. (2017,
    SINDy with information criteria).

    Why, measured at σ = 1 %: a smoother feature often fits the biased derivatives better than the law does,
    and the derivative search's front then holds no polynomial at all (ODEBench: 0.32 − 0.6x came back as
    tanh(0.53/x)-shaped formulas, 2.1x − 0.5x² as exp(sin) ones); on ODEBench 26 the derivatives' best
    three-term fit of x₁(2 − x₀ − x₁) was −x₀x₁ − 0.2x₁³ + 1.3, where the integral form found the law's terms
    (over ODEBench's 75 polynomial components the true terms were among the differential candidates in 70,
    among these pooled ones in 72); and Strogatz's predator–prey x′ = x(4 − x − y/(1 + x)), which no front held,
    is the integral form's rational fit with denominator 1 + 0.95x.
    """
    return _proposals(_SparseForms(data, steps or window_steps(data)), fronts)


def _proposals(forms: _SparseForms, fronts: Mapping[str, Sequence[Candidate]] | None) -> dict[str, list[sp.Expr]]:
    """``sparse_candidates`` on the library ``forms``."""
    candidates = {}
    for column, state in enumerate(forms.names):
        found = forms.differential(column) + forms.integral(column) + forms.rational(column)
        if fronts:
            found += forms.recombined(column, _front_terms(fronts[state]))
        shapes = {}  # one candidate per set of terms: the same terms refit to the same trajectories
        for expr in found:
            shapes.setdefault(_shape(expr), expr)
        candidates[state] = list(shapes.values())
    return candidates


_COEFFICIENT = sp.Symbol("coefficient")


def _shape(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every float constant one symbol: the terms it is built of."""
    return expr.xreplace({f: _COEFFICIENT for f in expr.atoms(sp.Float)})


def _front_terms(front: Sequence[Candidate]) -> list[sp.Expr]:
    """The distinct additive terms of the front's formulas without their constant factors, at most FRONT_TERMS
    in front order; a formula is expanded first where that does not double its size ((x² − cos y)/x gives x and
    cos(y)/x)."""
    terms: list[sp.Expr] = []
    for candidate in front:
        expr = candidate.expression
        expanded = sp.expand(expr)
        terms += _additive_terms(expanded if count_nodes(expanded) <= 2 * count_nodes(expr) else expr)
    return list(dict.fromkeys(terms))[:FRONT_TERMS]


def _additive_terms(expr: sp.Expr) -> list[sp.Expr]:
    """The additive terms of ``expr`` that hold a symbol, without their constant factors (3/(4π) and the like)."""
    parts = (term.as_independent(*term.free_symbols, as_Add=False)[1] for term in sp.Add.make_args(expr))
    return [part for part in parts if part.free_symbols]


def _shared_candidates(forms: _SparseForms, state: str, formulas: Mapping[str, sp.Expr]) -> list[sp.Expr]:
    """Sparse sums (``_SparseForms.recombined``) of the states themselves and of at most SHARED_TERMS additive
    terms of the other states' expanded ``formulas`` (a rational's numerator terms each over its denominator).

    The states of a system often exchange one flux: on ODEBench 42 at σ = 1 %, x₀′ = 8.9 − x₀ − 4x₀x₁/(1 + x₀²)
    was found, and x₁′ = 1.4x₀ − 1.4x₀x₁/(1 + x₀²) holds one of its terms, which neither x₁'s front nor the
    monomial library could write (the rational form's best fit of that structure left 1.3× the residual of a
    cubic polynomial's). The other states' formulas change during the refit, so this is asked at each state's
    turn.
    """
    states = [m for p, m in zip(forms.powers, forms.monomials) if len(p) == 1]
    others = [t for s, f in formulas.items() if s != state for t in _additive_terms(sp.expand(f))]
    shared = [term for term in dict.fromkeys(others) if term not in states][:SHARED_TERMS]
    return forms.recombined(forms.names.index(state), [*states, *shared]) if shared else []


class _SparseForms:
    """The monomial library on the smoothed trajectories, pointwise and integrated over shooting windows; one
    method per form of ``sparse_candidates``."""

    def __init__(self, data: Dataset, window_steps: int):
        self.smoothed, self.derivatives, _ = smooth_trajectories(data)
        self.states, self.t = data.arrays["states"], data.arrays["t"]
        t = self.t
        self.trim = edge_trim(data)
        self.names = names = list(data.input_names)
        symbols = [make_symbols(names)[n] for n in names]
        degree = 3 if len(names) <= 2 else 2
        # The constant is a term of the library, the empty product, so that a sparse fit may leave it out: with
        # an intercept always in, the logistic law 1.8x − 0.11x² was proposed only as 0.29 + 1.72x − 0.107x²
        # (ODEBench 12 at σ = 1 %).
        self.powers = [p for d in range(degree + 1)
                       for p in itertools.combinations_with_replacement(range(len(names)), d)]
        self.monomials = [sp.Mul(*(symbols[i] for i in p)) for p in self.powers]
        library = np.stack([np.prod(self.smoothed[..., list(p)], axis=-1) for p in self.powers], axis=-1)  # (B,T,F)
        self.pointwise = library[:, self.trim:-self.trim].reshape(-1, len(self.powers))
        self.window_steps = window_steps
        self.starts = np.arange(self.trim, max(self.trim, len(t) - self.trim - window_steps))
        self.spans = self._over_windows(cumulative_trapezoid(library, t, axis=1, initial=0))
        self.max_terms = min(POLYNOMIAL_TERMS + 1, len(self.powers))  # the monomials and the constant

    def _over_windows(self, cumulative: np.ndarray) -> np.ndarray:
        """(B, T, F) running integrals → (windows, F) integrals over each shooting window."""
        ends = cumulative[:, self.starts + self.window_steps] - cumulative[:, self.starts]
        return ends.reshape(len(self.starts) * len(self.states), -1)

    def _changes(self, column: int) -> np.ndarray:
        observed = self.states[..., column]
        return (observed[:, self.starts + self.window_steps] - observed[:, self.starts]).reshape(-1)

    def _polynomial(self, coefficients: np.ndarray, terms: Sequence[sp.Expr] | None = None) -> sp.Expr:
        """Σ coefficient·term over the library (the monomials unless ``terms``); coefficients beyond the terms (a
        rational's denominator) are left out."""
        terms = self.monomials if terms is None else terms
        return sp.Add(*(sp.Float(coefficients[i], 15) * terms[i] for i in np.flatnonzero(coefficients[:len(terms)])))

    def differential(self, column: int) -> list[sp.Expr]:
        derivative = self.derivatives[:, self.trim:-self.trim, column].reshape(-1)
        fits = sparse_fits(self.pointwise, derivative, self.max_terms, intercept=False)
        return [self._polynomial(c) for c, _ in
                _adequate(fits, self.pointwise, derivative, POLYNOMIAL_RSS_FACTOR)[:POLYNOMIAL_CANDIDATES]]

    def integral(self, column: int) -> list[sp.Expr]:
        if not len(self.starts):
            return []
        changes = self._changes(column)
        fits = sparse_fits(self.spans, changes, self.max_terms, intercept=False)
        return [self._polynomial(c) for c, _ in
                _adequate(fits, self.spans, changes, INTEGRAL_RSS_FACTOR)[:POLYNOMIAL_CANDIDATES]]

    def recombined(self, column: int, terms: Sequence[sp.Expr]) -> list[sp.Expr]:
        """Sparse sums of ``terms`` (finite and not constant on the smoothed states) and a constant, fitted in the
        integral form."""
        if not len(self.starts) or not terms:
            return []
        flat = self.smoothed.reshape(-1, len(self.names))
        usable, columns = [sp.Integer(1)], [np.ones(self.smoothed.shape[:2])]
        for term in terms:
            values = evaluate(term, flat, self.names)
            if np.isfinite(values).all() and np.ptp(values) > 0:
                usable.append(term)
                columns.append(values.reshape(self.smoothed.shape[:2]))
        if len(usable) == 1:  # the constant alone
            return []
        library = np.stack(columns, axis=-1)
        spans = self._over_windows(cumulative_trapezoid(library, self.t, axis=1, initial=0))
        changes = self._changes(column)
        fits = sparse_fits(spans, changes, min(POLYNOMIAL_TERMS + 1, len(usable)), intercept=False)
        return [self._polynomial(c, usable) for c, _ in
                _adequate(fits, spans, changes, INTEGRAL_RSS_FACTOR)[:POLYNOMIAL_CANDIDATES]]

    def rational(self, column: int) -> list[sp.Expr]:
        if not len(self.starts):
            return []
        changes, F = self._changes(column), len(self.powers)
        increments = np.diff(self.smoothed[..., column], axis=1)
        proposals = []
        for p, monomial in zip(self.powers, self.monomials):
            if not p or len(p) > 2:  # 1 + d is no denominator: it only rescales the numerator
                continue
            factor = np.prod(self.smoothed[..., list(p)], axis=-1)
            stieltjes = np.concatenate([np.zeros((len(factor), 1)), np.cumsum(
                0.5 * (factor[:, 1:] + factor[:, :-1]) * increments, axis=1)], axis=1)  # ∫ m dx
            features = np.column_stack([self.spans, -self._over_windows(stieltjes[..., None])])
            fits = [c for c in sparse_fits(features, changes, self.max_terms + 1, intercept=False) if c[F]]
            # a denominator that vanishes where the data live is no law for them
            fits = [c for c in fits if np.min(1 + c[F] * factor) > 0]
            for c, rss in _adequate(fits, features, changes, INTEGRAL_RSS_FACTOR)[:1]:
                proposals.append((rss, np.count_nonzero(c),
                                  self._polynomial(c) / (1 + sp.Float(c[F], 15) * monomial)))
        if not proposals:
            return []
        best = min(rss for rss, *_ in proposals)
        hopeful = sorted((p for p in proposals if p[0] <= RATIONAL_RSS_SPREAD * best), key=lambda p: (p[1], p[0]))
        return [expr for *_, expr in hopeful[:RATIONAL_CANDIDATES]]


def _adequate(fits: Sequence[np.ndarray], features: np.ndarray, y: np.ndarray,
              factor: float) -> list[tuple[np.ndarray, float]]:
    """The sparse fits (coefficients of the features) whose residual is within ``factor`` of the least, with it."""
    scored = [(c, float(np.sum((features @ c - y) ** 2))) for c in fits]
    least = min((rss for _, rss in scored), default=np.inf)
    return [(c, rss) for c, rss in scored if rss <= factor * least]


def refine_system(
    data: Dataset,
    fronts: Mapping[str, Sequence[Candidate]],
    chosen: Mapping[str, Candidate],
    steps: int | None = None,
    progress: Callable[[str, dict], None] | None = None,
) -> Refinement:
    """Re-choose and refit each state's formula against the trajectories ``data`` (noisy ODE data).

    ``fronts`` and ``chosen`` come from discovering each state's derivative (tools.symbolic.discover); each
    state's front candidates, ``sparse_candidates`` and ``_shared_candidates`` are tried in turn, the state of
    the largest chosen formula first, and a state once more (with its derivative choice) where a state after it changed. The system that minimises
    BIC = RSS/s² + k·ln n wins, s² being the least residual variance of the systems fitted (1 when one fits to the
    noise);
    then its constants are snapped (``_snap``) and rival right-hand sides compared after snapping
    (``_rival_structures``). The work is bounded by counts (CANDIDATES_PER_COMPONENT, SWEEPS, SNAP_TRIALS,
    RIVALS_PER_STATE, MAX_EVALUATIONS per fit), not by the clock; ``progress`` hears of every fit (and may
    raise to stop the refinement). ``steps`` per shooting window: ``window_steps(data)`` unless given.
    """
    start = time.perf_counter()
    notify = progress or (lambda stage, info: None)
    if data.kind != "ode":
        raise ValueError(f"dataset of twin {data.twin!r} is {data.kind}, not ODE trajectories")
    if list(chosen) != list(data.input_names):
        raise ValueError(f"give one formula per state {data.input_names}, got {list(chosen)}")
    steps = steps or window_steps(data)
    windows = shooting_windows(data, steps)
    n = windows.n_observations
    current = _try_fit({s: _free(c.expression) for s, c in chosen.items()}, windows)
    if current is None:
        raise ValueError("the chosen system cannot be integrated through the shooting windows")
    scale2 = max(1.0, current.rss / max(1, n - current.n_constants))
    rss_chosen = current.rss
    trials: list[dict] = []
    # Every integrable right-hand side tried, with the RSS of its system: the rivals of the final choice.
    tried = {state: {str(c.expression): (current.rss, _free(c.expression))} for state, c in chosen.items()}
    in_use = {state: str(c.expression) for state, c in chosen.items()}
    forms = _SparseForms(data, steps)
    proposed = _proposals(forms, fronts)
    # The state whose chosen formula is largest first: every fit integrates the whole system, and while a
    # 125-node right-hand side with a dozen constants stood, each alternative of the other state took 10–30 s
    # (Strogatz's bacterial respiration at σ = 1 %: 545 s of refit, 92 s once it was replaced first; same formulas).
    queue = sorted(data.input_names, key=lambda s: -count_nodes(chosen[s].expression))
    options = {s: [chosen[s].expression, *_alternatives(fronts[s], chosen[s]), *proposed[s]] for s in queue}
    shapes = {s: {_shape(e) for e in options[s]} for s in queue}
    for sweep in range(1, SWEEPS + 1):
        last_change = -1
        for position, state in enumerate(queue):
            shared = [e for e in _shared_candidates(forms, state, current.formulas)
                      if _shape(e) not in shapes[state]]
            shapes[state] |= {_shape(e) for e in shared}
            options[state] += shared  # and tried again with the others in a later sweep
            for alternative in options[state]:
                if str(alternative) == in_use[state]:
                    continue
                notify("trajectory_refit", {"state": state, "candidate": str(alternative)})
                trial = _try_fit({**current.formulas, state: _free(alternative)}, windows)
                if trial is not None:
                    # s² is the least residual variance of any system fitted: a first fit that did not converge
                    # (ODEBench 55: RSS 29σ² per value) would otherwise make every later comparison lenient.
                    scale2 = max(1.0, min(scale2, trial.rss / max(1, n - trial.n_constants)))
                better = bool(trial is not None and trial.bic(scale2, n) < current.bic(scale2, n))
                trials.append({"state": state, "formula": str(alternative), "sweep": sweep, "accepted": better,
                               "rss": None if trial is None else trial.rss,
                               "constants": None if trial is None else trial.n_constants})
                if trial is not None:
                    tried[state][str(alternative)] = (trial.rss, _free(alternative))
                if better:
                    current, in_use[state], last_change = trial, str(alternative), position
        # A state refined before another one changed chose beside that one's old formula: it is tried again.
        queue = queue[:max(last_change, 0)]
    seconds = lambda: time.perf_counter() - start  # noqa: E731
    if current.rss > ADEQUATE_RSS * n:
        # The integrated system does not reproduce the trajectories: its fit cannot judge constants (an inflated
        # s² would let every term snap to 0), so the derivative-based formulas stand.
        formulas = {s: c.expression for s, c in chosen.items()}
        return Refinement(formulas, current.rss, rss_chosen, n, trials, seconds(), scale2, adequate=False,
                          window_steps=steps)
    current = _snap(current, windows, scale2, notify)
    rivals = {state: [fit for text, fit in tried[state].items() if text != in_use[state]] for state in tried}
    current = _rival_structures(current, rivals, windows, scale2, notify, trials)
    return Refinement(current.formulas, current.rss, rss_chosen, n, trials, seconds(), scale2, window_steps=steps)


def _rival_structures(current: SystemFit, rivals: Mapping[str, Sequence[tuple[float, sp.Expr]]], windows: Windows,
                      scale2: float, notify: Callable[[str, dict], None], trials: list[dict]) -> SystemFit:
    """Compare the snapped system with rival right-hand sides snapped as well, by description length.

    BIC with fitted floats cannot tell two structures that fit equally well apart, but snapping can: on ODEBench
    26 at σ = 1 %, −x₀x₁ − 0.2x₁³ + 0.37x₁ + 0.86 fitted the trajectories as well as the law x₁(2 − x₀ − x₁)
    with the same number of constants, was chosen first, and snapped to 1/5, 7/20, 9/10 where the law snaps to
    integers. A rival can only win if its RSS alone (every constant snapped at no cost) is below the snapped
    system's score, and it may not be larger than the chosen formula by more than RIVAL_EXTRA_NODES (the
    description length counts constants, not structure: on ODEBench 6 a 20-node exp-of-sine step function with
    one free constant beat the law 21x/10 − x²/2 by it). Of those, the RIVALS_PER_STATE of least BIC (their RSS
    and own constants) per state are refitted in the snapped system, snapped, and replace the state's formula
    where their description length is lower, or within STRUCTURE_TIE where they are smaller: on ODEBench 54 at
    σ = 1 %, 5.1(x₁ − x₀) − 5.1/x₂⁴ (the term's constant tied to the law's, so BIC charged nothing for it) fitted
    the trajectories 1.3σ² better than the law, by chance. ``rivals``: per state, the right-hand sides tried and
    not chosen, with the RSS of the system they were fitted in.
    """
    n = windows.n_observations
    for state in current.formulas:
        score, nodes = current.description(scale2, n), count_nodes(current.formulas[state])
        hopeful = sorted((fit for fit in rivals[state] if count_nodes(fit[1]) <= nodes + RIVAL_EXTRA_NODES and
                          fit[0] / scale2 < score + (count_nodes(fit[1]) < nodes) * STRUCTURE_TIE),
                         key=lambda fit: fit[0] / scale2 + len(parameterise(fit[1])[1]) * np.log(n))
        for _, expr in hopeful[:RIVALS_PER_STATE]:
            notify("trajectory_refit", {"state": state, "rival": str(expr)})
            fitted = _try_fit({**current.formulas, state: expr}, windows)
            if fitted is None:
                continue
            fitted.priors = {s: p for s, p in current.priors.items() if s != state}
            rival = _snap(fitted, windows, scale2, notify)
            smaller = count_nodes(rival.formulas[state]) < count_nodes(current.formulas[state])
            better = bool(rival.description(scale2, n) < current.description(scale2, n) + smaller * STRUCTURE_TIE)
            trials.append({"state": state, "formula": str(expr), "rss": rival.rss, "constants": rival.n_constants,
                           "rival": True, "snapped": str(rival.formulas[state]), "accepted": better})
            if better:
                current = rival
    return current


def _try_fit(formulas: Mapping[str, sp.Expr], windows: Windows) -> SystemFit | None:
    """``fit_system``, or None where a formula cannot be integrated (an unsupported function, a singular fit)."""
    try:
        return fit_system(formulas, windows)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, np.linalg.LinAlgError):
        return None


def _prior_cost(value: sp.Expr) -> float:
    """How unlikely a snap value is a priori, in units of z²/2, by what it takes to write it down: integers are
    free; a terminating decimal costs by its significant digits (0.5, 0.04: 1; 0.64, 3.1, 0.075: 2.25; 0.886,
    1.67: 3.5), other fractions by their denominator (thirds 2; 1/8, 4/9: 3; sevenths, elevenths 4; else 4.5);
    forms with π or roots by their size.

    Measured on ODEBench at σ = 1 % (trajectory fits pin constants to 0.1–1 %): with every denominator ≤ 12
    cheaper than any hundredth, 3.1 snapped to 34/11 and 0.64 to 7/11, each within 1–2 standard errors;
    costing decimals by their digits keeps those as written, while 1/2 and 5/3 still win over 0.493 and
    1.67 when the data cannot tell them apart.
    """
    if value.is_Integer:
        return 0.0
    if value.is_Rational:
        q, digits = int(value.q), _significant_digits(value)
        by_denominator = 2.0 if q == 3 else 3.0 if q in (4, 6, 8, 9, 12) else 4.0 if q <= 12 else 4.5
        return by_denominator if digits is None else min(by_denominator, 1.0 + 1.25 * (digits - 1))
    return 2.0 + count_nodes(value)


def _significant_digits(value: sp.Rational) -> int | None:
    """Significant digits of ``value`` written as a decimal (3/40 = 0.075: 2), or None where it does not terminate."""
    twos = fives = 0
    rest = int(value.q)
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return None
    mantissa = abs(int(value.p)) * 10 ** max(twos, fives) // int(value.q)
    return len(str(mantissa).rstrip("0"))


def _roundings(value: float) -> set[sp.Rational]:
    """``value`` rounded to one and two significant digits, as exact rationals."""
    if value == 0 or not np.isfinite(value):
        return set()
    exponent = int(np.floor(np.log10(abs(value))))
    return {sp.Rational(round(value / 10.0**(exponent - d))) * sp.Rational(10) ** (exponent - d) for d in (0, 1)}


def _snap(current: SystemFit, windows: Windows, scale2: float, notify: Callable[[str, dict], None]) -> SystemFit:
    """Greedy snapping: each constant may become 0 (dropping its term), one of its three nearest simple values,
    its roundings to one and two significant digits (0.0749 → 0.07, 3/40; safe here: trajectory fits pin
    constants far tighter than the derivative fits that tools.constants.snap works with), or a value already
    snapped elsewhere in the system, at a low prior cost. Across all constants, the option of least
    prior cost + z²/2 (z: distance in standard errors) is tried first; it is kept when the refit lowers
    BIC by more than twice its prior cost (the description-length view: a snapped constant saves ln(n)/2 and
    costs its prior and its misfit). A constant no simple value fits stays a fitted float.

    Measured on ODEBench at σ = 1 %: accepting any snap that lowers BIC let 0.886 become 8/9 3.6 standard errors
    away; offering 3-digit roundings instead kept 0.886 but turned −1 into −0.997 where the fit was 3 standard
    errors off (Lotka–Volterra-type ODEBench 26).

    Correlated constants make the order matter: logistic growth fitted as 2.07x − 0.493x², each ± 1 %,
    must snap 0.493 → 1/2 first, after which only 21/10 fits the other; snapping the nearer 207/100 first
    would leave 0.493 pinned where no simple value fits. Options beyond √(2·ln n) standard errors are not
    integrated: BIC rejects a snap that costs more than ln n in RSS/s², i.e. beyond √(ln n) standard errors,
    and the margin covers the refit of the others.
    """
    n = windows.n_observations
    reach = np.sqrt(2 * np.log(n))
    failed: set[tuple[str, sp.Expr]] = set()
    trials = 0
    while trials < SNAP_TRIALS:
        options = []
        reusable = {abs(r) for e in current.formulas.values() for r in e.atoms(sp.Rational) if not r.is_Integer}
        # A fitted constant that sympy folded into another on substitution is written nowhere and cannot be snapped.
        written = {f for e in current.formulas.values() for f in e.atoms(sp.Float)}
        for constant, error in ((c, e) for c, e in current.stderr.items() if c in written):
            value = float(constant)
            reused = {r if value > 0 else -r for r in reusable}
            for option in {sp.Integer(0), *nice_values(value)[:3], *_roundings(value), *reused}:
                z = abs(float(option) - value) / max(error, 1e-300)
                if z <= reach and (f"{value:.3g}", option) not in failed:
                    prior = min(REUSE_COST, _prior_cost(option)) if option in reused else _prior_cost(option)
                    options.append((prior + z**2 / 2, str(option), constant, option, prior))
        for *_, constant, option, prior in sorted(options, key=lambda o: o[:2]):
            if trials >= SNAP_TRIALS:
                break
            notify("trajectory_refit", {"snap": str(constant), "to": str(option)})
            trial, trials = _try_fit({s: e.xreplace({constant: option}) for s, e in current.formulas.items()},
                                     windows), trials + 1
            if trial is not None and trial.bic(scale2, n) + 2 * prior < current.bic(scale2, n):
                owner = next(s for s, e in current.formulas.items() if e.has(constant))
                trial.priors = {**current.priors, owner: current.priors.get(owner, 0.0) + prior}
                current = trial
                break
            failed.add((f"{float(constant):.3g}", option))
        else:
            break
    return current
