"""The cross arm: sparse regression over products of one-variable functions of different inputs."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.library import combination, in_degrees
from tools.sparse import sparse_fits
from twin.expressions import make_symbols

#: One-variable functions whose pairwise products (across inputs) the cross arm searches.
CROSS_UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[sp.Expr], sp.Expr]]] = {
    "x": (lambda x: x, lambda s: s),
    "x^2": (lambda x: x**2, lambda s: s**2),
    "1/x": (lambda x: 1 / x, lambda s: 1 / s),
    "sin": (np.sin, sp.sin),
    "cos": (np.cos, sp.cos),
    "sin^2": (lambda x: np.sin(x) ** 2, lambda s: sp.sin(s) ** 2),
    "cos^2": (lambda x: np.cos(x) ** 2, lambda s: sp.cos(s) ** 2),
    "exp": (np.exp, sp.exp),
    "exp(-x)": (lambda x: np.exp(-x), lambda s: sp.exp(-s)),
    "sin°": (lambda x: np.sin(np.deg2rad(x)) if in_degrees(x) else np.full_like(x, np.nan),
             lambda s: sp.sin(sp.pi * s / 180)),
    "cos°": (lambda x: np.cos(np.deg2rad(x)) if in_degrees(x) else np.full_like(x, np.nan),
             lambda s: sp.cos(sp.pi * s / 180)),
}


def _unary_columns(X: np.ndarray, symbols: list[sp.Symbol], kinds: Sequence[str]) -> list[list[tuple]]:
    """Per input: (values, term) of each one-variable function that is finite and not constant there."""
    per_input = []
    for i, s in enumerate(symbols):
        found = []
        for kind in kinds:
            forward, symbolic = CROSS_UNARY[kind]
            with np.errstate(all="ignore"):
                values = forward(X[:, i])
            if np.isfinite(values).all() and np.abs(values).max() < 1e8 and np.std(values) > 1e-12:
                found.append((values, symbolic(s)))
        per_input.append(found)
    return per_input


@dataclass(frozen=True)
class CrossArm(DataArm):
    """Sparse regression (at most ``max_terms`` terms) over products of one-variable functions of different
    inputs (sin x·cos²y, cos(y)/x, x·y²) and sines/cosines of sums and differences (coupled angles), for up to
    ``max_inputs`` inputs; also of the target times a multiplier g of ``multipliers`` (y·g = N, so y = N/g:
    cot y·cos x = cos x·cos y / sin y). The ODE right-hand sides of Strogatz's systems have this shape."""

    name: ClassVar[str] = "cross"
    max_terms: int = 4
    max_inputs: int = 3
    multipliers: tuple[str, ...] = ("x", "sin", "cos")

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        if X.shape[1] > self.max_inputs:
            return []
        symbols = [make_symbols(names)[n] for n in names]
        per_input = _unary_columns(X, symbols, list(CROSS_UNARY))
        columns = [c for found in per_input for c in found]
        for first, second in itertools.combinations(range(len(symbols)), 2):
            columns += [(a * b, ta * tb) for a, ta in per_input[first] for b, tb in per_input[second]]
            difference, total = X[:, first] - X[:, second], X[:, first] + X[:, second]
            a, b = symbols[first], symbols[second]
            columns += [(np.sin(difference), sp.sin(a - b)), (np.cos(difference), sp.cos(a - b)),
                        (np.sin(total), sp.sin(a + b)), (np.cos(total), sp.cos(a + b))]
        columns = [(v, t) for v, t in columns if np.std(v) > 1e-12]
        if not columns:
            return []
        features = np.column_stack([v for v, _ in columns])
        terms = [t for _, t in columns]
        multipliers = [(np.ones_like(y), sp.Integer(1))] + [
            c for found in _unary_columns(X, symbols, self.multipliers) for c in found if (np.abs(c[0]) > 1e-6).all()]
        proposals = []
        for values, term in multipliers:
            for coefficients in sparse_fits(features, y * values, self.max_terms, intercept=True):
                proposals.append((sp.Float(coefficients[-1], 15) + combination(coefficients[:-1], terms)) / term)
        return proposals
