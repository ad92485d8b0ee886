"""Right-hand sides the trajectory refit compares besides the derivative search's choice: its front's neighbours,
sparse polynomial and rational fits (to the spline derivatives and in integral form), and sparse sums of the terms of
a state's front formulas and of the other states' current formulas."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp
from scipy.integrate import cumulative_trapezoid

from tools.constants import evaluate
from tools.derived import edge_trim, smooth_trajectories
from tools.refit_options import DEFAULT, RefitOptions
from tools.results import Candidate
from tools.shooting import window_steps
from tools.sparse import sparse_fits
from twin import Dataset
from twin.expressions import count_nodes, make_symbols


def alternatives(front: Sequence[Candidate], chosen: Candidate, options: RefitOptions = DEFAULT) -> list[sp.Expr]:
    """The front's candidates worth integrating, nearest in complexity to the chosen one first."""
    best = min(c.val_nmse for c in front)
    plausible = [c for c in front if c.val_nmse <= options.candidate_nmse_factor * best + 1e-12 and c is not chosen]
    plausible.sort(key=lambda c: abs(c.complexity - chosen.complexity))
    return [c.expression for c in plausible[:options.candidates_per_component]]


def sparse_candidates(data: Dataset, steps: int | None = None,
                      fronts: Mapping[str, Sequence[Candidate]] | None = None, options: RefitOptions = DEFAULT,
                      ) -> dict[str, list[sp.Expr]]:
    """Per state, sparse polynomial and rational right-hand sides over SINDy's library (the constant and every
    monomial of the states up to degree 3, or 2 with three or more states), each form fitted by
    tools.sparse.sparse_fits, one least-squares fit per number of terms; duplicates dropped:

    - differential: polynomials fitted to the spline derivatives; the ``options.polynomial_candidates`` smallest sizes
      whose residual is within ``options.polynomial_rss_factor`` of the fullest fit's;
    - integral (Schaeffer & McCalla 2017): polynomials fitted to the observed change x(t + Δ) − x(t) over a
      shooting window against the library's integrals over the smoothed states, Δ = ``steps`` steps
      (``window_steps(data)`` unless given); the
      smallest sizes within ``options.integral_rss_factor`` of the fullest. The observed ends carry the noise unbiased,
      where the spline's derivative is flattened at peaks;
    - rational, in the same integral form: x′ = p(x)/(1 + d·m(x)) for a monomial m of degree ≤ 2 is linear in
      p and d as x′ = p(x) − d·m(x)·x′ (the implicit form of SINDy-PI, Kaheman et al. 2020), integrated as
      Δx = ∫p dt − d·∫m dx; per denominator the smallest size within the integral factor of its best, and
      of those the ``options.rational_candidates`` of fewest terms within ``options.rational_rss_spread`` of the best;
    - front terms, in the same integral form: sums of the additive terms of the state's ``fronts`` formulas
      (``_front_terms``), so that terms proposed in different formulas can meet. On Strogatz's shear flow at
      σ = 1 % the front held sin(x)/10 + 8x·cos²(y)/11 and sin(x)·sin(y)/10 + 11·sin(x)·cos²(y)/12, each one
      term from the law sin(x)/10 + 9·sin(x)·cos²(y)/10.

    Choosing among them by BIC on the integrated trajectories is the model selection of Mangan et al. (2017,
    SINDy with information criteria).

    Why, measured at σ = 1 %: a smoother feature often fits the biased derivatives better than the law does,
    and the derivative search's front then holds no polynomial at all (ODEBench: 0.32 − 0.6x came back as
    tanh(0.53/x)-shaped formulas, 2.1x − 0.5x² as exp(sin) ones); on ODEBench 26 the derivatives' best
    three-term fit of x₁(2 − x₀ − x₁) was −x₀x₁ − 0.2x₁³ + 1.3, where the integral form found the law's terms
    (over ODEBench's 75 polynomial components the true terms were among the differential candidates in 70,
    among these pooled ones in 72); and Strogatz's predator–prey x′ = x(4 − x − y/(1 + x)), which no front held,
    is the integral form's rational fit with denominator 1 + 0.95x.
    """
    return proposals(SparseForms(data, steps or window_steps(data, options), options), fronts)


def proposals(forms: SparseForms, fronts: Mapping[str, Sequence[Candidate]] | None) -> dict[str, list[sp.Expr]]:
    """``sparse_candidates`` on the library ``forms``."""
    candidates = {}
    for column, state in enumerate(forms.names):
        found = forms.differential(column) + forms.integral(column) + forms.rational(column)
        if fronts:
            found += forms.recombined(column, _front_terms(fronts[state], forms.options.front_terms))
        shapes = {}  # one candidate per set of terms: the same terms refit to the same trajectories
        for expr in found:
            shapes.setdefault(shape_of(expr), expr)
        candidates[state] = list(shapes.values())
    return candidates


