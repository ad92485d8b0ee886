"""The transform arm: sparse, rational and power-law fits of a transformed target g(y), mapped back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.arms.powerlaw import powerlaw_fit
from tools.arms.rational import rational_fits
from tools.arms.sparse import sparse_proposals
from tools.library import combination, monomials
from tools.sparse import sparse_fits
from twin.expressions import make_symbols

#: Target transforms g(y) with their inverses and where they apply: laws such as A = F/√(P(ω)),
#: ω = √(m² + …), θ = arcsin(λ/d) or Bose/Fermi occupations are sparse or rational in g(y) although
#: not in y. The first three act on |y| of a one-signed target (the sign is restored).
TRANSFORMS: dict[str, tuple] = {
    "square": (lambda y: y**2, lambda e: sp.sqrt(e), lambda y: True),
    "reciprocal": (lambda y: 1 / y, lambda e: 1 / e, lambda y: True),
    "reciprocal_square": (lambda y: 1 / y**2, lambda e: 1 / sp.sqrt(e), lambda y: True),
    "sine": (np.sin, sp.asin, lambda y: np.abs(y).max() <= np.pi / 2),
    "cosine": (np.cos, sp.acos, lambda y: ((y >= 0) & (y <= np.pi)).all()),
    "tangent": (np.tan, sp.atan, lambda y: np.abs(y).max() < 0.49 * np.pi),
    "bose": (lambda y: np.log1p(1 / y), lambda e: 1 / (sp.exp(e) - 1), lambda y: (y > 0).all()),
    "fermi": (lambda y: np.log(1 / y - 1), lambda e: 1 / (sp.exp(e) + 1), lambda y: ((y > 0) & (y < 1)).all()),
}
SIGNED_TRANSFORMS = ("sine", "cosine", "tangent", "bose", "fermi")


@dataclass(frozen=True)
class TransformArm(DataArm):
    """Fits of each applicable ``TRANSFORMS`` g(y) (for targets of one sign), mapped back through g⁻¹: sparse
    (``sparse_terms``), rational (``rational_terms``), a power law inside the function (1/(exp(c·E^1.3/T) − 1)),
    and polynomials (``polynomial_terms``)."""

    name: ClassVar[str] = "transform"
    sparse_terms: int = 5
    rational_terms: int = 6
    polynomial_terms: int = 6

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        if (y == 0).any() or abs(np.mean(np.sign(y))) < 1:
            return []
        sign = float(np.sign(y[0]))
        symbols = [make_symbols(names)[n] for n in names]
        columns, terms = monomials(X, symbols, {1: 4, 2: 4, 3: 3}.get(X.shape[1], 2))
        proposals = []
        for name, (forward, inverse, applies) in TRANSFORMS.items():
            signed = name in SIGNED_TRANSFORMS
            target = y if signed else np.abs(y)
            if not applies(target):
                continue
            with np.errstate(all="ignore"):
                g = forward(target)
            if not np.isfinite(g).all():
                continue
            fits = [*sparse_proposals(X, g, names, self.sparse_terms),
                    *rational_fits(X, g, names, max_terms=self.rational_terms),
                    *powerlaw_fit(X, g, names)]  # a power law inside the function: 1/(exp(c·E^1.3/T) − 1)
            for coefficients in sparse_fits(np.column_stack(columns), g, self.polynomial_terms, intercept=True):
                fits.append(sp.Float(coefficients[-1], 15) + combination(coefficients[:-1], terms))
            proposals += [inverse(fit) if signed else sign * inverse(fit) for fit in fits]
        return proposals
