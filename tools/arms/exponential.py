"""The exponential arm: y = ±exp(g(X)) with g sparse over the feature library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.arms.sparse import sparse_proposals


@dataclass(frozen=True)
class ExponentialArm(DataArm):
    """y = ±exp(g(X)), g sparse over the feature library with at most ``max_terms`` terms, fitted to log|y|
    (Gaussians, Boltzmann factors, growth laws); a target of one sign only."""

    name: ClassVar[str] = "exponential"
    max_terms: int = 4

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        if (y == 0).any() or abs(np.mean(np.sign(y))) < 0.995:
            return []
        sign = float(np.sign(np.mean(y)))
        return [sign * sp.exp(g) for g in sparse_proposals(X, np.log(np.abs(y)), names, self.max_terms)]
