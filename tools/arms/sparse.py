"""The sparse arm: sparse linear regression over a library of features (PDE-FIND / SINDy's idea for y = f(X))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.library import combination, feature_library
from tools.sparse import sparse_fits


@dataclass(frozen=True)
class SparseArm(DataArm):
    """The best 1..``max_terms``-term fits over ``tools.library.feature_library``."""

    name: ClassVar[str] = "sparse"
    max_terms: int = 6

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        return sparse_proposals(X, y, names, self.max_terms)


def sparse_proposals(X: np.ndarray, y: np.ndarray, names: list[str], max_terms: int) -> list[sp.Expr]:
    """Sparse linear regression over the feature library: one formula per number of terms, 1..``max_terms``."""
    features, terms = feature_library(X, names)
    if not terms:
        return []
    proposals = []
    for coefficients in sparse_fits(features, y, max_terms, intercept=True):
        proposals.append(sp.Float(coefficients[-1], 15) + combination(coefficients[:-1], terms))
    return proposals
