"""Experiment designs over a twin's input box: grid, uniform random, Latin hypercube, Sobol."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from scipy.stats import qmc

DesignMethod = Literal["grid", "uniform", "lhs", "sobol"]
MAX_SAMPLES = 1_000_000


def design(bounds: np.ndarray, n: int, method: DesignMethod = "sobol", seed: int = 0) -> np.ndarray:
    """``n`` points in the box ``bounds`` (d, 2). Grids round ``n`` down to a full grid; Sobol uses
    a scrambled sequence (any ``n``, balanced at powers of two)."""
    bounds = np.asarray(bounds, dtype=float)
    if bounds.ndim != 2 or bounds.shape[1] != 2:
        raise ValueError(f"bounds must have shape (d, 2), got {bounds.shape}")
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"number of samples must be between 1 and {MAX_SAMPLES}, got {n}")
    d = len(bounds)
    low, high = bounds[:, 0], bounds[:, 1]
    if method == "grid":
        per_axis = max(1, int(np.floor(n ** (1 / d) + 1e-9)))
        axes = [np.linspace(lo, hi, per_axis) for lo, hi in bounds]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    if method == "uniform":
        unit = np.random.default_rng(seed).random((n, d))
    elif method == "lhs":
        unit = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(n)
    elif method == "sobol":
        with warnings.catch_warnings():  # non-power-of-two sizes are fine for sampling, just less balanced
            warnings.simplefilter("ignore", UserWarning)
            unit = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(seed)).random(n)
    else:
        raise ValueError(f"unknown design method {method!r}; use grid, uniform, lhs or sobol")
    return low + unit * (high - low)
