"""Symbolic discovery: from (X, y) to a Pareto front of verified candidate formulas.

Arms propose structure (a signed power-law fit in log space, sparse and rational regression over
feature libraries, products of one-variable functions, an enumeration of every small expression,
separability and symmetry found on a network of the data, a KAN, pyoperon genetic programming), on the
problem as given and on its dimensionless and symmetry reductions; every proposal is refitted,
normalised, snapped to simple constants, domain-checked and scored on validation data the arms never saw. Data only: nothing here reads a twin's
ground truth.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp
from sklearn.linear_model import OrthogonalMatchingPursuit

from tools import dimensions
from tools.confidence import EdgeOptions, edge_ratio
from tools.constants import MAX_CONSTANTS, evaluate, nmse, normalise, refit, snap
from tools.enumeration import enumeration_arm
from tools.parametric import ParametricOptions, parametric_arm
from tools.periodic import periodic_arm
from tools.rewrites import out_of_radical, without_each_term
from tools.scaling import Scaling
from tools.screening import irrelevant_inputs
from twin.expressions import count_nodes, make_symbols, parse_expression, to_text

Progress = Callable[[str, dict], None]
ARMS = ("powerlaw", "exponential", "sparse", "rational", "transform", "power", "cross", "enumerate", "network",
        "kan", "parametric", "operon", "periodic")
#: The arms ``discover`` runs unless told otherwise. The periodic arm (``tools.periodic``) is asked for where
#: periodicity is known from the physics (``discover_law`` on a lattice's dispersion table): elsewhere a
#: sinusoid through a few points of one input can fit noise, and the benchmark suites were measured without it.
DEFAULT_ARMS = tuple(arm for arm in ARMS if arm != "periodic")
CONFIDENT_R2 = 0.99
#: Below this validation R² constants are not snapped. Lower than CONFIDENT_R2: noisy derivative targets of an
#: ODE hold the right law at R² ≈ 0.96 (Lotka–Volterra at σ = 1 %, 3x − x² − 2xy fitted as 2.96x − 0.99x² − 1.97xy).
SNAP_R2 = 0.9
#: The largest normal form (``tools.constants.normalise``) that ``polish`` refits where it grew beyond 1.5 times the
#: formula: Feynman I.30.3 needs 157 nodes; a 578-node form with 24 constants took 26 s to refit and snap, over half
#: of a noisy ODE component's time (Strogatz's bacterial respiration at σ = 1 %: 49 s, 21 s with this bound).
NORMAL_FORM_NODES = 200
#: Constants are snapped only in formulas within this factor of the best validation NMSE so far (``polish``): no
#: other can be chosen, here or by the trajectory refit (tools.trajectory_refit.CANDIDATE_NMSE_FACTOR), so snapping
#: them is wasted work (2 of 49 s on that bacterial-respiration component).
SNAP_NMSE_FACTOR = 4.0
#: Validation NMSE at which noiseless data is explained to machine precision: the search stops.
EXACT_NMSE = 1e-20
#: Validation NMSE differences below this count as ties when choosing the simplest formula.
TIE_NMSE = 1e-10
POLISH_PER_ARM = 8
#: A genetic-programming proposal with more fitted constants than this gets only a short refit in `polish`.
FITTED_CONSTANTS = 10
#: Nats per node of a formula's description (``description_nats``): one choice among about ten symbols.
NODE_NATS = math.log(10)
#: How ``choose`` ranks the admissible candidates: by description length, or by node count (see ``discover``).
CHOICE_RULES = ("description", "nodes")


@dataclass
class Candidate:
    """A formula with its scores; ``text`` reads back through the safe parser."""

    expression: sp.Expr
    source: str
    val_nmse: float
    complexity: int
    test_r2: float | None = None

    @property
    def text(self) -> str:
        return to_text(self.expression)

    def as_dict(self) -> dict:
        return {"formula": self.text, "latex": sp.latex(self.expression), "source": self.source,
                "val_nmse": self.val_nmse, "complexity": self.complexity, "r2_test": self.test_r2}


@dataclass
class Discovery:
    """The outcome of a search: the chosen candidate, the Pareto front, and whether to trust it;
    ``candidates``: every polished candidate (the front is their Pareto subset)."""

    best: Candidate
    pareto: list[Candidate]
    confident: bool
    seconds: float
    input_names: list[str]
    arms_run: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"formula": self.best.text, "latex": sp.latex(self.best.expression),
                "r2_test": self.best.test_r2, "complexity": self.best.complexity,
                "confident": self.confident, "seconds": self.seconds, "arms": self.arms_run,
                "findings": self.findings, "pareto": [c.as_dict() for c in self.pareto]}


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def split(X: np.ndarray, y: np.ndarray, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Split:
    """Seeded train/validation/test split."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(fractions[0] * len(y))
    n_val = int(fractions[1] * len(y))
    a, b, c = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    return Split(X[a], y[a], X[b], y[b], X[c], y[c])


def r2_score(prediction: np.ndarray, target: np.ndarray) -> float:
    return 1.0 - nmse(prediction, target)


# --- arms ----------------------------------------------------------------------------------------

