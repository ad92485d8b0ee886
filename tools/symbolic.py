"""Symbolic discovery: from (X, y) to a Pareto front of verified candidate formulas.

Arms propose structure (a signed power-law fit in log space, sparse regression over a feature
library, pyoperon genetic programming); every proposal is refitted, normalised, snapped to simple
constants, domain-checked and scored on validation data the arms never saw. Data only: nothing here
reads a twin's ground truth.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sklearn.linear_model import OrthogonalMatchingPursuit

from tools.constants import evaluate, nmse, normalise, refit, snap
from twin.expressions import count_nodes, make_symbols, parse_expression, to_text

Progress = Callable[[str, dict], None]
ARMS = ("powerlaw", "exponential", "sparse", "operon")
CONFIDENT_R2 = 0.99
#: Validation NMSE at which noiseless data is explained to machine precision: the search stops.
EXACT_NMSE = 1e-20
#: Validation NMSE differences below this count as ties when choosing the simplest formula.
TIE_NMSE = 1e-10


@dataclass
class Candidate:
    """A formula with its scores; ``text`` reads back through the safe parser."""

    expression: sp.Expr
    source: str
    val_nmse: float
    complexity: int
    test_r2: float | None = None

    @property
    def text(self) -> str:
        return to_text(self.expression)

    def as_dict(self) -> dict:
        return {"formula": self.text, "latex": sp.latex(self.expression), "source": self.source,
                "val_nmse": self.val_nmse, "complexity": self.complexity, "r2_test": self.test_r2}


@dataclass
class Discovery:
    """The outcome of a search: the chosen candidate, the Pareto front, and whether to trust it."""

    best: Candidate
    pareto: list[Candidate]
    confident: bool
    seconds: float
    input_names: list[str]
    arms_run: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"formula": self.best.text, "latex": sp.latex(self.best.expression),
                "r2_test": self.best.test_r2, "complexity": self.best.complexity,
                "confident": self.confident, "seconds": self.seconds, "arms": self.arms_run,
                "pareto": [c.as_dict() for c in self.pareto]}


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split(X: np.ndarray, y: np.ndarray, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Split:
    """Seeded train/validation/test split."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(fractions[0] * len(y))
    n_val = int(fractions[1] * len(y))
    a, b, c = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    return Split(X[a], y[a], X[b], y[b], X[c], y[c])


def r2_score(prediction: np.ndarray, target: np.ndarray) -> float:
    return 1.0 - nmse(prediction, target)


# --- arms ----------------------------------------------------------------------------------------

