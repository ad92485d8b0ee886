"""Constant refinement for candidate formulas: least-squares refit, normalisation, snapping to simple values."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

from twin.expressions import compile_expression, count_nodes

MAX_CONSTANTS = 24
FORMULA_SNAP_REFITS = 60
#: Singular value of the constants' Jacobian, relative to the largest, below which a direction counts as
#: one the data cannot determine (a scale that other constants absorb exactly, as in k·√(a·x − b·y)).
REDUNDANT_SINGULAR = 1e-8


def nmse(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error normalised by the target's variance (1 = no better than the mean)."""
    prediction = np.asarray(prediction, dtype=float)
    if prediction.shape != target.shape:
        prediction = np.broadcast_to(prediction, target.shape)
    if not np.isfinite(prediction).all():
        return float("inf")
    # Both sides in units of the target's largest magnitude: a target of order 1e-200 has a variance that
    # underflows to 0 (every prediction would then score perfectly), one of order 1e200 one that overflows.
    scale = float(np.max(np.abs(target))) if target.size else 1.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    with np.errstate(over="ignore"):
        error = float(np.mean(((prediction - target) / scale) ** 2))
    variance = float(np.var(target / scale)) or 1.0
    return error / variance if np.isfinite(error) else float("inf")


def evaluate(expr: sp.Expr, X: np.ndarray, names: list[str]) -> np.ndarray:
    """Evaluate an expression on the columns of ``X``; NaN where it is undefined, and everywhere when it holds
    something no evaluator computes (a candidate a search built is then dropped, not an error)."""
    try:
        evaluator = compile_expression(expr)
    except ValueError:
        return np.full(X.shape[0], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        values = evaluator({n: X[:, i] for i, n in enumerate(names)})
    return np.broadcast_to(np.asarray(values, dtype=float), (X.shape[0],)).copy()


def parameterise(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Symbol], np.ndarray]:
    """Replace float constants by symbols ``_c0, _c1, …``; integers and rationals stay exact."""
    floats = sorted(expr.atoms(sp.Float), key=sp.default_sort_key)
    symbols = [sp.Symbol(f"_c{i}", real=True) for i in range(len(floats))]
    template = expr.xreplace(dict(zip(floats, symbols)))
    return template, symbols, np.array([float(f) for f in floats])


def _predictor(template: sp.Expr, symbols: list[sp.Symbol], X: np.ndarray, names: list[str]):
    """``predict(theta)``: the template's values on the rows of ``X`` with its constants set to ``theta``."""
    fn = compile_expression(template)
    columns = {n: X[:, i] for i, n in enumerate(names)}

    def predict(theta: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = fn(columns | {s.name: t for s, t in zip(symbols, theta)})
        return np.broadcast_to(np.asarray(values, dtype=float), (X.shape[0],))

    return predict


#: Relative step of the forward differences in ``_batched_jacobian`` (MINPACK's default, √ of machine epsilon).
DIFFERENCE_STEP = float(np.sqrt(np.finfo(float).eps))


def _batched_jacobian(template: sp.Expr, symbols: list[sp.Symbol], X: np.ndarray, names: list[str]):
    """``jacobian(theta)``: forward differences of the template's values in every placeholder at once — the
    placeholders are given as columns of shifted values and numpy broadcasts the rows against them, so one
    evaluation replaces ``len(symbols) + 1`` (the evaluator's per-call overhead dominates on a few hundred rows).
    Written here because scipy's ``approx_derivative`` calls the function once per column. A non-finite
    difference counts as no slope."""
    fn = compile_expression(template)
    columns = {n: X[:, i] for i, n in enumerate(names)}
    count = len(symbols)

    def jacobian(theta: np.ndarray) -> np.ndarray:
        steps = DIFFERENCE_STEP * np.maximum(1.0, np.abs(theta))
        shifted = theta[None, :] + np.vstack([np.zeros(count), np.diag(steps)])
        with np.errstate(all="ignore"):
            values = fn(columns | {s.name: shifted[:, [i]] for i, s in enumerate(symbols)})
            values = np.broadcast_to(np.asarray(values, dtype=float), (count + 1, X.shape[0]))
            slopes = (values[1:] - values[:1]) / steps[:, None]
        return np.where(np.isfinite(slopes), slopes, 0.0).T

    return jacobian


def fit_template(template: sp.Expr, symbols: list[sp.Symbol], start: np.ndarray, X: np.ndarray, y: np.ndarray,
                 names: list[str], max_nfev: int = 200, batched: bool = False) -> tuple[np.ndarray, float] | None:
    """Least-squares fit of the placeholders ``symbols`` of ``template`` to (X, y) from ``start``
    (Levenberg–Marquardt; a trust region where there are fewer rows than constants): the fitted values and
    their NMSE on (X, y), or None where the fit fails or leaves the finite numbers. ``batched``: the
    finite-difference Jacobian in one evaluation of the template (``_batched_jacobian``), several times faster
    for templates with many placeholders."""
    predict = _predictor(template, symbols, X, names)

    def residuals(theta: np.ndarray) -> np.ndarray:
        r = predict(theta) - y
        return np.where(np.isfinite(r), r, 1e6)

    jacobian = _batched_jacobian(template, symbols, X, names) if batched else "2-point"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = least_squares(residuals, np.asarray(start, dtype=float), jac=jacobian,
                                method="lm" if len(y) >= len(start) else "trf", max_nfev=max_nfev * (len(start) + 1))
    except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError):
        return None
    if not np.isfinite(fit.x).all():
        return None
    return fit.x, nmse(predict(fit.x), y)