def shape_of(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every float constant one symbol: the terms it is built of."""
    return expr.xreplace({f: _COEFFICIENT for f in expr.atoms(sp.Float)})


def _front_terms(front: Sequence[Candidate], most: int) -> list[sp.Expr]:
    """The distinct additive terms of the front's formulas without their constant factors, at most ``most``
    in front order; a formula is expanded first where that does not double its size ((x² − cos y)/x gives x and
    cos(y)/x)."""
    terms: list[sp.Expr] = []
    for candidate in front:
        expr = candidate.expression
        expanded = sp.expand(expr)
        terms += _additive_terms(expanded if count_nodes(expanded) <= 2 * count_nodes(expr) else expr)
    return list(dict.fromkeys(terms))[:most]


def _additive_terms(expr: sp.Expr) -> list[sp.Expr]:
    """The additive terms of ``expr`` that hold a symbol, without their constant factors (3/(4π) and the like)."""
    parts = (term.as_independent(*term.free_symbols, as_Add=False)[1] for term in sp.Add.make_args(expr))
    return [part for part in parts if part.free_symbols]


def shared_candidates(forms: SparseForms, state: str, formulas: Mapping[str, sp.Expr]) -> list[sp.Expr]:
    """Sparse sums (``SparseForms.recombined``) of the states themselves and of at most ``options.shared_terms`` additive
    terms of the other states' expanded ``formulas`` (a rational's numerator terms each over its denominator).

    The states of a system often exchange one flux: on ODEBench 42 at σ = 1 %, x₀′ = 8.9 − x₀ − 4x₀x₁/(1 + x₀²)
    was found, and x₁′ = 1.4x₀ − 1.4x₀x₁/(1 + x₀²) holds one of its terms, which neither x₁'s front nor the
    monomial library could write (the rational form's best fit of that structure left 1.3× the residual of a
    cubic polynomial's). The other states' formulas change during the refit, so this is asked at each state's
    turn.
    """
    states = [m for p, m in zip(forms.powers, forms.monomials) if len(p) == 1]
    others = [t for s, f in formulas.items() if s != state for t in _additive_terms(sp.expand(f))]
    shared = [term for term in dict.fromkeys(others) if term not in states][:forms.options.shared_terms]
    return forms.recombined(forms.names.index(state), [*states, *shared]) if shared else []


_COEFFICIENT = sp.Symbol("coefficient")


class SparseForms:
    """The monomial library on the smoothed trajectories, pointwise and integrated over shooting windows; one
    method per form of ``sparse_candidates``."""

    def __init__(self, data: Dataset, window_steps: int, options: RefitOptions = DEFAULT):
        self.options = options
        self.smoothed, self.derivatives, _ = smooth_trajectories(data)
        self.states, self.t = data.arrays["states"], data.arrays["t"]
        t = self.t
        self.trim = edge_trim(data)
        self.names = names = list(data.input_names)
        symbols = [make_symbols(names)[n] for n in names]
        degree = 3 if len(names) <= 2 else 2
        # The constant is a term of the library, the empty product, so that a sparse fit may leave it out: with
        # an intercept always in, the logistic law 1.8x − 0.11x² was proposed only as 0.29 + 1.72x − 0.107x²
        # (ODEBench 12 at σ = 1 %).
        self.powers = [p for d in range(degree + 1)
                       for p in itertools.combinations_with_replacement(range(len(names)), d)]
        self.monomials = [sp.Mul(*(symbols[i] for i in p)) for p in self.powers]
        library = np.stack([np.prod(self.smoothed[..., list(p)], axis=-1) for p in self.powers], axis=-1)  # (B,T,F)
        self.pointwise = library[:, self.trim:-self.trim].reshape(-1, len(self.powers))
        self.window_steps = window_steps
        self.starts = np.arange(self.trim, max(self.trim, len(t) - self.trim - window_steps))
        self.spans = self._over_windows(cumulative_trapezoid(library, t, axis=1, initial=0))
        self.max_terms = min(options.polynomial_terms + 1, len(self.powers))  # the monomials and the constant

    def _over_windows(self, cumulative: np.ndarray) -> np.ndarray:
        """(B, T, F) running integrals → (windows, F) integrals over each shooting window."""
        ends = cumulative[:, self.starts + self.window_steps] - cumulative[:, self.starts]
        return ends.reshape(len(self.starts) * len(self.states), -1)

    def _changes(self, column: int) -> np.ndarray:
        observed = self.states[..., column]
        return (observed[:, self.starts + self.window_steps] - observed[:, self.starts]).reshape(-1)

    def _polynomial(self, coefficients: np.ndarray, terms: Sequence[sp.Expr] | None = None) -> sp.Expr:
        """Σ coefficient·term over the library (the monomials unless ``terms``); coefficients beyond the terms (a
        rational's denominator) are left out."""
        terms = self.monomials if terms is None else terms
        return sp.Add(*(sp.Float(coefficients[i], 15) * terms[i] for i in np.flatnonzero(coefficients[:len(terms)])))

    def differential(self, column: int) -> list[sp.Expr]:
        derivative = self.derivatives[:, self.trim:-self.trim, column].reshape(-1)
        fits = sparse_fits(self.pointwise, derivative, self.max_terms, intercept=False)
        return [self._polynomial(c) for c, _ in
                _adequate(fits, self.pointwise, derivative, self.options.polynomial_rss_factor)
                [:self.options.polynomial_candidates]]

    def integral(self, column: int) -> list[sp.Expr]:
        if not len(self.starts):
            return []
        changes = self._changes(column)
        fits = sparse_fits(self.spans, changes, self.max_terms, intercept=False)
        return [self._polynomial(c) for c, _ in
                _adequate(fits, self.spans, changes, self.options.integral_rss_factor)[:self.options.polynomial_candidates]]

    def recombined(self, column: int, terms: Sequence[sp.Expr]) -> list[sp.Expr]:
        """Sparse sums of ``terms`` (finite and not constant on the smoothed states) and a constant, fitted in the
        integral form."""
        if not len(self.starts) or not terms:
            return []
        flat = self.smoothed.reshape(-1, len(self.names))
        usable, columns = [sp.Integer(1)], [np.ones(self.smoothed.shape[:2])]
        for term in terms:
            values = evaluate(term, flat, self.names)
            if np.isfinite(values).all() and np.ptp(values) > 0:
                usable.append(term)
                columns.append(values.reshape(self.smoothed.shape[:2]))
        if len(usable) == 1:  # the constant alone
            return []
        library = np.stack(columns, axis=-1)
        spans = self._over_windows(cumulative_trapezoid(library, self.t, axis=1, initial=0))
        changes = self._changes(column)
        fits = sparse_fits(spans, changes, min(self.options.polynomial_terms + 1, len(usable)), intercept=False)
        return [self._polynomial(c, usable) for c, _ in
                _adequate(fits, spans, changes, self.options.integral_rss_factor)[:self.options.polynomial_candidates]]

    def rational(self, column: int) -> list[sp.Expr]:
        if not len(self.starts):
            return []
        changes, F = self._changes(column), len(self.powers)
        increments = np.diff(self.smoothed[..., column], axis=1)
        proposals = []
        for p, monomial in zip(self.powers, self.monomials):
            if not p or len(p) > 2:  # 1 + d is no denominator: it only rescales the numerator
                continue
            factor = np.prod(self.smoothed[..., list(p)], axis=-1)
            stieltjes = np.concatenate([np.zeros((len(factor), 1)), np.cumsum(
                0.5 * (factor[:, 1:] + factor[:, :-1]) * increments, axis=1)], axis=1)  # ∫ m dx
            features = np.column_stack([self.spans, -self._over_windows(stieltjes[..., None])])
            fits = [c for c in sparse_fits(features, changes, self.max_terms + 1, intercept=False) if c[F]]
            # a denominator that vanishes where the data live is no law for them
            fits = [c for c in fits if np.min(1 + c[F] * factor) > 0]
            for c, rss in _adequate(fits, features, changes, self.options.integral_rss_factor)[:1]:
                proposals.append((rss, np.count_nonzero(c),
                                  self._polynomial(c) / (1 + sp.Float(c[F], 15) * monomial)))
        if not proposals:
            return []
        best = min(rss for rss, *_ in proposals)
        hopeful = sorted((p for p in proposals if p[0] <= self.options.rational_rss_spread * best), key=lambda p: (p[1], p[0]))
        return [expr for *_, expr in hopeful[:self.options.rational_candidates]]


def _adequate(fits: Sequence[np.ndarray], features: np.ndarray, y: np.ndarray,
              factor: float) -> list[tuple[np.ndarray, float]]:
    """The sparse fits (coefficients of the features) whose residual is within ``factor`` of the least, with it."""
    scored = [(c, float(np.sum((features @ c - y) ** 2))) for c in fits]
    least = min((rss for _, rss in scored), default=np.inf)
    return [(c, rss) for c, rss in scored if rss <= factor * least]