def powerlaw_arm(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
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


def exponential_arm(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """y = ±exp(g(X)) with g sparse over the feature library, fitted to log|y| (Gaussians, Boltzmann
    factors, growth laws)."""
    if (y == 0).any() or abs(np.mean(np.sign(y))) < 0.995:
        return []
    sign = float(np.sign(np.mean(y)))
    return [sign * sp.exp(g) for g in sparse_arm(X, np.log(np.abs(y)), names, max_terms=4)]


#: Target transforms g(y) with their inverses and where they apply: laws such as A = F/√(P(ω)),
#: ω = √(m² + …), θ = arcsin(λ/d) or Bose/Fermi occupations are sparse or rational in g(y) although
#: not in y. The first three act on |y| of a one-signed target (the sign is restored).
TRANSFORMS: dict[str, tuple] = {
    "square": (lambda y: y**2, lambda e: sp.sqrt(e), lambda y: True),
    "reciprocal": (lambda y: 1 / y, lambda e: 1 / e, lambda y: True),
    "reciprocal_square": (lambda y: 1 / y**2, lambda e: 1 / sp.sqrt(e), lambda y: True),
    "sine": (np.sin, sp.asin, lambda y: np.abs(y).max() <= np.pi / 2),
    "cosine": (np.cos, sp.acos, lambda y: ((y >= 0) & (y <= np.pi)).all()),
    "tangent": (np.tan, sp.atan, lambda y: np.abs(y).max() < 0.49 * np.pi),
    "bose": (lambda y: np.log1p(1 / y), lambda e: 1 / (sp.exp(e) - 1), lambda y: (y > 0).all()),
    "fermi": (lambda y: np.log(1 / y - 1), lambda e: 1 / (sp.exp(e) + 1), lambda y: ((y > 0) & (y < 1)).all()),
}
SIGNED_TRANSFORMS = ("sine", "cosine", "tangent", "bose", "fermi")


def transform_arm(X: np.ndarray, y: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """Sparse and rational fits of transformed targets (for targets of one sign), mapped back."""
    if (y == 0).any() or abs(np.mean(np.sign(y))) < 1:
        return []
    sign = float(np.sign(y[0]))
    symbols = [make_symbols(names)[n] for n in names]
    columns, terms = _monomials(X, symbols, {1: 4, 2: 4, 3: 3}.get(X.shape[1], 2))
    proposals = []
    for name, (forward, inverse, applies) in TRANSFORMS.items():
        signed = name in SIGNED_TRANSFORMS
        target = y if signed else np.abs(y)
        if not applies(target):
            continue
        with np.errstate(all="ignore"):
            g = forward(target)
        if not np.isfinite(g).all():
            continue
        fits = [*sparse_arm(X, g, names, max_terms=5), *rational_arm(X, g, names, max_terms=6),
                *powerlaw_arm(X, g, names)]  # a power law inside the function: 1/(exp(c·E^1.3/T) − 1)
        for coefficients in sparse_fits(np.column_stack(columns), g, 6, intercept=True):
            fits.append(sp.Float(coefficients[-1], 15) + _combination(coefficients[:-1], terms))
        proposals += [inverse(fit) if signed else sign * inverse(fit) for fit in fits]
    return proposals


#: Powers q of the power arm's y = (sparse sum)^q: the transform arm's square root, reciprocal and reciprocal
#: square root (q = 1/2, −1, −1/2) aside; the parametric arm frees the chosen q afterwards (2.5 -> 2.43).
POWER_EXPONENTS = (-3.0, -2.5, -2.0, -1.5, -2 / 3, -1 / 3, 1 / 3, 2 / 3, 1.5, 2.0, 2.5, 3.0)
#: The power arm keeps the proposals of this many exponents (by the sparse fit's error on y^(1/q)).
POWER_KEPT = 2


def power_arm(X: np.ndarray, y: np.ndarray, names: list[str], max_terms: int = 3) -> list[sp.Expr]:
    """y = ±(s(x))^q with s a sparse sum of at most ``max_terms`` library features, for each q of
    ``POWER_EXPONENTS`` (the sum inside a power: (a/b − c/b²)^2.5, (x − 0.3z)^1.5); a one-signed target only."""
    if (y == 0).any() or abs(np.mean(np.sign(y))) < 1 or X.shape[1] > 4:
        return []
    sign = float(np.sign(y[0]))
    scored = []
    for q in POWER_EXPONENTS:
        with np.errstate(all="ignore"):
            g = np.abs(y) ** (1 / q)
        if not np.isfinite(g).all():
            continue
        fits = [(nmse(evaluate(f, X, names), g), f) for f in sparse_arm(X, g, names, max_terms=max_terms)]
        if fits:
            scored.append((*min(fits, key=lambda fit: fit[0]), q))
    scored.sort(key=lambda item: item[0])
    # one fit per exponent, the best: every proposal costs a polish, and the polish of an approximant is slow
    exact = {q: Fraction(q).limit_denominator(6) for q in POWER_EXPONENTS}
    return [sign * f ** sp.Rational(exact[q].numerator, exact[q].denominator) for _, f, q in scored[:POWER_KEPT]]


def _monomials(X: np.ndarray, symbols: list[sp.Symbol], degree: int) -> tuple[list[np.ndarray], list[sp.Expr]]:
    columns, terms = [], []
    for total in range(1, degree + 1):
        for powers in itertools.combinations_with_replacement(range(len(symbols)), total):
            columns.append(np.prod(X[:, list(powers)], axis=1))
            terms.append(sp.Mul(*(symbols[i] for i in powers)))
    return columns, terms


def rational_arm(X: np.ndarray, y: np.ndarray, names: list[str], degree: int = 2,
                 max_terms: int = 8) -> list[sp.Expr]:
    """y = P(x)/(1 + Q(x)) with sparse polynomials P, Q, linearised as y = P − y·Q and solved by
    orthogonal matching pursuit (the classic linearisation of rational least squares). With one or two
    inputs P goes one degree higher (x·(4 − x − y/(1 + x)) has a cubic numerator)."""
    if X.shape[1] > 5:
        return []
    symbols = [make_symbols(names)[n] for n in names]
    top_columns, top_terms = _monomials(X, symbols, degree + (X.shape[1] <= 2))
    columns, terms = _monomials(X, symbols, degree)
    if not columns:
        return []
    features = np.column_stack(top_columns + [-y * c for c in columns])
    proposals = []
    for coefficients in sparse_fits(features, y, max_terms, intercept=True):
        if not np.any(coefficients[len(top_terms):-1]):
            continue
        top = sp.Float(coefficients[-1], 15) + _combination(coefficients[: len(top_terms)], top_terms)
        proposals.append(top / (1 + _combination(coefficients[len(top_terms):-1], terms)))
    return proposals


def _combination(coefficients: np.ndarray, terms: Sequence[sp.Expr]) -> sp.Expr:
    return sum((sp.Float(c, 15) * t for c, t in zip(coefficients, terms) if c), sp.Integer(0))


#: One-variable functions whose pairwise products (across inputs) the cross arm searches.
CROSS_UNARY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[sp.Expr], sp.Expr]]] = {
    "x": (lambda x: x, lambda s: s),
    "x^2": (lambda x: x**2, lambda s: s**2),
    "1/x": (lambda x: 1 / x, lambda s: 1 / s),
    "sin": (np.sin, sp.sin),
    "cos": (np.cos, sp.cos),
    "sin^2": (lambda x: np.sin(x) ** 2, lambda s: sp.sin(s) ** 2),
    "cos^2": (lambda x: np.cos(x) ** 2, lambda s: sp.cos(s) ** 2),
    "exp": (np.exp, sp.exp),
    "exp(-x)": (lambda x: np.exp(-x), lambda s: sp.exp(-s)),
    "sin°": (lambda x: np.sin(np.deg2rad(x)) if _in_degrees(x) else np.full_like(x, np.nan),
             lambda s: sp.sin(sp.pi * s / 180)),
    "cos°": (lambda x: np.cos(np.deg2rad(x)) if _in_degrees(x) else np.full_like(x, np.nan),
             lambda s: sp.cos(sp.pi * s / 180)),
}
#: Multipliers g for the cross arm's target y·g (a law y = N/g whose N is sparse): 1/x, 1/sin x, ….
CROSS_MULTIPLIERS = ("x", "sin", "cos")
CROSS_MAX_INPUTS = 3