def refit(expr: sp.Expr, X: np.ndarray, y: np.ndarray, names: list[str], max_nfev: int = 200) -> sp.Expr:
    """Least-squares refit of every float constant of ``expr`` on (X, y); the input if that fails."""
    template, symbols, start = parameterise(expr)
    if not symbols or len(symbols) > MAX_CONSTANTS:
        return expr
    fit = fit_template(template, symbols, start, X, y, names, max_nfev)
    if fit is None:
        return expr
    return template.xreplace({s: sp.Float(v, 15) for s, v in zip(symbols, fit[0])})


def normalise(expr: sp.Expr) -> sp.Expr:
    """Cheap canonical form: one fraction whose denominator has constant term 1 (removes the scale
    redundancy of p/q that makes constants unidentifiable)."""
    try:
        numerator, denominator = sp.fraction(sp.cancel(sp.together(expr)))
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):
        return expr
    if denominator.is_number:
        return sp.expand(numerator / denominator)
    constant = denominator.as_coeff_Add()[0]
    if constant != 0 and constant.is_number:
        # an exact 1, also where the constant was a float (1.0 would be a free scale again in a refit)
        rest = sp.expand(denominator / constant).as_coeff_Add()[1]
        numerator, denominator = sp.expand(numerator / constant), 1 + rest
    return numerator / denominator


def nice_values(value: float) -> list[sp.Expr]:
    """Simple exact values near ``value``: integers, small-denominator fractions, rational multiples of π, π²,
    1/π and √(2π)^±1."""
    candidates: list[sp.Expr] = []
    for max_den in (1, 2, 3, 4, 6, 8, 12):
        fraction = Fraction(value).limit_denominator(max_den)
        candidates.append(sp.Rational(fraction.numerator, fraction.denominator))
    for max_den in (1, 2, 3, 4, 6):
        fraction = Fraction(value / np.pi).limit_denominator(max_den)
        if fraction != 0:
            candidates.append(sp.pi * sp.Rational(fraction.numerator, fraction.denominator))
    for max_den in (1, 2, 4):
        fraction = Fraction(value / np.pi**2).limit_denominator(max_den)
        if fraction != 0:
            candidates.append(sp.pi**2 * sp.Rational(fraction.numerator, fraction.denominator))
    for max_den in (1, 2, 4, 8, 16):
        fraction = Fraction(value * np.pi).limit_denominator(max_den)
        if fraction != 0 and abs(fraction.numerator) <= 4:  # 1/(8π), 3/(4π); not 11/(7π)
            candidates.append(sp.Rational(fraction.numerator, fraction.denominator) / sp.pi)
    for max_den in (1, 2):  # Gaussian normalisations 1/√(2π), √(2π)
        for root in (sp.sqrt(2 * sp.pi), 1 / sp.sqrt(2 * sp.pi)):
            fraction = Fraction(value / float(root)).limit_denominator(max_den)
            if fraction != 0:
                candidates.append(root * sp.Rational(fraction.numerator, fraction.denominator))
    unique = {c: abs(float(c) - value) for c in candidates}
    return sorted(unique, key=unique.get)


def _simplicity(value: sp.Expr) -> tuple[float, int, int]:
    """Order for trying snap values: what it takes to write the value down, in nats (ln|p| + ln q for its
    rational factor p/q, as ``tools.selection.description_nats`` counts it, and ln 2 per node of its irrational
    factor: π 0.7, 1/π and π² 2.1, √(2/π) 4.9), then fewer nodes, then shorter text.

    Where noise lets several values pass, 8π/3 (3.9 nats) so comes before 25/3 (4.4) and 67/8 (6.3), π before 3,
    2π before 6, while 1/2 stays before π/6, 1 before π/3 and 32/5 (5.1) before 8√(2/π) (6.9). Bonus 7 at
    σ = 1 % (the law √(8πGρ/3 − αc²/d²), fitted as √(8.366·Gρ − 1.02·αc²/d²)) snapped to 67/8 when nodes came
    first.
    """
    rational, rest = value.as_coeff_Mul()
    cost = math.log(abs(int(rational.p))) + math.log(int(rational.q)) if rational.is_Rational and rational else 0.0
    return cost + (math.log(2) * count_nodes(rest) if rest != 1 else 0.0), count_nodes(value), len(str(value))


