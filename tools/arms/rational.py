"""The rational arm: y = P(x)/(1 + Q(x)) with sparse polynomials P and Q."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.library import combination, monomials
from tools.sparse import sparse_fits
from twin.expressions import make_symbols


@dataclass(frozen=True)
class RationalArm(DataArm):
    """Sparse rational fits (``rational_fits``) of polynomial ``degree`` with at most ``max_terms`` terms."""

    name: ClassVar[str] = "rational"
    degree: int = 2
    max_terms: int = 8

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        return rational_fits(X, y, names, self.degree, self.max_terms)


def rational_fits(X: np.ndarray, y: np.ndarray, names: list[str], degree: int = 2,
                  max_terms: int = 8) -> list[sp.Expr]:
    """y = P(x)/(1 + Q(x)) with sparse polynomials P, Q, linearised as y = P − y·Q and solved by
    orthogonal matching pursuit (the classic linearisation of rational least squares). With one or two
    inputs P goes one degree higher (x·(4 − x − y/(1 + x)) has a cubic numerator)."""
    if X.shape[1] > 5:
        return []
    symbols = [make_symbols(names)[n] for n in names]
    top_columns, top_terms = monomials(X, symbols, degree + (X.shape[1] <= 2))
    columns, terms = monomials(X, symbols, degree)
    if not columns:
        return []
    features = np.column_stack(top_columns + [-y * c for c in columns])
    proposals = []
    for coefficients in sparse_fits(features, y, max_terms, intercept=True):
        if not np.any(coefficients[len(top_terms):-1]):
            continue
        top = sp.Float(coefficients[-1], 15) + combination(coefficients[: len(top_terms)], top_terms)
        proposals.append(top / (1 + combination(coefficients[len(top_terms):-1], terms)))
    return proposals