def _unary_columns(X: np.ndarray, symbols: list[sp.Symbol], kinds: Sequence[str]) -> list[list[tuple]]:
    """Per input: (values, term) of each one-variable function that is finite and not constant there."""
    per_input = []
    for i, s in enumerate(symbols):
        found = []
        for kind in kinds:
            forward, symbolic = CROSS_UNARY[kind]
            with np.errstate(all="ignore"):
                values = forward(X[:, i])
            if np.isfinite(values).all() and np.abs(values).max() < 1e8 and np.std(values) > 1e-12:
                found.append((values, symbolic(s)))
        per_input.append(found)
    return per_input


def cross_arm(X: np.ndarray, y: np.ndarray, names: list[str], max_terms: int = 4) -> list[sp.Expr]:
    """Sparse regression over products of one-variable functions of different inputs (sin x·cos²y,
    cos(y)/x, x·y²) and sines/cosines of sums and differences (coupled angles), for up to three inputs;
    also of the target times a multiplier g, y·g = N, giving y = N/g (cot y·cos x = cos x·cos y / sin y).
    The ODE right-hand sides of Strogatz's systems have this shape."""
    if X.shape[1] > CROSS_MAX_INPUTS:
        return []
    symbols = [make_symbols(names)[n] for n in names]
    per_input = _unary_columns(X, symbols, list(CROSS_UNARY))
    columns = [c for found in per_input for c in found]
    for first, second in itertools.combinations(range(len(symbols)), 2):
        columns += [(a * b, ta * tb) for a, ta in per_input[first] for b, tb in per_input[second]]
        difference, total = X[:, first] - X[:, second], X[:, first] + X[:, second]
        a, b = symbols[first], symbols[second]
        columns += [(np.sin(difference), sp.sin(a - b)), (np.cos(difference), sp.cos(a - b)),
                    (np.sin(total), sp.sin(a + b)), (np.cos(total), sp.cos(a + b))]
    columns = [(v, t) for v, t in columns if np.std(v) > 1e-12]
    if not columns:
        return []
    features = np.column_stack([v for v, _ in columns])
    terms = [t for _, t in columns]
    multipliers = [(np.ones_like(y), sp.Integer(1))] + [
        c for found in _unary_columns(X, symbols, CROSS_MULTIPLIERS) for c in found if (np.abs(c[0]) > 1e-6).all()]
    proposals = []
    for values, term in multipliers:
        for coefficients in sparse_fits(features, y * values, max_terms, intercept=True):
            proposals.append((sp.Float(coefficients[-1], 15) + _combination(coefficients[:-1], terms)) / term)
    return proposals


def _in_degrees(x: np.ndarray) -> bool:
    """Whether a column could be an angle in degrees (its values span more than a radian's full turn and stay
    within ±360): its sine and cosine of x·π/180 join the feature library."""
    return bool(np.ptp(x) > 2 * np.pi and np.abs(x).max() <= 360)


