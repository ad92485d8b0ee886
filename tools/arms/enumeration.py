"""Bounded enumerative search: every small expression over the inputs, deduplicated by its values.

Expressions are built bottom-up by size (number of nodes) from the inputs and the constants 1 and 2
with unary ops (x², √x, 1/x, sin, cos, exp, log) and binary ops (+, −, ×, ÷); two expressions with the
same values on the sampled rows are one (the smaller, found first, is kept), which is what keeps the
enumeration tractable ("brute force" in AI Feynman; exhaustive symbolic regression). Each expression f
is then scored as a one-term fit g(y) ≈ a·f + b and, with a partner feature, a two-term fit
g(y) ≈ a·f + c·h + b, for several target transforms g (y, 1/y, y², √|y|, log|y|, sin y).

Written here because no maintained Python library enumerates expression trees with semantic
deduplication; the scoring is plain linear algebra on standardised columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import DataArm
from twin.expressions import make_symbols

#: Largest expression size (nodes), expressions kept per size, candidate values built per size, inputs.
MAX_SIZE, LEVEL_CAP, CANDIDATE_CAP, MAX_INPUTS = 7, 12_000, 400_000, 4
ROWS, FINGERPRINT_ROWS = 256, 24
#: Features that get a partner searched: the best one-term fits and every expression of at most
#: ``SEED_SIZE`` nodes (in one dimension hundreds of smooth features fit almost equally well alone);
#: pairs are ranked on ``RANK_ROWS`` rows; proposals kept per transform.
PARTNER_SEEDS, SEED_SIZE, RANK_ROWS, KEEP = 200, 3, 64, 4
LIMIT = 1e10

Unary = tuple[Callable[[np.ndarray], np.ndarray], Callable[[sp.Expr], sp.Expr], bool]
#: name → (numpy, sympy, transcendental). A transcendental op never applies to an expression that
#: already holds one (sin(exp x) is not a law we look for; the cut keeps sizes 6–7 reachable).
UNARY: dict[str, Unary] = {
    "square": (np.square, lambda e: e**2, False),
    "sqrt": (lambda v: np.where(v >= 0, np.sqrt(np.abs(v)), np.nan), sp.sqrt, False),
    "inverse": (lambda v: 1 / v, lambda e: 1 / e, False),
    "sin": (np.sin, sp.sin, True),
    "cos": (np.cos, sp.cos, True),
    "exp": (lambda v: np.where(v < 50, np.exp(np.minimum(v, 50)), np.nan), sp.exp, True),
    "log": (lambda v: np.where(v > 0, np.log(np.abs(v) + (v == 0)), np.nan), sp.log, True),
}
BINARY: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable, bool]] = {
    # name → (numpy, sympy, commutative)
    "add": (np.add, lambda a, b: a + b, True),
    "mul": (np.multiply, lambda a, b: a * b, True),
    "sub": (np.subtract, lambda a, b: a - b, False),
    "div": (np.divide, lambda a, b: a / b, False),
}

#: Target transforms: name → (forward, inverse on a sympy fit, applies to y).
TARGETS: dict[str, tuple[Callable, Callable, Callable]] = {
    "identity": (lambda y: y, lambda e, s: e, lambda y: True),
    "reciprocal": (lambda y: 1 / y, lambda e, s: 1 / e, lambda y: (np.abs(y) > 1e-12).all()),
    "square": (np.square, lambda e, s: s * sp.sqrt(e), lambda y: abs(np.mean(np.sign(y))) == 1),
    "sqrt": (lambda y: np.sqrt(np.abs(y)), lambda e, s: s * e**2, lambda y: abs(np.mean(np.sign(y))) == 1),
    "log": (lambda y: np.log(np.abs(y)), lambda e, s: s * sp.exp(e),
            lambda y: abs(np.mean(np.sign(y))) == 1 and (y != 0).all()),
    "sine": (np.sin, lambda e, s: sp.asin(e), lambda y: np.abs(y).max() <= np.pi / 2),
}


@dataclass
class Library:
    """Enumerated expressions: their values on the sampled rows and how each was built."""

    values: np.ndarray  # (m, rows)
    nodes: list[tuple]  # ("var", i) | ("const", c) | (unary, k) | (binary, k, l), indices into nodes
    transcendental: np.ndarray  # (m,) bool
    sizes: np.ndarray  # (m,) nodes in each expression

    def expression(self, index: int, symbols: list[sp.Symbol]) -> sp.Expr:
        node = self.nodes[index]
        kind = node[0]
        if kind == "var":
            return symbols[node[1]]
        if kind == "const":
            return sp.Integer(node[1])
        if kind in UNARY:
            return UNARY[kind][1](self.expression(node[1], symbols))
        return BINARY[kind][1](self.expression(node[1], symbols), self.expression(node[2], symbols))


def _usable(values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` that are finite, bounded and not constant."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(values).all(axis=1) & (np.abs(values) < LIMIT).all(axis=1)
        spread = values.std(axis=1) > 1e-9 * (1 + np.abs(values).mean(axis=1))
    return finite & spread


def enumerate_expressions(X: np.ndarray, max_size: int = MAX_SIZE) -> Library:
    """Every distinct expression up to ``max_size`` nodes (at most ``LEVEL_CAP`` per size) on the rows of X."""
    rows = X.shape[0]
    leaves = X.shape[1] + 2
    store = np.empty((leaves + LEVEL_CAP * (max_size - 1), rows))
    flags = np.zeros(len(store), bool)
    nodes: list[tuple] = []
    seen: set[bytes] = set()
    by_size: dict[int, np.ndarray] = {}

    def admit(block: np.ndarray, node_of: Callable[[int], tuple], block_flags: np.ndarray, size: int,
              keep_constant: bool = False) -> None:
        ok = np.ones(len(block), bool) if keep_constant else _usable(block)
        with np.errstate(all="ignore"):
            fingerprints = block[:, :FINGERPRINT_ROWS].astype(np.float32)
        members = by_size.get(size, np.empty(0, int))
        room = (LEVEL_CAP if size > 1 else leaves) - len(members)
        admitted = []
        for k in np.flatnonzero(ok):
            if len(admitted) >= room:
                break
            key = fingerprints[k].tobytes()
            if key not in seen:
                seen.add(key)
                admitted.append(k)
        first = len(nodes)
        store[first:first + len(admitted)] = block[admitted]
        flags[first:first + len(admitted)] = block_flags[admitted]
        nodes.extend(node_of(int(k)) for k in admitted)
        by_size[size] = np.concatenate([members, np.arange(first, len(nodes))])

    leaf_values = np.vstack([X.T, np.ones(rows), np.full(rows, 2.0)])
    leaf_nodes = [("var", i) for i in range(X.shape[1])] + [("const", 1), ("const", 2)]
    admit(leaf_values, leaf_nodes.__getitem__, np.zeros(leaves, bool), 1, keep_constant=True)
    for size in range(2, max_size + 1):
        built = 0
        children = by_size[size - 1]
        for name, (forward, _, is_transcendental) in UNARY.items():
            allowed = children[~flags[children]] if is_transcendental else children
            with np.errstate(all="ignore"):
                block = forward(store[allowed])
            admit(block, lambda k, a=allowed, op=name: (op, int(a[k])),
                  np.ones(len(allowed), bool) if is_transcendental else flags[allowed], size)
            built += len(block)
        for left_size in range(1, size - 1):
            right_size = size - 1 - left_size
            left, right = by_size[left_size], by_size[right_size]
            for name, (forward, _, commutative) in BINARY.items():
                if commutative and left_size > right_size:
                    continue  # a + b is b + a: only one order of the sizes
                for position, a in enumerate(left):
                    if built >= CANDIDATE_CAP or len(by_size.get(size, ())) >= LEVEL_CAP:
                        break
                    partners = right[position:] if commutative and left_size == right_size else right
                    with np.errstate(all="ignore"):
                        block = forward(store[a][None, :], store[partners])
                    admit(block, lambda k, a=a, b=partners, op=name: (op, int(a), int(b[k])),
                          flags[a] | flags[partners], size)
                    built += len(block)
    total = len(nodes)
    sizes = np.zeros(total, int)
    for size, members in by_size.items():
        sizes[members] = size
    return Library(store[:total].copy(), nodes, flags[:total].copy(), sizes)


def _standardise(matrix: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit RMS; a constant row becomes NaN (no shape), without a warning."""
    centred = matrix - matrix.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True))


