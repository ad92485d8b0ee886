"""Scale-free search: inputs and target brought to order one by powers of ten, formulas mapped back.

The arms hold absolute thresholds (a column is constant below a spread of 1e-12, an enumerated value beyond
1e10 is dropped, exp overflows past 700): a gravitational force of 1e20 N between masses of 1e24 kg, or a
target of 1e-20, falls outside all of them. ``Scaling`` divides each column whose typical magnitude lies
outside ``[10^-limit, 10^limit]`` by the power of ten nearest to it, so that the search sees numbers of order
one, and ``lift`` maps a formula found on the scaled data back to the original variables (x -> x/s, y -> s·y).
Powers of ten keep simple constants simple: a constant snapped in the scaled problem becomes that constant
times a power of ten. Data already of order one (every catalogue suite) is left exactly as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from twin.expressions import make_symbols

#: Columns whose median magnitude lies within 10^±MAGNITUDE_LIMIT are not scaled (the suites' ranges, 0.01–1000,
#: searched as they are); beyond it a column is divided by the power of ten nearest to its median magnitude.
MAGNITUDE_LIMIT = 3.0


def _exponent(values: np.ndarray, limit: float) -> int:
    magnitudes = np.abs(values[values != 0])
    if not len(magnitudes):
        return 0
    order = float(np.log10(np.median(magnitudes)))
    return int(round(order)) if abs(order) > limit else 0


@dataclass
class Scaling:
    """Powers of ten that bring inputs and target to order one (``fit``), and their inverse on formulas.

    Parameters
    ----------
    limit : float
        Orders of magnitude around one within which a column is left alone.
    """

    limit: float = MAGNITUDE_LIMIT
    input_exponents_: list[int] = field(default_factory=list, init=False)
    target_exponent_: int = field(default=0, init=False)

    def fit(self, X: np.ndarray, y: np.ndarray) -> Scaling:
        self.input_exponents_ = [_exponent(X[:, i], self.limit) for i in range(X.shape[1])]
        self.target_exponent_ = _exponent(y, self.limit)
        return self

    @property
    def active(self) -> bool:
        return bool(self.target_exponent_ or any(self.input_exponents_))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scaled copies of ``X`` and ``y``."""
        return X / 10.0 ** np.array(self.input_exponents_, dtype=float), y / 10.0**self.target_exponent_

    def lift(self, expr: sp.Expr, names: Sequence[str]) -> sp.Expr:
        """A formula over the scaled columns, as a formula over the original ones."""
        if not self.active:
            return expr
        symbols = make_symbols(names)
        scaled = {symbols[n]: symbols[n] * sp.Float(10.0**-k, 15)
                  for n, k in zip(names, self.input_exponents_) if k}
        return sp.Float(10.0**self.target_exponent_, 15) * expr.xreplace(scaled)

    def describe(self, names: Sequence[str]) -> str:
        parts = [f"{n} by 1e{k}" for n, k in zip(names, self.input_exponents_) if k]
        if self.target_exponent_:
            parts.append(f"the target by 1e{self.target_exponent_}")
        return "searched at order one: divided " + ", ".join(parts)