def _feature_library(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[sp.Expr]]:
    symbols = [make_symbols(names)[n] for n in names]
    columns, terms = [], []

    def add(values: np.ndarray, term: sp.Expr) -> None:
        if np.isfinite(values).all() and np.std(values) > 1e-12:
            columns.append(values)
            terms.append(term)

    for i, s in enumerate(symbols):
        x = X[:, i]
        add(x, s)
        add(x**2, s**2)
        add(x**3, s**3)
        with np.errstate(all="ignore"):
            if (np.abs(x) > 1e-9).all():
                add(1 / x, 1 / s)
                add(1 / x**2, 1 / s**2)
            if (x > 0).all():
                add(np.sqrt(x), sp.sqrt(s))
                add(np.log(x), sp.log(s))
            add(np.sin(x), sp.sin(s))
            add(np.cos(x), sp.cos(s))
            if _in_degrees(x):
                add(np.sin(np.deg2rad(x)), sp.sin(sp.pi * s / 180))
                add(np.cos(np.deg2rad(x)), sp.cos(sp.pi * s / 180))
            if np.abs(x).max() < 30:
                add(np.exp(x), sp.exp(s))
                add(np.exp(-x), sp.exp(-s))
    for (i, a), (j, b) in itertools.combinations(enumerate(symbols), 2):
        add(X[:, i] * X[:, j], a * b)
        with np.errstate(all="ignore"):
            if (np.abs(X[:, j]) > 1e-9).all():
                add(X[:, i] / X[:, j], a / b)
            if (np.abs(X[:, i]) > 1e-9).all():
                add(X[:, j] / X[:, i], b / a)
    return np.column_stack(columns) if columns else np.empty((len(X), 0)), terms


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
    z = q.T @ y
    outside = float(np.sum((y - q @ z) ** 2))
    rss = np.empty(len(index))
    for start in range(0, len(index), SUBSET_BATCH):
        part = np.moveaxis(r[:, index[start:start + SUBSET_BATCH]], 0, 1)  # (batch, rank, columns)
        q_part, r_part = np.linalg.qr(part)
        left = z - np.einsum("bpm,bm->bp", q_part, np.einsum("bpm,p->bm", q_part, z))
        diagonal = np.abs(np.diagonal(r_part, axis1=1, axis2=2))
        collinear = diagonal.min(axis=1) <= 1e-10 * np.maximum(diagonal.max(axis=1), 1e-300)
        rss[start:start + SUBSET_BATCH] = np.where(collinear, np.inf, outside + np.sum(left**2, axis=1))
    tied = rss <= rss.min() * (1 + 1e-9) + 1e-13 * float(y @ y)
    return tuple(int(i) for i in subsets[int(np.argmax(tied))])


def sparse_arm(X: np.ndarray, y: np.ndarray, names: list[str], max_terms: int = 6) -> list[sp.Expr]:
    """Sparse linear regression (orthogonal matching pursuit) over a library of features."""
    features, terms = _feature_library(X, names)
    if not terms:
        return []
    proposals = []
    for coefficients in sparse_fits(features, y, max_terms, intercept=True):
        proposals.append(sp.Float(coefficients[-1], 15) + _combination(coefficients[:-1], terms))
    return proposals


OPERON_SYMBOLS = ("add,sub,mul,div,constant,variable",
                  "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,tanh")


OPERON_ROWS = 500
#: Several short, differently seeded runs find exact structure more often than one long run.
OPERON_RUN_SECONDS = 3.0
#: Operon evaluations per second per training row on one core (measured on our 2-core machine):
#: budgets are counted in evaluations, not wall time, so that a run replays to the same formula.
OPERON_EVALS_ROW_SECONDS = 2.5e7


def operon_arm(X: np.ndarray, y: np.ndarray, names: list[str], seconds: float, seed: int,
               symbols: str = OPERON_SYMBOLS[0]) -> list[sp.Expr]:
    """pyoperon genetic programming with MSE model selection; returns its whole Pareto front.

    At most ``OPERON_ROWS`` seeded rows are used; the budget is a number of evaluations sized to
    ``seconds`` (with a wall-time cap of three times that as a guard).
    """
    from pyoperon.sklearn import SymbolicRegressor  # heavy import, only when this arm runs

    if len(y) > OPERON_ROWS:
        rows = np.random.default_rng(seed).choice(len(y), OPERON_ROWS, replace=False)
        X, y = X[rows], y[rows]
    regressor = SymbolicRegressor(
        allowed_symbols=symbols, model_selection_criterion="mean_squared_error",
        objectives=["r2", "length"], max_length=30, population_size=1000, generations=100_000,
        max_evaluations=int(seconds * OPERON_EVALS_ROW_SECONDS / max(len(y), 100)), n_threads=1,
        random_state=seed, max_time=max(1, int(3 * seconds)),
    )
    regressor.fit(X, y)
    placeholder = [f"X{i + 1}" for i in range(len(names))]
    proposals = []
    for model in regressor.pareto_front_:
        text = regressor.get_model_string(model["tree"], 12, placeholder)
        try:
            expr = parse_expression(text, placeholder)
        except ValueError:
            continue
        proposals.append(expr.xreplace({sp.Symbol(p, real=True): make_symbols([n])[n]
                                        for p, n in zip(placeholder, names)}))
    return proposals


#: The KAN arm trains [d, 1, 1] (which spans f(Σ gᵢ(xᵢ)): sums, products through exp/log, velocity
#: addition through tanh/arctanh) on at most this many rows and inputs, and only with this much budget.
KAN_ROWS, KAN_MAX_INPUTS, KAN_MIN_BUDGET = 300, 3, 30.0


def kan_arm(X: np.ndarray, y: np.ndarray, names: list[str], seed: int) -> list[sp.Expr]:
    """pykan: a small KAN with grid refinement, then ``auto_symbolic`` over a wide library; the raw
    formula's constants are refitted downstream like every other proposal."""
    from tools.train import kan_formula, train_kan  # torch/pykan only when this arm runs

    if X.shape[1] > KAN_MAX_INPUTS:
        return []
    rows = np.random.default_rng(seed).permutation(len(y))[:KAN_ROWS]
    try:
        result = train_kan(X[rows], y[rows], hidden=(1,), grids=(5, 10), steps=30, seed=seed, device="cpu")
        expr = kan_formula(result, X[rows], names, seed)
    except (ValueError, RuntimeError):  # a diverged fit or a singular edge fit: this arm proposes nothing
        return []
    return [expr] if expr is not None else []


#: The network arm fits an MLP to the data and tests it for separability and symmetry (tools.separability);
#: it runs for 2–8 inputs when the fast arms found nothing exact and the budget allows its training.
NETWORK_MIN_BUDGET, NETWORK_STEPS, NETWORK_ROWS = 15.0, 1500, 500
Problem = tuple[str, np.ndarray, np.ndarray, list[str], Callable[[sp.Expr], sp.Expr]]