def redundant_direction(expr: sp.Expr, X: np.ndarray, names: list[str]) -> tuple[list[sp.Float], np.ndarray] | None:
    """The float constants of ``expr`` and a direction of relative changes to them that leaves the predictions
    on ``X`` unchanged (the Jacobian's null vector), or None where every constant is determined.

    The Jacobian comes from central differences: 2k evaluations of the compiled expression (2 ms against 175 ms
    for torch's row-by-row autograd Jacobian, 9 constants on 300 rows); their error (~1e-10 of the largest
    singular value) stays far below REDUNDANT_SINGULAR.
    """
    template, symbols, theta = parameterise(expr)
    if not 2 <= len(symbols) <= MAX_CONSTANTS or (theta == 0).any():
        return None
    predictions = _predictor(template, symbols, X, names)
    step = 1e-6
    # column j: the change of the predictions per relative change of constant j (rows where a prediction is not
    # finite, inf − inf among them, are dropped below)
    with np.errstate(all="ignore"):
        jacobian = np.column_stack([(predictions(theta * (1 + step * e)) - predictions(theta * (1 - step * e)))
                                    / (2 * step) for e in np.eye(len(theta))])
    jacobian = jacobian[np.isfinite(jacobian).all(axis=1)]
    if len(jacobian) < len(symbols):
        return None
    _, singular, rows = np.linalg.svd(jacobian, full_matrices=False)
    if singular[0] == 0 or singular[-1] > REDUNDANT_SINGULAR * singular[0]:
        return None
    return sorted(expr.atoms(sp.Float), key=sp.default_sort_key), rows[-1]  # parameterise's order


def _fix_redundant(
    expr: sp.Expr, X_fit: np.ndarray, y_fit: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, names: list[str],
    budget: float,
) -> tuple[sp.Expr, int]:
    """Give each constant the data cannot determine its simplest nearby value, and refit the others; also the
    number of refits spent.

    Along a redundant direction any one of the constants taking part can be fixed at no cost, so the one whose
    simplest value (by ``_simplicity``, then relative distance) is simplest is fixed: in k·c·√(A·x − B·y) that
    sets k = 1 and lets A become 8π/3, where fixing A = 67/8 first would leave k and B as floats. Kept only
    while the validation error stays within ``budget``.
    """
    trials = 0
    while trials < len(expr.atoms(sp.Float)) + 1:
        found = redundant_direction(expr, X_fit, names)
        if found is None:
            break
        floats, direction = found
        options = []
        for constant, weight in zip(floats, np.abs(direction)):
            value = float(constant)
            if weight < 0.1 * np.abs(direction).max():
                continue
            near = [v for v in nice_values(value)[:3] if abs(float(v) - value) <= 0.05 * max(1.0, abs(value))]
            options += [(_simplicity(v), abs(float(v) - value) / max(abs(value), 1e-300), constant, v) for v in near]
        for *_, constant, value in sorted(options, key=lambda option: option[:2]):
            trial, trials = refit(expr.xreplace({constant: value}), X_fit, y_fit, names, max_nfev=50), trials + 1
            if nmse(evaluate(trial, X_val, names), y_val) <= budget:
                expr = trial
                break
        else:
            break
    return expr, trials


def snap(
    expr: sp.Expr,
    X_fit: np.ndarray, y_fit: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, names: list[str],
    tolerance: float = 0.02,
) -> sp.Expr:
    """Greedily replace float constants by nice exact values while the validation error stays within
    ``(1 + tolerance)`` of the unsnapped error (plus a floor for noiseless data); refit the rest.

    Of the three values nearest a constant, the simplest is tried first: with noisy data a constant fitted
    as 0.9974 must become 1, not the nearer 5/(2√(2π)); with noiseless data only the right value passes.

    Constants the data cannot determine are fixed first (``_fix_redundant``), so that a free scale does not
    let a near value (67/8) pass where the law has 8π/3.

    Bounded so that it stays cheap and deterministic: a (constant, value) pair that failed is not tried
    again after later refits move the constant slightly, and at most FORMULA_SNAP_REFITS refits run.
    """
    current = expr
    baseline = nmse(evaluate(current, X_val, names), y_val)
    budget = baseline * (1 + tolerance) + 1e-14
    current, trials = _fix_redundant(current, X_fit, y_fit, X_val, y_val, names, budget)
    failed: set[tuple[str, sp.Expr]] = set()
    while trials < FORMULA_SNAP_REFITS:
        floats = sorted(current.atoms(sp.Float), key=lambda f: -abs(float(f)))
        improved = False
        for constant in floats:
            for value in sorted(nice_values(float(constant))[:3], key=_simplicity):
                key = (f"{float(constant):.3g}", value)
                if key in failed or abs(float(value) - float(constant)) > 0.05 * max(1.0, abs(float(constant))):
                    continue
                trial = current.xreplace({constant: value})
                if trial.atoms(sp.Float):
                    trial, trials = refit(trial, X_fit, y_fit, names, max_nfev=50), trials + 1
                if nmse(evaluate(trial, X_val, names), y_val) <= budget:
                    current, improved = trial, True
                    break
                failed.add(key)
                if trials >= FORMULA_SNAP_REFITS:
                    return current
            if improved:
                break
        if not improved:
            break
    return current
