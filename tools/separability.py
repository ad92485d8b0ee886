"""Separability and symmetry tests on a fitted model, as AI Feynman does: a smooth model of the data is
queried at points the data never held, to ask whether y = g(x_A) + h(x_B), y = g(x_A)·h(x_B), or whether
y depends on two inputs only through x_i − x_j or x_i / x_j. Each finding splits or shrinks the search.

Written here: no maintained library offers these tests on an arbitrary regression model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
#: A split or symmetry is accepted when its violation is below this many times the model's own error
#: (its validation RMS relative to the target's spread), and below MAX_VIOLATION in any case.
TOLERANCE_FACTOR, MAX_VIOLATION = 3.0, 0.05
MAX_INPUTS = 8


@dataclass(frozen=True)
class Split:
    """y = g(x_left) ∘ h(x_right), ∘ = + or ×; ``violation`` is the mixed-difference test's relative error."""

    kind: Literal["additive", "multiplicative"]
    left: tuple[int, ...]
    right: tuple[int, ...]
    violation: float


@dataclass(frozen=True)
class Symmetry:
    """y depends on inputs i and j only through x_i − x_j (``difference``) or x_i / x_j (``ratio``)."""

    kind: Literal["difference", "ratio"]
    i: int
    j: int
    violation: float


def _bipartitions(d: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every split of the inputs into two non-empty groups, the group holding input 0 first."""
    splits = []
    for size in range(1, d):
        for left in itertools.combinations(range(d), size):
            if 0 in left:
                splits.append((left, tuple(i for i in range(d) if i not in left)))
    return splits


def separable_splits(predict: Predict, X: np.ndarray, model_error: float, seed: int = 0,
                     pairs: int = 256) -> list[Split]:
    """Additive and multiplicative splits of the inputs that ``predict`` satisfies, best first.

    For row pairs (a, b), (a', b') the test reads f(a,b) + f(a',b') − f(a,b') − f(a',b) = 0 (additive)
    and the same for log|f| (multiplicative, where f keeps one sign), relative to the spread of f (or log|f|).
    ``model_error`` is the model's validation RMS relative to the target's standard deviation.
    """
    d = X.shape[1]
    if not 2 <= d <= MAX_INPUTS:
        return []
    rng = np.random.default_rng(seed)
    first, second = X[rng.integers(0, len(X), pairs)], X[rng.integers(0, len(X), pairs)]
    accepted: list[Split] = []
    for left, right in _bipartitions(d):
        mixed_one, mixed_two = first.copy(), first.copy()
        mixed_one[:, right] = second[:, right]  # (a, b')
        mixed_two[:, left] = second[:, left]    # (a', b)
        values = predict(np.vstack([first, second, mixed_one, mixed_two])).reshape(4, pairs)
        tests = {"additive": values}
        if (np.sign(values) == np.sign(values[0, 0])).all() and (values != 0).all():
            tests["multiplicative"] = np.log(np.abs(values))
        for kind, v in tests.items():
            spread = np.std(v[:2]) or 1.0
            violation = float(np.sqrt(np.mean((v[0] + v[1] - v[2] - v[3]) ** 2)) / spread)
            # log|f| magnifies the model's error where |f| is small: judge it against the same bound.
            if violation < min(MAX_VIOLATION, TOLERANCE_FACTOR * max(model_error, 1e-4)):
                accepted.append(Split(kind, left, right, violation))
    return sorted(accepted, key=lambda s: s.violation)


def symmetries(predict: Predict, X: np.ndarray, model_error: float, seed: int = 0, points: int = 256,
               shift: float = 0.1) -> list[Symmetry]:
    """Pairs of inputs on which ``predict`` depends only through their difference or ratio: shifting both
    by the same amount (``shift`` × their spread) or scaling both by the same factor leaves f unchanged.
    Points are moved towards the data's centre so that the model is not asked outside the data."""
    d = X.shape[1]
    if not 2 <= d <= MAX_INPUTS:
        return []
    rng = np.random.default_rng(seed)
    base = X[rng.integers(0, len(X), points)]
    centre, spread = np.median(X, axis=0), X.std(axis=0)
    reference = predict(base)
    scale = np.std(reference) or 1.0
    bound = min(MAX_VIOLATION, TOLERANCE_FACTOR * max(model_error, 1e-4))

    def change(moved: np.ndarray) -> float:
        return float(np.sqrt(np.mean((predict(moved) - reference) ** 2)) / scale)

    found = []
    for i, j in itertools.combinations(range(d), 2):
        if spread[i] == 0 or spread[j] == 0:
            continue
        moves = {}  # kind -> (both inputs moved, input i alone moved)
        direction = np.sign(centre[i] - base[:, i]) + (base[:, i] == centre[i])
        step = direction * shift * min(spread[i], spread[j])
        moves["difference"] = (base + _at(d, {i: step, j: step}), base + _at(d, {i: step}))
        if (X[:, [i, j]] > 0).all():
            factor = np.where(base[:, i] < centre[i], 1 + shift, 1 / (1 + shift))
            moves["ratio"] = (base * _at(d, {i: factor, j: factor}, fill=1.0), base * _at(d, {i: factor}, fill=1.0))
        for kind, (both, alone) in moves.items():
            violation, single = change(both), change(alone)
            # Invariant under the joint move although moving one input alone changes f: a symmetry, not
            # merely a function that barely depends on these inputs.
            if violation < bound and violation < 0.1 * single:
                found.append(Symmetry(kind, i, j, violation))
    return sorted(found, key=lambda s: s.violation)


def _at(d: int, columns: dict[int, np.ndarray], fill: float = 0.0) -> np.ndarray:
    """An (n, d) array holding ``columns`` and ``fill`` elsewhere (a move of some inputs)."""
    n = len(next(iter(columns.values())))
    out = np.full((n, d), fill)
    for k, values in columns.items():
        out[:, k] = values
    return out
