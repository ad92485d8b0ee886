"""The periodic arm: a sinusoid of one input, its frequency fitted (tools.periodic)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from tools.periodic import offset_fit, best_frequency, sinusoid_fit
from twin.expressions import make_symbols


@dataclass(frozen=True)
class PeriodicArm(DataArm):
    """For one input: y and, for targets of one sign, ±√(y²) as a + b·cos(ωx) + c·sin(ωx), and with the cosine
    or the sine alone, ω fitted (constants are refitted and snapped downstream like every proposal's).

    Not run by default: asked for where periodicity is known from the physics (``discover_law`` on a lattice's
    dispersion table); elsewhere a sinusoid through a few points of one input can fit noise, and the benchmark
    suites were measured without it."""

    name: ClassVar[str] = "periodic"
    default: ClassVar[bool] = False

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:

        if X.shape[1] != 1:
            return []
        x = X[:, 0]
        symbol = make_symbols(names)[names[0]]
        one_sign = bool((y > 0).all() or (y < 0).all())
        sign = sp.Integer(1 if y[0] > 0 else -1)
        targets = [(y, lambda e: e)] + ([(y**2, lambda e: sign * sp.sqrt(e))] if one_sign else [])
        proposals = []
        for target, inverse in targets:
            omega = best_frequency(x, target)
            if omega is None:
                continue
            w = sp.Float(omega, 15)
            cos, sin = sp.cos(w * symbol), sp.sin(w * symbol)
            (a, b, c), _ = sinusoid_fit(x, target, omega)
            proposals.append(inverse(sp.Float(a, 15) + sp.Float(b, 15) * cos + sp.Float(c, 15) * sin))
            for term, column in ((cos, np.cos(omega * x)), (sin, np.sin(omega * x))):
                (offset, scale), _ = offset_fit([column], target)
                proposals.append(inverse(sp.Float(offset, 15) + sp.Float(scale, 15) * term))
        return proposals
