"""Verification: held-out and extrapolation scores, resampling stability, and the SRBench exact check.

``exact_match`` compares with a ground truth and is for verification and benchmarks only; the
discovery path never calls it.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Mapping

import numpy as np
import sympy as sp

from tools.constants import evaluate, nmse
from tools.dimensions import units_consistent
from twin.expressions import count_nodes, to_text

SIMPLIFY_SECONDS = 10.0


def r2(prediction: np.ndarray, target: np.ndarray) -> float:
    """Coefficient of determination (−inf for NaN predictions)."""
    return 1.0 - nmse(prediction, target)


def widened_bounds(bounds: np.ndarray, widen: float) -> np.ndarray:
    """The first box reached ``widen`` beyond each side: multiplicatively for a range of one sign (a mass stays
    positive), outward only for a range that ends at zero, by ``widen`` of the span otherwise."""
    bounds = np.asarray(bounds, dtype=float)
    out = bounds.copy()
    for i, (low, high) in enumerate(bounds):
        if low == 0 < high or high == 0 > low:  # a range that ends at zero (a drag coefficient) keeps its sign
            wide = sorted((0.0, high + widen * (high - low) if high > 0 else low - widen * (high - low)))
        elif low > 0 or high < 0:
            sign, a, b = (1.0, low, high) if low > 0 else (-1.0, -high, -low)
            factor = (b / a) ** widen
            wide = sorted((sign * a / factor, sign * b * factor))
        else:
            span = high - low if high > low else 1.0
            wide = [low - widen * span, high + widen * span]
        out[i] = wide
    return out


def extrapolation_inputs(bounds: np.ndarray, n: int, seed: int, widen: float = 0.25,
                         keep_sign: bool = False) -> np.ndarray:
    """Inputs drawn from a box ``widen`` times wider on each side (with ``keep_sign``, ``widened_bounds``: a mass
    stays positive), outside the training box.

    Each row lies outside the original box in at least one coordinate.
    """
    rng = np.random.default_rng(seed)
    low, high = bounds[:, 0], bounds[:, 1]
    span = np.where(high > low, high - low, np.abs(low) + 1.0)
    outer = widened_bounds(bounds, widen) if keep_sign else np.column_stack([low - widen * span, high + widen * span])
    rows = []
    while sum(len(r) for r in rows) < n:
        draw = rng.uniform(outer[:, 0], outer[:, 1], size=(4 * n, len(low)))
        outside = ((draw < low) | (draw > high)).any(axis=1)
        rows.append(draw[outside])
    return np.concatenate(rows)[:n]


def _round_numbers(expr: sp.Expr, rationals: bool, digits: int = 3) -> sp.Expr:
    """Floats (and, with ``rationals``, non-integer rationals) rounded to ``digits`` significant digits, as
    exact rationals so that simplification can cancel them against the numbers of the other side."""
    numbers = expr.atoms(sp.Float) | ({r for r in expr.atoms(sp.Rational) if not r.is_integer} if rationals else set())
    return expr.xreplace({f: sp.Rational(f"{float(f):.{digits}g}") for f in numbers})


def _is_constant_after_simplify(expr: sp.Expr) -> bool:
    """Whether sympy simplifies ``expr`` to a constant; a simplification that fails proves nothing (sympy's
    rational arithmetic can build integers past Python's 4300-digit string limit on snapped exponents)."""
    try:
        simplified = sp.simplify(expr)
    except (ValueError, TypeError, RecursionError, ZeroDivisionError):
        return False
    return simplified.is_number or not simplified.free_symbols


def _exact_worker(found: sp.Expr, truth: sp.Expr, samples: Mapping[str, np.ndarray] | None,
                  results: multiprocessing.Queue) -> None:
    # Rounding happens in the raw forms and again after expanding both sides, so that a constant the
    # truth spells as a combination (8 − 0.0225) meets the same constant found as one float (7.9775).
    # Each form is compared as written and again with non-integer rationals rounded like floats: snapped
    # constants are exact rationals (8/3), where a benchmark file may store the same number as a float
    # (2.6666666666666665, which rounds to 2.67); SRBench's own check forms the difference before rounding
    # and accepts that pair too.
    tried = []
    # the third form writes sines and cosines of sums as products (sin(ωt + φ) against cos(ωt + φ − π/2): the
    # functions of the phases evaluate, so a phase written two ways meets as the same two coefficients)
    for canonical in (lambda e: e, sp.expand, lambda e: sp.expand(sp.expand_trig(e))):
        for rationals in (False, True):
            a, b = _round_numbers(canonical(truth), rationals), _round_numbers(canonical(found), rationals)
            if (a, b) in tried:
                continue
            tried.append((a, b))
            if _is_constant_after_simplify(a - b) or _is_constant_after_simplify(a / b):
                results.put(True)
                return
    # Only then the slower square rule, where samples can settle the sign (see exact_match).
    if samples:
        for a, b in tried:
            if _is_constant_after_simplify((a / b) ** 2) and _one_sign(a / b, samples):
                results.put(True)
                return
    results.put(False)


def _one_sign(ratio: sp.Expr, samples: Mapping[str, np.ndarray]) -> bool:
    """Whether ``ratio`` is finite somewhere on the samples and has one sign wherever it is."""
    values = evaluate(ratio, np.column_stack(list(samples.values())), list(samples))
    values = values[np.isfinite(values)]
    return len(values) > 0 and bool((values > 0).all() or (values < 0).all())


#: Relative spread below which truth − found (or truth / found) counts as one constant in the numeric identity test.
IDENTITY_TOLERANCE = 1e-10


def numerically_identical(found: sp.Expr, truth: sp.Expr, samples: Mapping[str, np.ndarray],
                          tolerance: float = IDENTITY_TOLERANCE) -> bool:
    """Whether truth − found or truth / found is one constant, to ``tolerance``, on the samples and on as many
    points of the box widened by its span on each side (``extrapolation_inputs``), wherever the truth is defined (the
    found formula must be defined there too).

    What sympy misses when one law is written two ways with fitted constants: A·sin(2.3t + 0.7) found as
    −A + 2A·cos²(1.15t − 0.4354) (a double angle and a shifted phase; rounding each constant to three digits breaks
    the identity symbolically), tanh(z)/2 against a logistic. A smooth stand-in that fits the samples to 1e-10 would
    still part from the law on the widened box (a fourth-order Taylor polynomial of cos x on [0, 0.1]: 1e-7)."""
    names = list(samples)
    if not {s.name for s in found.free_symbols | truth.free_symbols} <= set(names):
        return False
    X = np.column_stack([np.asarray(samples[n], dtype=float) for n in names])
    bounds = np.column_stack([X.min(axis=0), X.max(axis=0)])
    for points in (X, extrapolation_inputs(bounds, len(X), seed=0, widen=1.0)):
        a, b = evaluate(truth, points, names), evaluate(found, points, names)
        defined = np.isfinite(a)
        # a quarter: a law singular just beyond the box's edge (a relativistic factor sampled up to 0.93c) is
        # defined on less than half of a box widened by its span on both sides
        if defined.sum() < max(2, 0.25 * len(a)) or not np.isfinite(b[defined]).all():
            return False
        a, b = a[defined], b[defined]
        scale = float(np.max(np.abs(a))) or 1.0
        with np.errstate(all="ignore"):
            ratio = a / b
        offset = np.ptp(a - b) <= tolerance * scale
        factor = bool(np.isfinite(ratio).all()) and np.ptp(ratio) <= tolerance * float(np.max(np.abs(ratio)) or 1.0)
        if not (offset or factor):
            return False
    return True


def exact_match(found: sp.Expr, truth: sp.Expr, timeout: float = SIMPLIFY_SECONDS,
                positive: set[str] | frozenset[str] = frozenset(),
                samples: Mapping[str, np.ndarray] | None = None) -> bool:
    """SRBench exact recovery: ``found`` is not constant and truth − found or truth / found simplifies
    to a constant (floats rounded to 3 significant digits, tried also with the found expression's and the
    truth's non-integer rationals rounded alike); a simplification time-out is a failure.

    Symbols are matched by name; those in ``positive`` are declared positive, so that e.g. √a·√b and √(ab)
    compare equal where the data live. ``samples`` (input name → the values the data were drawn at) add the
    inputs positive on every sample, and allow one rule beyond SRBench's: (truth / found)² simplifies to a
    constant and truth / found has one sign on every sample. That proves the ratio constant where the data live,
    where sympy cannot use an order between inputs (ω√(c − v)/√(c + v) against ω√(1 − v²/c²)/(1 + v/c), v < c).
    With ``samples``, a numeric identity test comes first (``numerically_identical``): the same function written
    two ways with fitted constants, which sympy's simplification and the rounding of constants miss.
    """
    if samples:
        positive = frozenset(positive) | {name for name, values in samples.items() if (values > 0).all()}
    by_name = {s: sp.Symbol(s.name, positive=True) if s.name in positive else sp.Symbol(s.name)
               for s in found.free_symbols | truth.free_symbols}
    found, truth = found.xreplace(by_name), truth.xreplace(by_name)
    if not found.free_symbols:
        return False
    if samples and numerically_identical(found, truth, samples):
        return True
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    worker = context.Process(target=_exact_worker, args=(found, truth, samples, results), daemon=True)
    worker.start()
    try:
        return bool(results.get(timeout=timeout))
    except queue.Empty:
        return False
    finally:
        worker.kill()
        worker.join()


def substitute_parameters(truth: sp.Expr, params: Mapping[str, float]) -> sp.Expr:
    """A twin's ground truth with its parameter values in place of their symbols."""
    return truth.xreplace({s: sp.Float(params[s.name], 15) for s in truth.free_symbols if s.name in params})


def resampling_stability(expr: sp.Expr, X: np.ndarray, y: np.ndarray, names: list[str],
                         seed: int, rounds: int = 20) -> dict:
    """Spread of R² over bootstrap resamples of held-out data: a formula that only fits some of the
    data shows a wide interval."""
    rng = np.random.default_rng(seed)
    prediction = evaluate(expr, X, names)
    scores = []
    for _ in range(rounds):
        idx = rng.integers(0, len(y), len(y))
        scores.append(r2(prediction[idx], y[idx]))
    return {"r2_p05": float(np.percentile(scores, 5)), "r2_p95": float(np.percentile(scores, 95))}


def verify_formula(
    expr: sp.Expr, names: list[str], X_test: np.ndarray, y_test: np.ndarray,
    X_extra: np.ndarray | None = None, y_extra: np.ndarray | None = None,
    truth: sp.Expr | None = None, seed: int = 0,
    units: dict[str, str] | None = None, target_unit: str = "",
) -> dict:
    """A verdict: held-out R², extrapolation R², stability, complexity, units consistency (None when
    units are unknown) and (only when a truth is given, i.e. in verification or benchmarks) exact recovery."""
    verdict = {
        "r2_test": r2(evaluate(expr, X_test, names), y_test),
        "complexity": count_nodes(expr),
        **resampling_stability(expr, X_test, y_test, names, seed),
    }
    if X_extra is not None and y_extra is not None and len(y_extra):
        verdict["r2_extrapolation"] = r2(evaluate(expr, X_extra, names), y_extra)
    verdict["units_consistent"] = units_consistent(expr, units, target_unit) if units else None
    verdict["exact"] = None if truth is None else exact_match(expr, truth, samples=dict(zip(names, X_test.T)))
    verdict["small_terms"] = small_terms(expr, X_test, names)
    return verdict


#: An additive term whose RMS on the data is below this share of the formula's is flagged as possibly spurious.
SMALL_TERM_SHARE = 1e-3


def small_terms(expr: sp.Expr, X: np.ndarray, names: list[str], share: float = SMALL_TERM_SHARE) -> list[dict]:
    """The additive terms of ``expr`` that contribute less than ``share`` of its RMS on ``X``: a law plus a tiny
    term fits noisy data a little better than the law, and such a term is more likely noise than physics."""
    terms = sp.Add.make_args(expr)
    if len(terms) < 2:
        return []
    total = float(np.sqrt(np.mean(np.square(evaluate(expr, X, names)))))
    flagged = []
    for term in terms:
        size = float(np.sqrt(np.mean(np.square(np.broadcast_to(evaluate(term, X, names), (len(X),))))))
        if np.isfinite(size) and total > 0 and size < share * total:
            flagged.append({"term": to_text(term), "share": size / total})
    return flagged
