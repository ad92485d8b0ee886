"""Experiment designs over a twin's input box: grid, uniform random, Latin hypercube, Sobol, and the
resonance-focused design of ГРА (mechanism A)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import qmc

from twin import Twin

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


@dataclass
class ResonanceDesign:
    """Points chosen by mechanism A, with the simulator-call budget accounted for."""

    points: np.ndarray
    simulator_calls: int
    score_evaluations: int
    rounds: list[dict] = field(default_factory=list)


def resonance_design(
    twin: Twin,
    budget: int,
    rounds: int = 3,
    pilot_fraction: float = 0.25,
    beta: float = 1.0,
    quantile: float = 0.5,
    pool: int = 2048,
    seed: int = 0,
    params: dict[str, float] | None = None,
    update: Callable[[np.ndarray], dict[str, float]] | None = None,
    unknown: Sequence[str] | None = None,
) -> ResonanceDesign:
    """A space-filling Sobol pilot, then ``rounds`` rounds that draw new points from a seeded candidate
    pool with p(x) ∝ clip(exp(β(ω(x) − τ))), τ the ``quantile`` of ω over the pool (DESIGN §7, A).

    ``budget`` counts simulator calls (the points of the design); the score is evaluated on the twin at
    the parameter estimate ``params`` (default: the twin's defaults) and counted separately. With
    ``update``, the estimate is renewed before each round from the points chosen so far (the caller
    observes them and fits): a sequential design that does not chase ω at a wrong first guess.
    ω is taken with respect to the ``unknown`` parameters (default: all).
    """
    from tools.resonance import resonance_score, selection_probabilities, threshold

    if budget < 1:
        raise ValueError(f"the simulator-call budget must be at least 1, got {budget}")
    if rounds < 0 or not 0 < pilot_fraction <= 1:
        raise ValueError("need rounds >= 0 and 0 < pilot_fraction <= 1")
    bounds = twin.input_bounds()
    n_pilot = budget if rounds == 0 else max(1, int(round(pilot_fraction * budget)))
    chosen = [design(bounds, n_pilot, "sobol", seed)]
    history = []
    remaining = budget - n_pilot
    rng = np.random.default_rng(seed + 1)
    evaluations = 0
    for r in range(rounds):
        take = remaining // (rounds - r)
        if take == 0:
            continue
        if update is not None:
            params = update(np.concatenate(chosen))
        candidates = design(bounds, max(pool, 2 * take), "uniform", seed + 100 + r)
        scores = resonance_score(twin, candidates, params, unknown=unknown)
        evaluations += len(candidates)
        tau = threshold(scores, quantile)
        picked = rng.choice(len(candidates), size=take, replace=False,
                            p=selection_probabilities(scores, tau, beta))
        chosen.append(candidates[picked])
        history.append({"round": r + 1, "tau": tau, "points": int(take),
                        "mean_score_picked": float(scores[picked].mean()), "mean_score_pool": float(scores.mean()),
                        "params": dict(params) if params else None})
        remaining -= take
    points = np.concatenate(chosen)
    return ResonanceDesign(points, len(points), evaluations, history)
