"""Feature libraries of the sparse arms: one-variable functions of each input, pairwise products and ratios,
and monomials; ``combination`` writes a fitted coefficient vector back as a formula."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import sympy as sp

from twin.expressions import make_symbols


def monomials(X: np.ndarray, symbols: list[sp.Symbol], degree: int) -> tuple[list[np.ndarray], list[sp.Expr]]:
    """The monomials of ``symbols`` of total degree 1..``degree``: their values on ``X`` and their terms."""
    columns, terms = [], []
    for total in range(1, degree + 1):
        for powers in itertools.combinations_with_replacement(range(len(symbols)), total):
            columns.append(np.prod(X[:, list(powers)], axis=1))
            terms.append(sp.Mul(*(symbols[i] for i in powers)))
    return columns, terms


def combination(coefficients: np.ndarray, terms: Sequence[sp.Expr]) -> sp.Expr:
    """Σ cᵢ·termᵢ over the nonzero coefficients, as exact-looking floats."""
    return sum((sp.Float(c, 15) * t for c, t in zip(coefficients, terms) if c), sp.Integer(0))


def in_degrees(x: np.ndarray) -> bool:
    """Whether a column could be an angle in degrees (its values span more than a radian's full turn and stay
    within ±360): its sine and cosine of x·π/180 join the feature library."""
    return bool(np.ptp(x) > 2 * np.pi and np.abs(x).max() <= 360)


def feature_library(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[sp.Expr]]:
    """Each input x, x², x³, 1/x, 1/x², √x, log x, sin x, cos x (and of x·π/180 for a column in degrees), exp(±x),
    and each pair's product and ratios, where finite and not constant: values and terms."""
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
            if in_degrees(x):
                add(np.sin(np.deg2rad(x)), sp.sin(sp.pi * s / 180))
                add(np.cos(np.deg2rad(x)), sp.cos(sp.pi * s / 180))
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