def _best_fast_proposals(X: np.ndarray, y: np.ndarray, names: list[str], arms: Sequence[str],
                         keep: int = 3) -> list[sp.Expr]:
    """The fast arms' proposals for a sub-problem, the ``keep`` best by their error on it."""
    proposals = [e for arm, propose in FAST_ARMS.items() if arm in arms for e in propose(X, y, names)]
    scored = sorted((nmse(evaluate(e, X, names), y), i) for i, e in enumerate(proposals))
    return [proposals[i] for error, i in scored[:keep] if np.isfinite(error)]


def network_arm(X: np.ndarray, y: np.ndarray, names: list[str], seed: int, arms: Sequence[str],
                units: Mapping[str, str] | None = None, target_unit: str = "", progress: Progress | None = None,
                ) -> tuple[list[sp.Expr], list[Problem], list[str]]:
    """Separability and symmetry found on an MLP of the data (AI Feynman's tests).

    Returns proposals g ∘ h for the best separable split (each side found by the fast arms on the
    network's values with the other side held at the data's median), reduced problems where y depends
    on two inputs through x_i − x_j or x_i/x_j, and their Buckingham-π reductions when ``units`` are
    known (searched by the caller like the π reductions), and the findings in words. ``progress`` hears
    from the network's training and from each sub-search (a caller can stop there).
    """
    from tools.separability import separable_splits, symmetries
    from tools.train import train_mlp  # torch only when this arm runs

    notify = progress or (lambda stage, info: None)

    rows = np.random.default_rng(seed).permutation(len(y))[:NETWORK_ROWS]
    X, y = X[rows], y[rows]
    result = train_mlp(X, y, hidden=(64, 64), steps=NETWORK_STEPS, patience=300, seed=seed, device="cpu",
                       progress=lambda stage, info: notify("network", info))
    model_error = math.sqrt(min(result.history["val_loss"]))

    def predict(Z: np.ndarray) -> np.ndarray:
        return result.predict(Z)[:, 0]

    symbols = [make_symbols(names)[n] for n in names]
    proposals, problems, findings = [], [], []
    splits = separable_splits(predict, X, model_error, seed)
    if splits:
        split = splits[0]
        left, right = list(split.left), list(split.right)
        findings.append(f"{split.kind}ly separable: ({', '.join(names[i] for i in left)}) and "
                        f"({', '.join(names[i] for i in right)}), violation {split.violation:.2g}")
        anchor = np.median(X, axis=0)

        def side(keep: list[int], held: list[int]) -> list[sp.Expr]:
            Z = X.copy()
            Z[:, held] = anchor[held]
            notify("network", {"separable_side": [names[k] for k in keep]})
            return _best_fast_proposals(X[:, keep], predict(Z), [names[k] for k in keep], arms)

        centre = sp.Float(float(predict(anchor[None])[0]), 15)
        for g, h in itertools.product(side(left, right), side(right, left)):
            proposals.append(g + h - centre if split.kind == "additive" else g * h / centre)
    for symmetry in symmetries(predict, X, model_error, seed)[:2]:
        i, j = symmetry.i, symmetry.j
        a, b = symbols[i], symbols[j]
        joint, combined = (a - b, X[:, i] - X[:, j]) if symmetry.kind == "difference" else (a / b, X[:, i] / X[:, j])
        findings.append(f"depends on {names[i]}, {names[j]} only through {joint} (violation {symmetry.violation:.2g})")
        stem = next(f"u{k}" for k in itertools.count() if f"u{k}" not in names)
        kept = [k for k in range(len(names)) if k not in (i, j)]
        reduced_names = [stem] + [names[k] for k in kept]
        new_symbol = make_symbols([stem])[stem]
        reduced_X = np.column_stack([combined, X[:, kept]])

        def lift(e: sp.Expr, s: sp.Symbol = new_symbol, r: sp.Expr = joint) -> sp.Expr:
            return e.xreplace({s: r})

        problems.append(("sym·", reduced_X, y, reduced_names, lift))
        joint_unit = dimensions.combined_unit(symmetry.kind, units[names[i]], units[names[j]]) \
            if units and names[i] in units and names[j] in units else None
        if joint_unit is not None:
            reduced_units = {stem: joint_unit} | {names[k]: units[names[k]] for k in kept if names[k] in units}
            for reduction in dimensions.reductions(reduced_names, reduced_units, target_unit):
                applied = reduction.apply(reduced_X, y)
                if applied is not None and reduction.group_names:
                    problems.append(("sym·π·", *applied, reduction.group_names,
                                     lambda e, r=reduction, up=lift: up(r.lift(e))))
    return proposals, problems, findings


# --- refinement and selection --------------------------------------------------------------------

def polish(expr: sp.Expr, data: Split, names: list[str], fitted: bool = False, snap_below: float = math.inf,
           ) -> sp.Expr:
    """Refit constants, normalise, refit again, snap to simple values (when the fit is good enough to matter:
    a validation R² of at least SNAP_R2 and a validation NMSE below ``snap_below``).

    ``fitted``: the proposing engine already fitted the constants (genetic programming). Such a formula with
    more than FITTED_CONSTANTS constants only gets a short refit: no simple law hides in it, and a full refit
    and snap of a dozen redundant constants took seconds each, most of a noisy ODE component's time.
    """
    if fitted and len(expr.atoms(sp.Float)) > FITTED_CONSTANTS:
        return refit(expr, data.X_train, data.y_train, names, max_nfev=2)
    expr = refit(expr, data.X_train, data.y_train, names)
    simplified = normalise(expr)
    # A canonical form may expand (3·(x + a)²/(2 + x)), and its expanded terms get constants of their own: Feynman
    # I.30.3's law is found from a 27-node approximation whose 157-node normal form with 15 constants refits to
    # Int_0·(1 − cos nθ)/(1 − cos θ). A blow-up beyond what the refit fits (MAX_CONSTANTS, NORMAL_FORM_NODES) is
    # rejected unfitted.
    if simplified != expr and (count_nodes(simplified) <= 1.5 * count_nodes(expr) + 2
                               or (len(simplified.atoms(sp.Float)) <= MAX_CONSTANTS
                                   and count_nodes(simplified) <= NORMAL_FORM_NODES)):
        simplified = refit(simplified, data.X_train, data.y_train, names)
        if nmse(evaluate(simplified, data.X_val, names), data.y_val) <= \
                nmse(evaluate(expr, data.X_val, names), data.y_val) * 1.01 + 1e-14:
            expr = simplified
    if nmse(evaluate(expr, data.X_val, names), data.y_val) > min(1 - SNAP_R2, snap_below):
        return expr  # explains too little for exact constants to mean anything (pure noise stays fast)
    snapped = snap(expr, data.X_train, data.y_train, data.X_val, data.y_val, names)
    if snapped.atoms(sp.Float):
        return snapped
    try:
        cancelled = sp.cancel(snapped)  # exact coefficients now: common factors cancel safely
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):
        return snapped
    return cancelled if count_nodes(cancelled) < count_nodes(snapped) else snapped


