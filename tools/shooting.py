"""Multiple shooting for an ODE system's right-hand sides: trajectories cut into windows, every window integrated
by one batched fixed-step RK4 (``rk4_path``), and the constants of every component and every window's start state
fitted at once by least squares against the observations, in units of each state's noise (``fit_system``)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy import sparse
from scipy.optimize import least_squares

from tools.constants import normalise, parameterise
from tools.derived import edge_trim, noise_sigma, smooth_trajectories
from tools.refit_options import DEFAULT, RefitOptions
from twin import Dataset
from twin.expressions import compile_expression, count_nodes


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


def shooting_windows(data: Dataset, steps: int = DEFAULT.window_steps) -> Windows:
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


def window_steps(data: Dataset, options: RefitOptions = DEFAULT) -> int:
    """Shooting-window length for these trajectories: ``options.window_time_scales`` of the fastest state's time
    scale std(x)/rms(x′) on the smoothed data, between ``options.min_window_steps`` and ``options.window_steps``.

    Why, measured at σ = 1 % on ODEBench 55 (Lorenz with ρ = 99.96, time scale 0.057 = 5.7 steps): its chosen
    system fits the trajectories to 0.98σ² per value over windows of 30–45 steps but stalls at 29σ² over 50
    (8.8 time scales), and fits of simpler structures stall there too; its refit never finished over 50 steps
    (74 min) and took 28 min over 34. ODEBench 59 (Rössler, 6.8 steps per time scale) gets 41 steps and refits to
    the same formulas as over 50; every other ODEBench and Strogatz system has over 9 and keeps ``options.window_steps``.
    """
    smoothed, derivatives, _ = smooth_trajectories(data)
    trim = edge_trim(data)
    t = data.arrays["t"]
    scales = [np.std(smoothed[:, trim:-trim, s]) / rate for s in range(smoothed.shape[-1])
              if (rate := np.sqrt(np.mean(derivatives[:, trim:-trim, s] ** 2))) > 0]
    if not scales:  # every state constant
        return options.window_steps
    steps = options.window_time_scales * min(scales) / float(t[1] - t[0])
    return int(np.clip(round(steps), options.min_window_steps, options.window_steps))


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


def free(expr: sp.Expr) -> sp.Expr:
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
    per state: the prior cost of the constants snapped in it (see ``prior_cost``)."""

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

    def __init__(self, formulas: Mapping[str, sp.Expr], windows: Windows, blow_up: float):
        self.states = list(formulas)
        self.windows = windows
        self.blow_up = blow_up  # the residual of a window that leaves the finite numbers, in σ
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
        residual = np.where(np.isfinite(residual), residual, self.blow_up)
        return np.clip(residual, -self.blow_up, self.blow_up)

    def formulas(self, theta: np.ndarray) -> dict[str, sp.Expr]:
        values = {s: sp.Float(v, 15) for s, v in zip(self.symbols, theta)}
        return {state: self.templates[state].xreplace(values) for state in self.states}


def fit_system(formulas: Mapping[str, sp.Expr], windows: Windows, options: RefitOptions = DEFAULT) -> SystemFit:
    """Least-squares fit of every float constant of the system and of every window's start state.

    The windows are independent, so one perturbed integration per state gives the derivatives with respect to
    that state's start in every window at once. The Jacobian takes forward differences from the residuals just
    computed at the same point, so it costs constants + states batched integrations (central differences cost
    twice that, and the Jacobian was three quarters of a refit's time: py-spy on ODEBench 42), and is sparse in
    the starts (scipy's trust-region solver with LSMR).
    """
    system = _System(formulas, windows, options.blow_up_residual)
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
                        tr_solver="lsmr", max_nfev=options.max_evaluations, x_scale="jac")
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


def try_fit(formulas: Mapping[str, sp.Expr], windows: Windows, options: RefitOptions = DEFAULT) -> SystemFit | None:
    """``fit_system``, or None where a formula cannot be integrated (an unsupported function, a singular fit)."""
    try:
        return fit_system(formulas, windows, options)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, np.linalg.LinAlgError):
        return None


def prior_cost(value: sp.Expr) -> float:
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
