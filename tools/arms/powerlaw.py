"""The power-law arm: y = c·Π xᵢ^aᵢ, fitted in log space."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from twin.expressions import make_symbols


@dataclass(frozen=True)
class PowerLawArm(DataArm):
    """A signed power law fitted by least squares on log|y| (``powerlaw_fit``)."""

    name: ClassVar[str] = "powerlaw"

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        return powerlaw_fit(X, y, names)


def powerlaw_fit(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """y = c·Π x_i^a_i fitted in log space, with the sign of y explained by a product of input signs."""
    if (y == 0).any() or (X == 0).any() or X.shape[1] > 10:
        return []
    symbols = make_symbols(names)
    signs_y = np.sign(y)
    signs_x = np.sign(X)
    for subset_size in range(X.shape[1] + 1):
        for subset in itertools.combinations(range(X.shape[1]), subset_size):
            product = np.prod(signs_x[:, list(subset)], axis=1) if subset else np.ones(len(y))
            overall = np.sign(np.mean(product * signs_y))
            if overall != 0 and np.mean(product * overall == signs_y) > 0.995:
                return _powerlaw_fit(X, y, names, symbols, set(subset), overall)
    return []


def _powerlaw_fit(X, y, names, symbols, odd: set[int], overall: float) -> list[sp.Expr]:
    design = np.column_stack([np.ones(len(y)), np.log(np.abs(X))])
    coefficients, *_ = np.linalg.lstsq(design, np.log(np.abs(y)), rcond=None)
    factors = []
    for i, exponent in enumerate(coefficients[1:]):
        rounded = sp.Rational(round(exponent * 2), 2)
        power = rounded if abs(exponent - float(rounded)) < 0.05 else sp.Float(exponent, 6)
        symbol = symbols[names[i]]
        if power == 0 and i not in odd:
            continue
        if (X[:, i] > 0).all() or (power.is_integer and (int(power) % 2 == 1) == (i in odd)):
            factors.append(symbol**power)
        elif i in odd:
            factors.append(sp.sign(symbol) * sp.Abs(symbol) ** power)
        else:
            factors.append(sp.Abs(symbol) ** power)
    scale = sp.Float(overall * np.exp(coefficients[0]), 15)
    return [scale * sp.Mul(*factors)]