#: Deterministic, fast arms run before the genetic search, in this order.
FAST_ARMS: dict[str, Callable[[np.ndarray, np.ndarray, list[str]], list[sp.Expr]]] = {
    "powerlaw": powerlaw_arm, "exponential": exponential_arm, "sparse": sparse_arm,
    "rational": rational_arm, "transform": transform_arm, "power": power_arm, "cross": cross_arm,
    "enumerate": enumeration_arm,
    "periodic": periodic_arm,
}


def polished_candidates(proposals: Sequence[sp.Expr], source: str, data: Split, names: list[str],
                        keep: int = POLISH_PER_ARM, best: float = math.inf) -> list[Candidate]:
    """The ``keep`` proposals of lowest raw validation error, polished and scored (polishing is the expensive
    step; constants snap only within SNAP_NMSE_FACTOR of the ``best`` validation NMSE so far); proposals that
    fail, give non-finite values, lose every input or cannot be read back are dropped."""
    scored = sorted(((nmse(evaluate(e, data.X_val, names), data.y_val), i) for i, e in enumerate(proposals)))
    kept = []
    for raw_error, index in scored[:keep]:
        if not np.isfinite(raw_error):
            continue
        try:
            polished = polish(proposals[index], data, names, fitted=source.endswith("operon"),
                              snap_below=SNAP_NMSE_FACTOR * best + TIE_NMSE)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
            continue
        error = nmse(evaluate(polished, data.X_val, names), data.y_val)
        if np.isfinite(error) and polished.free_symbols and _reads_back(polished, names):
            kept.append(Candidate(polished, source, error, count_nodes(polished)))
    return kept


#: Candidates (within the choice's margin, least description first) whose additive terms are each tried away.
PRUNED_CANDIDATES = 4
#: Rounds of term pruning: a pruned candidate still within the margin has its terms tried away again.
PRUNE_ROUNDS = 3
#: Square-root normal forms (tools.rewrites.out_of_radical) polished, of the candidates within the margin.
RADICAL_FORMS = 16


def pruned_candidates(eligible: Sequence[Candidate], data: Split, names: list[str], threshold: float,
                      best: float = math.inf) -> list[Candidate]:
    """Backward elimination over additive terms: the first ``PRUNED_CANDIDATES`` of ``eligible`` (least
    description first), each without one term, refitted; those still within ``threshold`` are pruned again, for up
    to ``PRUNE_ROUNDS`` rounds (``best``: see ``polished_candidates``). Bonus 9 at σ = 1 % comes back as its two
    terms beside three spurious ones."""
    n_fit = len(data.y_train)
    found: list[Candidate] = []
    parents, seen = list(eligible), set()
    for _ in range(PRUNE_ROUNDS):
        forms = list(dict.fromkeys(v for c in parents[:PRUNED_CANDIDATES] for v in without_each_term(c.expression)
                                   if v not in seen))
        seen.update(forms)
        pruned = polished_candidates(forms, "pruned", data, names, best=best)
        found += pruned
        parents = sorted((c for c in pruned if c.val_nmse <= threshold), key=lambda c: description_nats(c, n_fit))
        if not parents:
            break
    return found


def rewritten_candidates(candidates: Sequence[Candidate], data: Split, names: list[str], tolerance: float,
                         ) -> list[Candidate]:
    """Polished rewrites of the candidates a choice could pick (``choose``'s margin): without additive terms
    (``pruned_candidates``) and with their square roots in normal form ("radical"); none once a candidate is exact."""
    best = min(c.val_nmse for c in candidates)
    if best < EXACT_NMSE:
        return []
    threshold = margin(candidates, tolerance)
    eligible = sorted((c for c in candidates if c.val_nmse <= threshold),
                      key=lambda c: description_nats(c, len(data.y_train)))
    # A rewrite keeps the values of the candidate it comes from: the first RADICAL_FORMS, by their candidates'
    # description, are polished (not those of lowest raw error, where a hundred candidates tie within noise).
    radical = list(dict.fromkeys(v for c in eligible for v in out_of_radical(c.expression, data.X_train, names)))
    radical = radical[:RADICAL_FORMS]
    return (pruned_candidates(eligible, data, names, threshold, best)
            + polished_candidates(radical, "radical", data, names, keep=RADICAL_FORMS, best=best))


def _reads_back(expr: sp.Expr, names: list[str]) -> bool:
    """Whether a formula's text passes the safe parser: sessions, reports and benchmark rows store the text
    (genetic programming can return x**394.8, beyond the parser's exponent limit)."""
    try:
        parse_expression(to_text(expr), names)
    except ValueError:
        return False
    return True


