"""Sinusoids in data: the frequency of one oscillation in a time series, and laws of one input that are periodic
in it (a lattice's dispersion relation ω(k) is periodic in the wavenumber k, Bloch's theorem).

Both fit y ≈ a + b·cos(ωx) + c·sin(ωx) by variable projection: linear least squares for a, b, c at each ω,
a one-dimensional search over ω. The scan over a grid of ω is scipy's generalized Lomb–Scargle periodogram
(``floating_mean=True``, normalised: 1 − RSS/TSS of exactly this fit); the refinement between grid points and the
fitted a, b, c are written here, as scipy returns the periodogram only.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.signal import lombscargle

#: Frequencies scanned (geometrically spaced) before the best is refined.
FREQUENCY_GRID = 400


def offset_fit(columns: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares (offset, one coefficient per column) of y, and the residual sum of squares."""
    design = np.column_stack([np.ones_like(y), *columns])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    misfit = y - design @ coefficients
    return coefficients, float(misfit @ misfit)


def sinusoid_fit(x: np.ndarray, y: np.ndarray, omega: float) -> tuple[np.ndarray, float]:
    """Least-squares (a, b, c) of y ≈ a + b·cos(ωx) + c·sin(ωx), and the residual sum of squares."""
    return offset_fit([np.cos(omega * x), np.sin(omega * x)], y)


def sinusoid_frequency(x: np.ndarray, y: np.ndarray, low: float, high: float) -> float:
    """The ω in [low, high] whose sinusoid fit leaves the least residual: the maximum-likelihood frequency of
    one sinusoid in white noise, if the interval brackets one minimum."""
    return float(minimize_scalar(lambda omega: sinusoid_fit(x, y, omega)[1], bounds=(low, high), method="bounded",
                                 options={"xatol": 1e-12 * max(high, 1.0)}).x)


def best_frequency(x: np.ndarray, y: np.ndarray) -> float | None:
    """The frequency of the best sinusoid fit over the inputs' span: from a quarter period across the span to
    one period per two distinct inputs, scanned on a grid, then refined between the grid neighbours."""
    span = float(np.ptp(x))
    distinct = len(np.unique(x))
    if span <= 0 or distinct < 5 or np.ptp(y) == 0:
        return None
    grid = np.geomspace(np.pi / (2 * span), np.pi * distinct / span, FREQUENCY_GRID)
    best = int(np.argmax(lombscargle(x, y, grid, floating_mean=True, normalize=True)))
    return sinusoid_frequency(x, y, grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)])