def powerlaw_arm(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """y = c·Π x_i^a_i fitted in log space, with the sign of y explained by a product of input signs."""
    if (y == 0).any() or (X == 0).any() or X.shape[1] > 10:
        return []
    symbols = make_symbols(names)
    signs_y = np.sign(y)
    signs_x = np.sign(X)
    for subset_size in range(X.shape[1] + 1):
        for subset in itertools.combinations(range(X.shape[1]), subset_size):
            product = np.prod(signs_x[:, list(subset)], axis=1) if subset else np.ones(len(y))
            overall = np.sign(np.mean(product * signs_y))
            if overall != 0 and np.mean(product * overall == signs_y) > 0.995:
                return _powerlaw_fit(X, y, names, symbols, set(subset), overall)
    return []


def _powerlaw_fit(X, y, names, symbols, odd: set[int], overall: float) -> list[sp.Expr]:
    design = np.column_stack([np.ones(len(y)), np.log(np.abs(X))])
    coefficients, *_ = np.linalg.lstsq(design, np.log(np.abs(y)), rcond=None)
    factors = []
    for i, exponent in enumerate(coefficients[1:]):
        rounded = sp.Rational(round(exponent * 2), 2)
        symbol = symbols[names[i]]
        if abs(rounded) < 1e-12 and i not in odd:
            continue
        if rounded.is_integer and (int(rounded) % 2 == 1) == (i in odd):
            factors.append(symbol**rounded)
        elif i in odd:
            factors.append(sp.sign(symbol) * sp.Abs(symbol) ** sp.Float(exponent, 6))
        else:
            factors.append(sp.Abs(symbol) ** sp.Float(exponent, 6) if not rounded.is_integer else symbol**rounded)
    scale = sp.Float(overall * np.exp(coefficients[0]), 15)
    return [scale * sp.Mul(*factors)]


def exponential_arm(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """y = ±exp(g(X)) with g sparse over the feature library, fitted to log|y| (Gaussians, Boltzmann
    factors, growth laws)."""
    if (y == 0).any() or abs(np.mean(np.sign(y))) < 0.995:
        return []
    sign = float(np.sign(np.mean(y)))
    return [sign * sp.exp(g) for g in sparse_arm(X, np.log(np.abs(y)), names, max_terms=4)]


def _feature_library(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[sp.Expr]]:
    symbols = [make_symbols(names)[n] for n in names]
    columns, terms = [], []

    def add(values: np.ndarray, term: sp.Expr) -> None:
        if np.isfinite(values).all() and np.std(values) > 1e-12:
            columns.append(values)
            terms.append(term)

    for i, s in enumerate(symbols):
        x = X[:, i]
        add(x, s)
        add(x**2, s**2)
        add(x**3, s**3)
        with np.errstate(all="ignore"):
            if (np.abs(x) > 1e-9).all():
                add(1 / x, 1 / s)
                add(1 / x**2, 1 / s**2)
            if (x > 0).all():
                add(np.sqrt(x), sp.sqrt(s))
                add(np.log(x), sp.log(s))
            add(np.sin(x), sp.sin(s))
            add(np.cos(x), sp.cos(s))
            if np.abs(x).max() < 30:
                add(np.exp(x), sp.exp(s))
                add(np.exp(-x), sp.exp(-s))
    for (i, a), (j, b) in itertools.combinations(enumerate(symbols), 2):
        add(X[:, i] * X[:, j], a * b)
        with np.errstate(all="ignore"):
            if (np.abs(X[:, j]) > 1e-9).all():
                add(X[:, i] / X[:, j], a / b)
            if (np.abs(X[:, i]) > 1e-9).all():
                add(X[:, j] / X[:, i], b / a)
    return np.column_stack(columns) if columns else np.empty((len(X), 0)), terms


def sparse_arm(X: np.ndarray, y: np.ndarray, names: list[str], max_terms: int = 6) -> list[sp.Expr]:
    """Sparse linear regression (orthogonal matching pursuit) over a library of features."""
    features, terms = _feature_library(X, names)
    if not terms:
        return []
    scale = features.std(axis=0)
    proposals = []
    for k in range(1, min(max_terms, len(terms)) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = OrthogonalMatchingPursuit(n_nonzero_coefs=k).fit(features / scale, y)
        coefficients = model.coef_ / scale
        expr = sp.Float(model.intercept_, 15) + sum(
            (sp.Float(c, 15) * t for c, t in zip(coefficients, terms) if c != 0), sp.Integer(0))
        proposals.append(expr)
    return proposals


OPERON_SYMBOLS = ("add,sub,mul,div,constant,variable",
                  "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,tanh")


def operon_arm(X: np.ndarray, y: np.ndarray, names: list[str], seconds: float, seed: int,
               symbols: str = OPERON_SYMBOLS[0]) -> list[sp.Expr]:
    """pyoperon genetic programming with MSE model selection; returns its whole Pareto front."""
    from pyoperon.sklearn import SymbolicRegressor  # heavy import, only when this arm runs

    regressor = SymbolicRegressor(
        allowed_symbols=symbols, model_selection_criterion="mean_squared_error",
        objectives=["r2", "length"], max_length=30, population_size=1000, generations=1000,
        max_evaluations=1_000_000, n_threads=1, random_state=seed, max_time=max(1, int(seconds)),
    )
    regressor.fit(X, y)
    placeholder = [f"X{i + 1}" for i in range(len(names))]
    proposals = []
    for model in regressor.pareto_front_:
        text = regressor.get_model_string(model["tree"], 12, placeholder)
        try:
            expr = parse_expression(text, placeholder)
        except ValueError:
            continue
        proposals.append(expr.xreplace({sp.Symbol(p, real=True): make_symbols([n])[n]
                                        for p, n in zip(placeholder, names)}))
    return proposals


# --- refinement and selection --------------------------------------------------------------------

def polish(expr: sp.Expr, data: Split, names: list[str]) -> sp.Expr:
    """Refit constants, normalise, refit again, snap to simple values."""
    expr = refit(expr, data.X_train, data.y_train, names)
    simplified = normalise(expr)
    if simplified != expr:
        simplified = refit(simplified, data.X_train, data.y_train, names)
        if nmse(evaluate(simplified, data.X_val, names), data.y_val) <= \
                nmse(evaluate(expr, data.X_val, names), data.y_val) * 1.01 + 1e-14:
            expr = simplified
    return snap(expr, data.X_train, data.y_train, data.X_val, data.y_val, names)


def pareto_front(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates not beaten in both validation error and complexity, by complexity."""
    front: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.complexity, c.val_nmse)):
        if not front or c.val_nmse < front[-1].val_nmse * (1 - 1e-9):
            front.append(c)
    return front


def choose(front: Sequence[Candidate], tolerance: float = 0.1) -> Candidate:
    """The simplest candidate whose validation error is within ``(1 + tolerance)`` of the best
    (plus a floor so that noiseless ties at machine precision count as ties)."""
    best = min(c.val_nmse for c in front)
    threshold = best * (1 + tolerance) + TIE_NMSE
    return next(c for c in front if c.val_nmse <= threshold)


def discover(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    time_budget: float = 60.0,
    seed: int = 0,
    arms: Sequence[str] = ARMS,
    progress: Progress | None = None,
) -> Discovery:
    """Search for y = f(X) within ``time_budget`` seconds; data only."""
    start = time.perf_counter()
    names = list(names)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(names):
        raise ValueError(f"X must be (n, {len(names)}) with one y per row; got {X.shape} and {y.shape}")
    if len(y) < 10:
        raise ValueError(f"need at least 10 samples to discover a law, got {len(y)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("data holds NaN or inf; clean it first")
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; choose from {ARMS}")
    data = split(X, y, seed)
    notify = progress or (lambda stage, info: None)
    candidates: list[Candidate] = []
    arms_run: list[str] = []

    def consider(proposals: list[sp.Expr], source: str) -> None:
        for expr in proposals:
            if time.perf_counter() - start > time_budget * 1.2:
                return
            try:
                polished = polish(expr, data, names)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
                continue
            error = nmse(evaluate(polished, data.X_val, names), data.y_val)
            if np.isfinite(error) and polished.free_symbols:
                candidates.append(Candidate(polished, source, error, count_nodes(polished)))
        if candidates:
            notify("candidates", {"source": source, "best": min(c.val_nmse for c in candidates)})

    fit_X, fit_y = data.X_train, data.y_train
    if "powerlaw" in arms:
        consider(powerlaw_arm(fit_X, fit_y, names), "powerlaw")
        arms_run.append("powerlaw")
    if "exponential" in arms:
        consider(exponential_arm(fit_X, fit_y, names), "exponential")
        arms_run.append("exponential")
    if "sparse" in arms:
        consider(sparse_arm(fit_X, fit_y, names), "sparse")
        arms_run.append("sparse")
    if "operon" in arms:
        run = 0
        while True:
            remaining = time_budget - (time.perf_counter() - start)
            if remaining < 3 or (candidates and min(c.val_nmse for c in candidates) < EXACT_NMSE):
                break
            symbols = OPERON_SYMBOLS[run % len(OPERON_SYMBOLS)]
            seconds = min(remaining * 0.6, max(5.0, time_budget / 4))
            notify("operon", {"run": run, "seconds": seconds})
            consider(operon_arm(fit_X, fit_y, names, seconds, seed + run, symbols), "operon")
            run += 1
        if run:
            arms_run.append("operon")
    if not candidates:
        mean = sp.Float(float(np.mean(fit_y)), 15)
        candidates.append(Candidate(mean, "constant", nmse(np.full_like(data.y_val, float(mean)), data.y_val), 1))
    front = pareto_front(candidates)
    best = choose(front)
    for c in front:
        c.test_r2 = r2_score(evaluate(c.expression, data.X_test, names), data.y_test)
    confident = best.test_r2 is not None and best.test_r2 >= CONFIDENT_R2
    return Discovery(best, front, confident, time.perf_counter() - start, names, arms_run)
