"""Variable screening: which input columns a target does not depend on, before the expensive arms.

A shadow test in the manner of Boruta (Kursa & Rudnicki 2010): every column gets shuffled copies, which by
construction carry no information; an extremely randomised forest (scikit-learn's ``ExtraTreesRegressor``)
is fitted to the target on columns and copies, and a column whose impurity importance does not beat the best
shuffled copy in a majority of seeded rounds is declared irrelevant. Interactions count: a column that only
matters through a product with another still earns importance in the trees. An irrelevant column is one more
shuffled column: it beats the best of k shadows by chance in one round of k + 1. With three shadows per column
(k = 3d) and a majority of five rounds needed, four inputs keep an irrelevant one with probability ≈ 0.005,
while a column that matters wins nearly every round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor


@dataclass
class ScreenOptions:
    """Settings of the shadow screen.

    Parameters
    ----------
    rounds : int
        Seeded rounds, each with fresh shuffles; a column is kept when it beats every shadow in a majority.
    trees : int
        Trees per round's forest.
    shadows : int
        Shuffled copies per column.
    rows : int
        At most this many seeded rows are screened.
    margin : float
        A column wins a round when its importance exceeds this multiple of the best shadow importance.
    """

    rounds: int = 5
    trees: int = 60
    shadows: int = 3
    rows: int = 600
    margin: float = 1.0


def irrelevant_inputs(X: np.ndarray, y: np.ndarray, seed: int, options: ScreenOptions | None = None) -> list[int]:
    """Indices of the columns of ``X`` whose importance for ``y`` does not beat every shuffled copy of a column
    in a majority of rounds, on y and, where y takes both signs, on |y|.

    The sign of a product of signed factors (−p·E·cos θ over inputs of both signs) is a parity of the factors'
    signs, which no single column predicts and trees do not find; the magnitude |y| = |p|·|E|·|cos θ| shows every
    factor. A column is kept when it wins on either target."""
    options = options or ScreenOptions()
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[: options.rows]
    X, y = X[rows], y[rows]
    targets = [y, np.abs(y)] if (y > 0).any() and (y < 0).any() else [y]
    return sorted(set.intersection(*(set(_losers(X, target, rng, seed, options)) for target in targets)))


def _losers(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, seed: int, options: ScreenOptions) -> list[int]:
    """The columns that do not beat every shadow in a majority of rounds for the target ``y``."""
    n_inputs = X.shape[1]
    # ranks, not values: importance must not depend on a column's scale or on a target spanning decades
    ranks = np.argsort(np.argsort(X, axis=0), axis=0).astype(float)
    y = np.argsort(np.argsort(y)).astype(float)
    wins = np.zeros(n_inputs, int)
    for round_ in range(options.rounds):
        shadows = rng.permuted(np.tile(ranks, options.shadows), axis=0)
        forest = ExtraTreesRegressor(n_estimators=options.trees, min_samples_leaf=3, max_features=1.0,
                                     random_state=seed + round_, n_jobs=1)
        forest.fit(np.column_stack([ranks, shadows]), y)
        importance = forest.feature_importances_
        wins += importance[:n_inputs] > options.margin * importance[n_inputs:].max()
    return [i for i in range(n_inputs) if 2 * wins[i] <= options.rounds]