def _distinct_shapes(Z: np.ndarray) -> np.ndarray:
    """Indices of standardised rows that differ by more than sign (a·f + b fits cannot tell those apart)."""
    signed = Z[:, :FINGERPRINT_ROWS] * np.sign(Z[:, :1] + (Z[:, :1] == 0))
    _, first = np.unique(np.round(signed, 6), axis=0, return_index=True)
    return np.sort(first)


@dataclass(frozen=True)
class EnumerationArm(DataArm):
    """One- and two-term fits of transformed targets over every expression of at most ``MAX_SIZE`` nodes, for
    at most ``max_inputs`` inputs, on ``rows`` evenly spaced rows (``enumerated_fits``)."""

    name: ClassVar[str] = "enumerate"
    max_inputs: int = MAX_INPUTS
    rows: int = ROWS

    def propose_data(self, X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
        if X.shape[1] > self.max_inputs or len(y) < 10:
            return []
        return enumerated_fits(X, y, names, self.rows)


def enumerated_fits(X: np.ndarray, y: np.ndarray, names: list[str], rows: int = ROWS) -> list[sp.Expr]:
    """One- and two-term fits of transformed targets over every small expression, on ``rows`` rows."""
    rows = np.linspace(0, len(y) - 1, min(len(y), rows)).astype(int)
    X, y = X[rows], y[rows]
    library = enumerate_expressions(X)
    usable = np.flatnonzero(_usable(library.values))
    if not len(usable):
        return []
    Z = _standardise(library.values[usable])
    shapes = _distinct_shapes(Z)
    index, features, Z = usable[shapes], library.values[usable[shapes]], Z[shapes]
    # Pairs are ranked on a few rows (hundreds of thousands of candidate pairs), the winners refitted on all.
    few = np.linspace(0, Z.shape[1] - 1, min(Z.shape[1], RANK_ROWS)).astype(int)
    Z_few = _standardise(features[:, few])
    n = len(few)
    symbols = [make_symbols(names)[name] for name in names]
    sign = float(np.sign(np.mean(y))) or 1.0
    proposals = []
    for forward, inverse, applies in TARGETS.values():
        if not applies(y):
            continue
        with np.errstate(all="ignore"):  # a target of 1e181 has a variance beyond the floats: std is inf
            target = forward(y)
            spread = target.std()
        if not np.isfinite(target).all() or spread < 1e-12:
            continue
        t = _standardise(target[few])
        correlation = Z_few @ t / n
        order = np.argsort(-np.abs(correlation))
        fits: list[tuple[float, tuple[int, ...]]] = [(1 - correlation[k] ** 2, (int(k),)) for k in order[:KEEP]]
        seeds = np.union1d(order[:PARTNER_SEEDS], np.flatnonzero(library.sizes[index] <= SEED_SIZE))
        for chunk in np.array_split(seeds, max(1, len(seeds) // 100)):
            residual = t[None, :] - correlation[chunk, None] * Z_few[chunk]  # after the seed's one-term fit
            overlap = Z_few[chunk] @ Z_few.T / n
            gain = (residual @ Z_few.T) ** 2 / np.maximum(n * (1 - overlap**2), 1e-12)
            gain[np.abs(overlap) > 1 - 1e-9] = 0
            partners = gain.argmax(axis=1)
            errors = np.mean(residual**2, axis=1) - gain[np.arange(len(chunk)), partners] / n
            fits += [(float(e), tuple(sorted((int(k), int(p))))) for e, k, p in zip(errors, chunk, partners)]
        best: dict[tuple[int, ...], float] = {}
        for error, chosen in fits:
            best[chosen] = min(error, best.get(chosen, np.inf))
        for chosen in sorted(best, key=best.get)[: 2 * KEEP]:
            design = np.column_stack([features[list(chosen)].T, np.ones(len(y))])
            coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
            fit = sp.Float(coefficients[-1], 15) + sum(
                (sp.Float(c, 15) * library.expression(int(index[k]), symbols) for c, k in zip(coefficients, chosen)),
                sp.Integer(0))
            proposals.append(inverse(fit, sign))
    return proposals
