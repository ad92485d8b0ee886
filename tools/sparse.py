"""Sparse least squares: the best k-term subset of a library, exhaustively where the subsets are few, by
orthogonal matching pursuit where they are many."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
from sklearn.linear_model import OrthogonalMatchingPursuit

#: Subset sizes with at most this many subsets are searched exhaustively, larger ones by matching pursuit.
EXHAUSTIVE_SUBSETS = 6000
#: Subset searches look at most this many evenly spaced rows (structure, not final constants: every
#: proposal is refitted on all training rows when polished); long ODE tables hold tens of thousands.
SEARCH_ROWS, EXHAUSTIVE_ROWS = 2000, 600


def sparse_fits(features: np.ndarray, y: np.ndarray, max_terms: int, intercept: bool) -> list[np.ndarray]:
    """Coefficient vectors of sparse least-squares fits with 1..max_terms features (plus an intercept,
    returned last, when asked). Small sizes are searched exhaustively (greedy pursuit misses the right
    subset when the library's columns are correlated); larger ones by orthogonal matching pursuit."""
    if len(y) > SEARCH_ROWS:
        rows = np.linspace(0, len(y) - 1, SEARCH_ROWS).astype(int)
        features, y = features[rows], y[rows]
    n_features = features.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):  # a feature beyond 1e154 has an inf spread: scaled to 0
        scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    scaled = features / scale
    base = np.ones((len(y), 1)) if intercept else np.empty((len(y), 0))
    # The exhaustive search ranks subsets on fewer rows; the winner is refitted on all.
    few = np.linspace(0, len(y) - 1, min(len(y), EXHAUSTIVE_ROWS)).astype(int)
    fits = []
    for k in range(1, min(max_terms, n_features) + 1):
        if math.comb(n_features, k) <= EXHAUSTIVE_SUBSETS:
            subset = _best_subset(np.column_stack([scaled[few], base[few]]), y[few], n_features, k)
            solution, *_ = np.linalg.lstsq(np.column_stack([scaled[:, subset], base]), y, rcond=None)
            coefficients = np.zeros(n_features + intercept)
            coefficients[list(subset)] = solution[:k]
            if intercept:
                coefficients[-1] = solution[-1]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=intercept).fit(scaled, y)
            coefficients = np.append(model.coef_, model.intercept_) if intercept else model.coef_.copy()
        coefficients[:n_features] /= scale
        fits.append(coefficients)
    return fits


#: Subsets scored per batch of the exhaustive search (bounds its memory to ~30 MB).
SUBSET_BATCH = 1000


def _best_subset(design: np.ndarray, y: np.ndarray, n_features: int, k: int) -> tuple[int, ...]:
    """The ``k`` of the first ``n_features`` columns of ``design`` (the columns after them, an intercept, are
    always in) whose least-squares fit to ``y`` leaves the least residual; of fits equal to rounding (two
    exact fits, duplicate columns), the first subset in library order.

    All subsets are scored in batches (thousands of small np.linalg.lstsq calls took most of a noisy
    search's time): with design = QR, a subset's columns are Q·R_S, so its residual is what lies outside Q
    plus the residual of Qᵀy on R_S, from a batched QR of the small R_S. The residual vectors themselves are
    summed, not ‖y‖² − ‖projection‖², which loses every digit when a fit is exact. A subset whose columns are
    collinear only repeats a smaller subset's fit and ranks last.
    """
    subsets = np.array(list(itertools.combinations(range(n_features), k)))
    always = np.arange(n_features, design.shape[1])
    index = np.column_stack([subsets, np.broadcast_to(always, (len(subsets), len(always)))])
    q, r = np.linalg.qr(design)
    rss = np.empty(len(index))
    with np.errstate(over="ignore", invalid="ignore"):  # a target beyond 1e154 squares to inf: every fit ties last
        z = q.T @ y
        outside = float(np.sum((y - q @ z) ** 2))
        for start in range(0, len(index), SUBSET_BATCH):
            part = np.moveaxis(r[:, index[start:start + SUBSET_BATCH]], 0, 1)  # (batch, rank, columns)
            q_part, r_part = np.linalg.qr(part)
            left = z - np.einsum("bpm,bm->bp", q_part, np.einsum("bpm,p->bm", q_part, z))
            diagonal = np.abs(np.diagonal(r_part, axis1=1, axis2=2))
            collinear = diagonal.min(axis=1) <= 1e-10 * np.maximum(diagonal.max(axis=1), 1e-300)
            rss[start:start + SUBSET_BATCH] = np.where(collinear, np.inf, outside + np.sum(left**2, axis=1))
        tied = rss <= rss.min() * (1 + 1e-9) + 1e-13 * float(y @ y)
    return tuple(int(i) for i in subsets[int(np.argmax(tied))])