def pareto_front(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates not beaten in both validation error and complexity, by complexity."""
    front: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.complexity, c.val_nmse)):
        if not front or c.val_nmse < front[-1].val_nmse * (1 - 1e-9):
            front.append(c)
    return front


def selection_tolerance(n_validation: int) -> float:
    """Relative validation-error margin within which a simpler candidate is preferred: two standard errors
    of an NMSE estimated on ``n_validation`` points (√(2/n) for Gaussian residuals), at least 10 %.

    With 80 validation points (a 400-sample Feynman problem) that is 32 %: at σ = 1 % a genetic-programming
    formula that adds an intercept and a cosine to m·g·z fits the validation set 5–10 % better by chance.
    """
    return max(0.1, 2 * np.sqrt(2 / max(n_validation, 1)))


def description_nats(candidate: Candidate, n_fit: int) -> float:
    """What it takes to write a formula down, in nats: ln 10 per node (a choice among about ten operators,
    inputs and constants), ln|p| + ln q per rational p/q, and per fitted float ln(n_fit)/2 for the precision
    ``n_fit`` samples pin it to (the BIC's cost of a parameter) plus ln 10 for its order of magnitude, so that
    a float never undercuts a fraction of one- and two-digit terms (11/12: 4.9 nats). A node count alone
    calls 10E/7 − 4L²/9 − 4U/5 as simple as 2E − L² − 2U."""
    numbers = candidate.expression.atoms(sp.Number)
    rationals = sum(math.log(abs(int(r.p))) + math.log(int(r.q)) for r in numbers if r.is_Rational and r != 0)
    floats = sum(1 for r in numbers if r.is_Float)
    return candidate.complexity * NODE_NATS + rationals + floats * (math.log(max(n_fit, 2)) / 2 + NODE_NATS)


def margin(candidates: Sequence[Candidate], tolerance: float) -> float:
    """The largest validation error that ties with the best: ``(1 + tolerance)`` times the best, plus a floor so
    that noiseless ties at machine precision count as ties."""
    return min(c.val_nmse for c in candidates) * (1 + tolerance) + TIE_NMSE


def choose(candidates: Sequence[Candidate], tolerance: float = 0.1, n_fit: int = 100,
           by: str = "description") -> Candidate:
    """Of the candidates within the ``margin`` of the best validation error, the one shortest to write down
    (``description_nats``), or with ``by="nodes"`` the one of fewest nodes (see ``discover``'s ``choose_by``)."""
    cost = {"description": lambda c: description_nats(c, n_fit), "nodes": lambda c: c.complexity}[by]
    threshold = margin(candidates, tolerance)
    return min((c for c in candidates if c.val_nmse <= threshold), key=lambda c: (cost(c), c.val_nmse))


def discover(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    time_budget: float = 60.0,
    seed: int = 0,
    arms: Sequence[str] = DEFAULT_ARMS,
    progress: Progress | None = None,
    units: Mapping[str, str] | None = None,
    target_unit: str = "",
    choose_by: str = "description",
) -> Discovery:
    """Search for y = f(X) within ``time_budget`` seconds; data only.

    With ``units`` for every input (and ``target_unit``), the arms also search the Buckingham-π
    reductions y = s(x)·F(π) (tools.dimensions), and every proposal is scored in the original variables.
    ``choose_by``: how the final choice ranks the candidates within the validation margin (``choose``).
    Derivative tables of ODE trajectories keep ``"nodes"``: the description length was measured on the
    closed-form suites only (on the stored noisy ODE fronts it would start 10 of 131 components elsewhere,
    and those suites take hours to re-run).

    Columns of extreme magnitude are searched at order one and the formulas mapped back (tools.scaling);
    a constant target is reported as such, never as a confident law.
    """
    start = time.perf_counter()
    names = list(names)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(names):
        raise ValueError(f"X must be (n, {len(names)}) with one y per row; got {X.shape} and {y.shape}")
    if len(y) < 10:
        raise ValueError(f"need at least 10 samples to discover a law, got {len(y)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("data holds NaN or inf; clean it first")
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; choose from {ARMS}")
    if choose_by not in CHOICE_RULES:
        raise ValueError(f"unknown choice rule {choose_by!r}; choose from {CHOICE_RULES}")
    if np.ptp(y) <= CONSTANT_TARGET * np.max(np.abs(y)):
        return _constant(y, names, start)
    scaling = Scaling().fit(X, y)
    found = _search(*scaling.transform(X, y), names, time_budget, seed, arms, progress, units, target_unit, choose_by)
    if scaling.active:
        found.findings.insert(0, scaling.describe(names))
        for candidate in found.candidates:
            candidate.expression = scaling.lift(candidate.expression, names)
            candidate.complexity = count_nodes(candidate.expression)
    found.seconds = time.perf_counter() - start
    return found


#: A target whose spread is below this fraction of its magnitude is constant (to rounding).
CONSTANT_TARGET = 1e-12


def _constant(y: np.ndarray, names: list[str], start: float) -> Discovery:
    """The outcome for a constant target: the constant, not confident, and said in ``findings``."""
    value = Candidate(sp.Float(float(np.median(y)), 15), "constant", 0.0, 1, test_r2=None)
    return Discovery(value, [value], False, time.perf_counter() - start, names, [],
                     [f"the target is constant ({float(np.median(y)):.6g}) on every row: no law of the inputs "
                      "can be told from these data"], [value])


def _search(X: np.ndarray, y: np.ndarray, names: list[str], time_budget: float, seed: int, arms: Sequence[str],
            progress: Progress | None, units: Mapping[str, str] | None, target_unit: str, choose_by: str,
            ) -> Discovery:
    """The search itself on validated data (``discover``)."""
    start = time.perf_counter()
    data = split(X, y, seed)
    notify = progress or (lambda stage, info: None)
    candidates: list[Candidate] = []
    arms_run: list[str] = []

    def consider(proposals: list[sp.Expr], source: str) -> None:
        best = min((c.val_nmse for c in candidates), default=math.inf)
        candidates.extend(polished_candidates(proposals, source, data, names, best=best))
        if candidates:
            notify("candidates", {"source": source, "best": min(c.val_nmse for c in candidates)})

    # Each problem is searched as given and in each dimensionless reduction; ``lift`` maps back.
    problems: list[Problem] = [
        ("", data.X_train, data.y_train, names, lambda e: e)]
    for reduction in dimensions.reductions(names, dict(units or {}), target_unit):
        reduced = reduction.apply(data.X_train, data.y_train)
        if reduced is not None:
            problems.append(("π·", *reduced, reduction.group_names, reduction.lift))
            notify("dimensions", {"reduction": reduction.describe()})

    dropped = irrelevant_inputs(data.X_train, data.y_train, seed) if len(names) > 1 else []
    if dropped:  # searched beside the full problem: a wrong drop costs time, never the law
        kept = [i for i in range(len(names)) if i not in dropped]
        problems.append(("sel·", data.X_train[:, kept], data.y_train, [names[i] for i in kept], lambda e: e))
        notify("screen", {"dropped": [names[i] for i in dropped]})

    def search_fast(searched: list[Problem]) -> None:
        for tag, fit_X, fit_y, fit_names, lift in searched:
            if not fit_names:  # every input is needed to carry the units: y = constant · s(x)
                consider([lift(sp.Float(float(np.median(fit_y)), 15))], tag + "constant")
                continue
            for arm, propose in FAST_ARMS.items():
                if arm in arms:
                    consider([lift(e) for e in propose(fit_X, fit_y, fit_names)], tag + arm)

    search_fast(problems)
    arms_run += [arm for arm in FAST_ARMS if arm in arms]

    def exact() -> bool:
        return bool(candidates) and min(c.val_nmse for c in candidates) < EXACT_NMSE

    findings: list[str] = []
    if "network" in arms and time_budget >= NETWORK_MIN_BUDGET and 2 <= len(names) <= 8 and not exact():
        notify("network", {"inputs": len(names)})
        proposals, reduced, findings = network_arm(data.X_train, data.y_train, names, seed, arms, units, target_unit,
                                                   notify)
        consider(proposals, "separable")
        search_fast(reduced)
        problems += reduced
        arms_run.append("network")

    if "parametric" in arms and not exact():
        notify("parametric", {"shapes": PARAMETRIC.seeds})
        consider(parametric_arm(_shapes(candidates, PARAMETRIC), data.X_train, data.y_train, names, seed, PARAMETRIC),
                 "parametric")
        arms_run.append("parametric")
    if "kan" in arms and time_budget >= KAN_MIN_BUDGET and not exact():
        notify("kan", {"inputs": len(names)})
        consider(kan_arm(data.X_train, data.y_train, names, seed), "kan")
        arms_run.append("kan")
    if "operon" in arms:
        # Counted from the budget, not the clock, so that a replay runs the same evaluations.
        operon_budget = 0.7 * time_budget * (0.6 if "kan" in arms_run else 1.0) * (0.75 if "network" in arms_run else 1.0)
        runs = max(1, int(operon_budget / OPERON_RUN_SECONDS))
        for run in range(runs):
            if exact():
                break
            seconds = operon_budget / runs
            symbols = OPERON_SYMBOLS[0] if run % 3 != 2 else OPERON_SYMBOLS[1]
            tag, fit_X, fit_y, fit_names, lift = problems[run % len(problems)]
            if not fit_names:
                continue
            notify("operon", {"run": run + 1, "of": runs})
            proposals = operon_arm(fit_X, fit_y, fit_names, seconds, seed + run, symbols)
            consider([lift(e) for e in proposals], tag + "operon")
        arms_run.append("operon")
    if not candidates:
        mean = sp.Float(float(np.mean(data.y_train)), 15)
        candidates.append(Candidate(mean, "constant", nmse(np.full_like(data.y_val, float(mean)), data.y_val), 1))
    tolerance = selection_tolerance(len(data.y_val))
    candidates += rewritten_candidates(candidates, data, names, tolerance)
    front = pareto_front(candidates)
    best = choose(candidates, tolerance, len(data.y_train), choose_by)
    for c in front:
        c.test_r2 = r2_score(evaluate(c.expression, data.X_test, names), data.y_test)
    confident = best.test_r2 is not None and best.test_r2 >= CONFIDENT_R2
    if confident:
        fitted_X, fitted_y = np.vstack([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val])
        ratio = edge_ratio(best.expression, fitted_X, fitted_y, names, EDGES)
        if ratio > EDGES.factor:
            confident = False
            findings.append(f"not confident: its constants refitted on the interior of the data miss the edges "
                            f"{ratio:.3g} times worse than the full fit (a smooth stand-in bends to the box it saw)")
    unused = [names[i] for i in dropped if make_symbols([names[i]])[names[i]] not in best.expression.free_symbols]
    if unused:
        findings.append(f"{', '.join(unused)} found not to matter (no importance beyond shuffled copies of the "
                        "columns) and left out of the formula")
    return Discovery(best, front, confident, time.perf_counter() - start, names, arms_run, findings, candidates)


#: The edge test behind ``confident`` (tools.confidence).
EDGES = EdgeOptions()
#: The parametric arm's settings as ``discover`` runs it.
PARAMETRIC = ParametricOptions()


def _shapes(candidates: Sequence[Candidate], options: ParametricOptions) -> list[sp.Expr]:
    """The shapes the parametric arm lifts, each with few enough constants to leave room for placeholders:
    the best candidate of each arm (a shape with the right skeleton often ranks low until its inner constants
    are fitted), then the others by validation error, ``options.seeds`` in all."""
    liftable = sorted((c for c in candidates if len(c.expression.atoms(sp.Float)) <= options.max_placeholders // 2
                       and c.complexity <= options.max_nodes), key=lambda c: (c.val_nmse, c.complexity))
    best_of_arm = list({c.source: c for c in reversed(liftable)}.values())
    best_of_arm.sort(key=lambda c: (c.val_nmse, c.complexity))
    return list(dict.fromkeys(c.expression for c in best_of_arm + liftable))[: options.seeds]
