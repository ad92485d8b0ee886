"""The power arm: y = ±(s(x))^q with s a sparse sum, for q on a grid."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.sparse import sparse_proposals
from tools.arms.base import DataArm
from tools.constants import evaluate, nmse


@dataclass(frozen=True)
class PowerArm(DataArm):
    """y = ±(s(x))^q with s a sparse sum of at most ``max_terms`` library features, for each q of ``exponents``
    (the sum inside a power: (a/b − c/b²)^2.5, (x − 0.3z)^1.5); a one-signed target of at most ``max_inputs``
    inputs only.

    Parameters
    ----------
    exponents : tuple of float
        The grid of q: the transform arm's square root, reciprocal and reciprocal square root (q = 1/2, −1,
        −1/2) aside; the parametric arm frees the chosen q afterwards (2.5 -> 2.43).
    kept : int
        The proposals of this many exponents are kept (by the sparse fit's error on y^(1/q)), one fit each:
        every proposal costs a polish, and the polish of an approximant is slow.
    """

    name: ClassVar[str] = "power"
    exponents: tuple[float, ...] = (-3.0, -2.5, -2.0, -1.5, -2 / 3, -1 / 3, 1 / 3, 2 / 3, 1.5, 2.0, 2.5, 3.0)
    kept: int = 2
    max_terms: int = 3
    max_inputs: int = 4

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        if (y == 0).any() or abs(np.mean(np.sign(y))) < 1 or X.shape[1] > self.max_inputs:
            return []
        sign = float(np.sign(y[0]))
        scored = []
        for q in self.exponents:
            with np.errstate(all="ignore"):
                g = np.abs(y) ** (1 / q)
            if not np.isfinite(g).all():
                continue
            fits = [(nmse(evaluate(f, X, names), g), f) for f in sparse_proposals(X, g, names, self.max_terms)]
            if fits:
                scored.append((*min(fits, key=lambda fit: fit[0]), q))
        scored.sort(key=lambda item: item[0])
        exact = {q: Fraction(q).limit_denominator(6) for q in self.exponents}
        return [sign * f ** sp.Rational(exact[q].numerator, exact[q].denominator) for _, f, q in scored[:self.kept]]
