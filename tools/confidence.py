"""Whether a found formula deserves trust beyond the box it was fitted in: data only, no ground truth.

A smooth stand-in (a rational function for a Gaussian, tanh for sin, 1/(1 − a) for 1/√(1 − a)) fits the sampled
box to R² ≥ 0.999 by bending its constants to the data it saw; the law needs no such bending. So the formula's
constants are refitted on the interior of the data only (each input in turn: the rows inside its central
quantiles) and the refitted formula predicts the rows left out at that input's edges, a small extrapolation. The
law predicts them about as well as the formula fitted on every row; a stand-in's edge error grows by half or more
(``EdgeOptions.factor``). Noise cancels to first order: both fits are judged on the same edge rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from tools.constants import evaluate, refit


@dataclass
class EdgeOptions:
    """Settings of the edge test.

    Parameters
    ----------
    quantile : float
        Rows below this quantile or above its complement, for one input, are that input's edges.
    factor : float
        The interior fit's edge error may exceed the full fit's by this factor (the constants' own estimation
        error from half the rows costs a little extrapolation). Measured on exp(−x²), x in [−2, 2], 300 rows:
        the law gives 1.0 at σ = 0 and 1.08–1.13 at σ = 1 % and 10 %; the stand-ins a/(1 + bx² + cx⁴) and
        a/√(1 + bx² + cx⁴) 1.6–2.6 at every noise level.
    floor : float
        Edge errors below this fraction of the target's variance are ties (noiseless data: both near rounding).
    max_inputs : int
        Inputs tested, those of the formula in order.
    """

    quantile: float = 0.25
    factor: float = 1.5
    floor: float = 1e-10
    max_inputs: int = 4


def edge_ratio(expr: sp.Expr, X: np.ndarray, y: np.ndarray, names: list[str],
               options: EdgeOptions | None = None) -> float:
    """The worst, over the formula's inputs, of (edge error of the formula refitted on the interior) / (edge
    error of the formula as fitted), floors added to both; 1 for a formula without fitted constants."""
    options = options or EdgeOptions()
    if not expr.atoms(sp.Float):
        return 1.0
    scale = max(np.abs(y).max(), 1e-300)
    floor = options.floor * float(np.var(y / scale))
    worst = 1.0
    used = [i for i, n in enumerate(names) if sp.Symbol(n, real=True) in expr.free_symbols][: options.max_inputs]
    for i in used:
        low, high = np.quantile(X[:, i], [options.quantile, 1 - options.quantile])
        inside = (X[:, i] >= low) & (X[:, i] <= high)
        if inside.sum() < 10 or (~inside).sum() < 5:
            continue
        interior = refit(expr, X[inside], y[inside], names)
        edge = ~inside
        errors = [float(np.mean(((evaluate(e, X[edge], names) - y[edge]) / scale) ** 2)) for e in (interior, expr)]
        if not np.isfinite(errors[0]):
            return float("inf")
        worst = max(worst, (errors[0] + floor) / (errors[1] + floor))
    return worst
