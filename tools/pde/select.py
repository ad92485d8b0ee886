"""Choosing a field law's terms from the weak-form system: candidate supports from three searches, then the one
that explains the time derivative most simply, and coefficients snapped to simple values the data allows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import sympy as sp

from tools.constants import nice_values
from tools.sparse import sparse_fits


@dataclass(frozen=True)
class SelectOptions:
    """How terms are chosen.

    Parameters
    ----------
    max_terms : most terms in one equation.
    tolerance : of the term sets whose cross-validated residual is within (1 + tolerance) of the best, the one
        with the fewest terms is chosen (the one-standard-error rule of model selection, on residuals).
    min_contribution : a kept term carries at least this share of the time derivative's norm (smaller parts,
        such as a lattice's discretisation corrections, are below what the data resolves).
    residual_floor : relative residual below which fits count as equal (solver and quadrature precision).
    snap_tolerance : a coefficient snaps to a simple value when the residual sum of squares grows by at most
        this share.
    """

    max_terms: int = 8
    tolerance: float = 0.1
    min_contribution: float = 0.01
    residual_floor: float = 1e-5
    snap_tolerance: float = 0.05


@dataclass
class Fit:
    """Least squares on one support: coefficients (full length, zeros off the support), relative residual and,
    once scored, the cross-validated relative residual."""

    support: tuple[int, ...]
    coefficients: np.ndarray
    residual: float
    validation: float = math.nan


def least_squares(columns: np.ndarray, lhs: np.ndarray, support: tuple[int, ...],
                  fixed: dict[int, float] | None = None) -> Fit:
    """Fit ``lhs`` on the columns of ``support``; ``fixed`` coefficients are held at their values."""
    fixed = fixed or {}
    free = [i for i in support if i not in fixed]
    target = lhs - sum((columns[:, i] * v for i, v in fixed.items()), np.zeros_like(lhs))
    coefficients = np.zeros(columns.shape[1])
    if free:
        solution, *_ = np.linalg.lstsq(columns[:, free], target, rcond=None)
        coefficients[free] = solution
    for i, v in fixed.items():
        coefficients[i] = v
    residual = float(np.linalg.norm(columns @ coefficients - lhs) / (np.linalg.norm(lhs) or 1.0))
    return Fit(tuple(sorted(support)), coefficients, residual)


def candidate_supports(columns: np.ndarray, lhs: np.ndarray, max_terms: int) -> set[tuple[int, ...]]:
    """Supports from the best-subset search (exhaustive where small, matching pursuit where not), sequentially
    thresholded least squares (PDE-FIND's STLSQ) over a range of thresholds, and backward elimination."""
    scale = np.linalg.norm(columns, axis=0)
    scale[scale == 0] = 1.0
    scaled = columns / scale
    supports = {tuple(np.flatnonzero(c).tolist()) for c in sparse_fits(scaled, lhs, max_terms, intercept=False)}
    full, *_ = np.linalg.lstsq(scaled, lhs, rcond=None)
    for threshold in np.geomspace(1e-4, 1.0, 25) * np.abs(full).max():
        active = np.abs(full) >= threshold
        for _ in range(10):
            if not active.any():
                break
            solution, *_ = np.linalg.lstsq(scaled[:, active], lhs, rcond=None)
            coefficients = np.zeros(len(full))
            coefficients[active] = solution
            updated = np.abs(coefficients) >= threshold
            if (updated == active).all():
                break
            active = updated
        if 0 < active.sum() <= max_terms:
            supports.add(tuple(np.flatnonzero(active).tolist()))
    # Backward elimination on the Gram matrix: each trial is a k×k solve, not a least squares over every row.
    gram, moment, total = scaled.T @ scaled, scaled.T @ lhs, float(lhs @ lhs)

    def rss(subset: list[int]) -> float:
        try:
            solution = np.linalg.solve(gram[np.ix_(subset, subset)], moment[subset])
        except np.linalg.LinAlgError:
            return math.inf
        return total - float(moment[subset] @ solution)

    current = list(range(columns.shape[1]))
    while len(current) > 1:
        trials = [(rss([c for c in current if c != drop]), drop) for drop in current]
        current.remove(min(trials)[1])
        if len(current) <= max_terms:
            supports.add(tuple(current))
    return {s for s in supports if s}


def contributions(columns: np.ndarray, lhs: np.ndarray, fit: Fit) -> np.ndarray:
    """Each term's share of the time derivative: ‖c·column‖ / ‖lhs‖."""
    return np.abs(fit.coefficients) * np.linalg.norm(columns, axis=0) / (np.linalg.norm(lhs) or 1.0)


def cross_validated(columns: np.ndarray, lhs: np.ndarray, groups: np.ndarray, support: tuple[int, ...]) -> float:
    """Relative residual of ``support`` on each group's rows when fitted on the other groups' rows."""
    error = 0.0
    for group in np.unique(groups):
        held = groups == group
        fit = least_squares(columns[~held], lhs[~held], support)
        error += float(np.sum((columns[held] @ fit.coefficients - lhs[held]) ** 2))
    return math.sqrt(error) / (np.linalg.norm(lhs) or 1.0)


def choose(columns: np.ndarray, lhs: np.ndarray, groups: np.ndarray, options: SelectOptions,
           ) -> tuple[Fit, list[Fit]]:
    """The chosen fit and the candidates, by cross-validated residual over ``groups`` (runs, or blocks of
    time): the fewest terms within ``tolerance`` of the best, among fits whose every term is resolved."""
    fits = [least_squares(columns, lhs, s) for s in candidate_supports(columns, lhs, options.max_terms)]
    for fit in fits:
        fit.validation = max(cross_validated(columns, lhs, groups, fit.support), options.residual_floor)
    resolved = [f for f in fits if contributions(columns, lhs, f)[list(f.support)].min() >= options.min_contribution]
    ranked = sorted(resolved or fits, key=lambda f: (f.validation, len(f.support), f.support))
    best = ranked[0].validation * (1 + options.tolerance)
    chosen = min((f for f in ranked if f.validation <= best), key=lambda f: (len(f.support), f.validation))
    return chosen, ranked


def simple_values(value: float) -> list[float]:
    """Values a coefficient may snap to, simplest first: small fractions, then one and two significant digits."""
    candidates = [float(v) for v in nice_values(value)[:3] if v.is_Rational and v.q <= 4]
    for digits in (1, 2):
        rounded = float(f"{Decimal(value):.{digits - 1}e}") if value else 0.0
        candidates.append(rounded)
    seen = []
    for c in candidates:
        if c != 0 and c not in seen and abs(c - value) <= 0.05 * abs(value):
            seen.append(c)
    return seen


def snap(columns: np.ndarray, lhs: np.ndarray, fit: Fit, options: SelectOptions) -> Fit:
    """Fix coefficients at simple values, largest contribution first, while the residual allows it."""
    budget = max(fit.residual, options.residual_floor) ** 2 * (1 + options.snap_tolerance)
    fixed: dict[int, float] = {}
    order = np.argsort(-contributions(columns, lhs, fit))
    current = fit
    for i in (int(i) for i in order if i in fit.support):
        for value in simple_values(float(current.coefficients[i])):
            trial = least_squares(columns, lhs, fit.support, {**fixed, i: value})
            if trial.residual**2 <= budget:
                fixed[i], current = value, trial
                break
    return current


def exact_value(value: float) -> sp.Expr:
    """A coefficient as an exact number where it is a fraction with a small denominator (or 1/10, 1/100),
    else as a float of six significant digits."""
    fraction = sp.nsimplify(value, rational=True, tolerance=1e-12)
    if fraction.q <= 12 or fraction.q in (100, 1000) and abs(fraction.p) == 1:
        return fraction
    return sp.Float(f"{value:.6g}", 15)
