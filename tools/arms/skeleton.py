"""Skeleton search: small parametric skeletons from a grammar, every constant fitted.

The parametric arm frees the constants of shapes another arm proposed; a law whose skeleton no arm proposes —
ν³/(exp(c·ν^1.3/T) − 1), exp(−c·t^0.6)·cos(ωt), (1 − v²/c²)^−0.4, eps·((s/r)^11.5 − (s/r)^6.3) — stays out of
reach. This arm enumerates the skeletons of a small grammar instead and fits each one's constants by
Levenberg–Marquardt, as Exhaustive Symbolic Regression (Bartlett, Desmond & Ferreira 2023) fits every function
shape up to a size, here over a grammar of the forms physical laws take rather than every tree:

    y = w·G(U)  or  w·M·G(U) + b  or  w·M·G(U) + w₂·M₂  or  w·M·F(U₁)·H(U₂)  or  w₁·M₁ + w₂·M₂ + b

where each M is a monomial with a free exponent on every non-negative input (an exponent that is not needed fits to
0 and snaps away in the polish), U is an argument of one of five forms (c·M, c·M + d, c₁·M₁ + c₂·M₂, a linear form,
c·(x_k + d)²·M), G is a function (exp, sin, tanh, atan, log, asin), a free power U^q, a logistic (a + e^U)^q or a
free power of a sine sin(U)^q, and F·H is exp·sin, exp·sin^q, exp·power or sin·power. The exponential law's
skeletons are fitted first, from the data's own a·Πx^p·exp(c·Πx^b) (variable projection on log|y|); then, by
successive halving, every skeleton in short fits, smallest first, from the values that make it the problem's power
law (fitted in log space) and from a neutral start (with the dominant angular frequency, from scipy's Lomb–Scargle
periodogram, inside a sine); the best short fits are continued in full, and the best skeletons fitted again from
seeded random starts. The number of fits follows the time budget, so a run replays to the same formulas.

Written by hand: no maintained Python library enumerates parametric skeletons over a grammar (ESR's own
package enumerates every tree of a size with its own function sets and needs MPI).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import sympy as sp
from scipy.signal import lombscargle

from tools.arms.base import Arm, Problem, Proposals, SearchState
from tools.arms.parametric import Template
from tools.constants import fit_template
from twin.expressions import make_symbols

#: Functions G of an argument (sin covers cos through its phase).
FUNCTIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "exp": sp.exp, "sin": sp.sin, "tanh": sp.tanh, "atan": sp.atan, "log": sp.log, "asin": sp.asin}
#: Argument forms U (see ``_argument``); "centred" is one form per input.
ARGUMENTS = ("scaled", "shifted", "two", "linear", "centred")
#: Starts of a free power besides its neutral one: a reciprocal, a root, a square, a power of one.
POWER_STARTS = (-1.0, 0.5, 2.0, 1.0)
#: A fitted exponent this close to an integer is that integer.
EXPONENT_ROUNDING = 1e-9
#: Training NMSE at which a fit is exact to rounding: the search stops.
EXACT = 1e-20


@dataclass(frozen=True)
class SkeletonOptions:
    """Settings of the skeleton search.

    Parameters
    ----------
    max_inputs : int
        Problems with more inputs are not searched (each input adds a free exponent to every monomial).
    fits_per_second : float
        Fits allowed per second of the search's time budget on two inputs (twice as many on one, two thirds on
        three; one fit is one start of one skeleton, 15–50 ms on our machine): the work is counted, not timed, so
        that a run replays.
    screen_nfev : int
        Evaluations per constant of the short fits that screen every skeleton from its deterministic starts ...
    screen_share : float
        ... within this share of the fits (a short fit counts as ``screen_nfev / max_nfev`` of one) ...
    promoted : int
        ... of which the best are continued in full;
    refined : int
        then the skeletons best so far are fitted again from random starts ...
    starts : int
        ... this many each.
    rows : int
        Training rows the fits see (seeded choice); the polish refits on all of them.
    max_nfev : int
        Function evaluations per fitted constant and start.
    kept : int
        Fitted skeletons returned, best first (each is polished downstream) ...
    spread : float
        ... those within this factor of the best training error.
    periodic_power : float
        Normalised Lomb–Scargle power above which y oscillates along its one input: the skeletons with a sine
        are fitted first, from the peak's frequency.
    exponent_step : tuple of float
        The grid step of the exponential law's argument exponents (``_exponential_law``) on one, two and three
        inputs.
    """

    max_inputs: int = 3
    fits_per_second: float = 12.0
    screen_nfev: int = 8
    screen_share: float = 0.5
    promoted: int = 24
    refined: int = 12
    starts: int = 4
    rows: int = 120
    max_nfev: int = 40
    kept: int = 4
    spread: float = 100.0
    periodic_power: float = 0.3
    exponent_step: tuple[float, ...] = (0.05, 0.1, 0.25)


@dataclass
class Skeleton(Template):
    """A skeleton of the grammar: a template and its name in the grammar."""

    label: str = ""


class _Grammar:
    """The skeletons over given inputs: ``inputs`` (sympy symbols), ``nonnegative`` (which take free exponents)
    and ``centres`` (each input's mean, the start of its shift in a centred argument)."""

    def __init__(self, inputs: list[sp.Symbol], nonnegative: list[bool], centres: list[float]):
        self.inputs, self.nonnegative, self.centres = inputs, nonnegative, centres

    def monomial(self, s: Skeleton, start: float = 0.0) -> sp.Expr:
        """Π x^p over the non-negative inputs; p starts at ``start`` (0 outside a function: the monomial starts
        as 1; 1 inside: an argument starts as a linear form, not as a constant)."""
        return sp.Mul(*(x ** s.new(start, "exponent") for x, ok in zip(self.inputs, self.nonnegative) if ok))

    def argument(self, s: Skeleton, form: str, periodic: bool = False, sign: float = 1.0) -> sp.Expr:
        """An argument of ``form``; its scale starts at ``sign`` (−1 inside exp: decays and Boltzmann factors
        are the common case, and a fit started on a growing exponential does not turn round)."""
        scale = "frequency" if periodic else "scale"
        if form == "scaled":
            return s.new(sign, scale) * self.monomial(s, 1.0)
        if form == "shifted":
            return s.new(sign, scale) * self.monomial(s, 1.0) + s.new(1.0, "phase")
        if form == "two":
            return s.new(sign, scale) * self.monomial(s, 1.0) + s.new(-sign, "scale") * self.monomial(s, 2.0)
        if form == "linear":
            return sp.Add(*(s.new(sign, scale) * x for x in self.inputs)) + s.new(0.0, "phase")
        k = int(form.removeprefix("centred"))
        return s.new(-1.0, "scale") * (self.inputs[k] + s.new(-self.centres[k], "shift")) ** 2 * self.monomial(s)

    def factor(self, s: Skeleton, function: str, form: str) -> sp.Expr:
        if function == "power":
            return self.argument(s, form) ** s.new(1.0, "power")
        if function == "logistic":
            return (s.new(1.0, "offset") + sp.exp(self.argument(s, form))) ** s.new(-1.0, "power")
        if function == "sin^q":  # an intensity: Malus's cos²θ, a diffraction pattern's sin²; the power starts at 2
            return sp.sin(self.argument(s, form, True)) ** s.new(2.0, "sine power")
        return FUNCTIONS[function](self.argument(s, form, function == "sin", -1.0 if function == "exp" else 1.0))

    def forms(self) -> list[str]:
        """The argument forms over these inputs (on one non-negative input a linear form is a shifted one)."""
        single = len(self.inputs) == 1 and self.nonnegative[0]
        return ([f for f in ARGUMENTS if f != "centred" and not (single and f == "linear")]
                + [f"centred{k}" for k in range(len(self.inputs))])

    def skeletons(self) -> Iterator[Skeleton]:
        """Every skeleton of the grammar (unordered)."""
        yield self._build("w1·M1 + w2·M2 + b", lambda s: s.new(1.0, "weight") * self.monomial(s)
                          + s.new(1.0, "weight") * self.monomial(s) + s.new(0.0, "constant"))
        for function in (*FUNCTIONS, "power", "logistic", "sin^q"):
            for form in self.forms():
                if function == "power" and form == "scaled":  # a power of a monomial is a monomial
                    continue
                # without the monomial and the offset too: fewer constants that trade off against each other
                # (Planck's 1/(e^(cu) − 1) is not reached through w·u^p·(e^(cu) − 1)^q + b, whose u^p takes the
                # low-u slope; it is from w·(e^(cu) − 1)^q)
                yield self._build(f"w·{function}({form})", lambda s: s.new(1.0, "weight")
                                  * self.factor(s, function, form))
                yield self._build(f"w·M·{function}({form}) + b", lambda s: s.new(1.0, "weight") * self.monomial(s)
                                  * self.factor(s, function, form) + s.new(0.0, "constant"))
                yield self._build(f"w·M·{function}({form}) + w·M", lambda s: s.new(1.0, "weight") * self.monomial(s)
                                  * self.factor(s, function, form) + s.new(1.0, "weight") * self.monomial(s))
        second_forms = [form for form in ("shifted", "linear") if form in self.forms()]
        # a decay or an oscillation times a second factor: exp·sin, exp·power, sin·power (an oscillation whose
        # amplitude follows a shifted power, A·sin(ωt)/√(1 + t), or a linear factor, v²·sin 2θ·(1 − kv))
        for first, second in (("exp", "sin"), ("exp", "sin^q"), ("exp", "power"), ("sin", "power")):
            for first_form in ("scaled", "shifted"):
                for second_form in second_forms:
                    yield self._build(f"w·M·{first}({first_form})·{second}({second_form})",
                                      lambda s: s.new(1.0, "weight") * self.monomial(s)
                                      * self.factor(s, first, first_form) * self.factor(s, second, second_form))

    @staticmethod
    def _build(label: str, body: Callable[[Skeleton], sp.Expr]) -> Skeleton:
        skeleton = Skeleton(label=label)
        skeleton.expression = body(skeleton)
        return skeleton


def _power_law(X: np.ndarray, y: np.ndarray, nonnegative: list[bool]) -> tuple[float, np.ndarray] | None:
    """y ≈ a·Π x_i^p_i over the non-negative inputs, fitted on log|y| (None unless y has one sign and those
    inputs are positive): the start that makes a skeleton's leading monomial the power law."""
    columns = [i for i, ok in enumerate(nonnegative) if ok]
    if (y == 0).any() or abs(np.mean(np.sign(y))) < 1 or (X[:, columns] <= 0).any():
        return None
    design = np.column_stack([np.ones(len(y))] + [np.log(X[:, i]) for i in columns])
    coefficients = np.linalg.lstsq(design, np.log(np.abs(y)), rcond=None)[0]
    return float(np.sign(y[0]) * np.exp(coefficients[0])), coefficients[1:]


def _exponential_law(X: np.ndarray, y: np.ndarray, nonnegative: list[bool], step: float
                     ) -> tuple[float, np.ndarray, float, np.ndarray] | None:
    """y ≈ a·Π x^p·exp(c·Π x^b) over the non-negative inputs, fitted on log|y| (None unless y has one sign and
    those inputs are positive): for each b on a grid of ``step`` over [−2, 2] the rest is linear least squares
    (variable projection), and the best b is kept. The start that puts a skeleton's exponential where the data
    have it: a Boltzmann factor exp(−c·E^1.3/T) or a stretched exponential exp(−k·t^0.7) lie far from the
    neutral start (every exponent 1) in exponents a fit from there does not cross."""
    columns = [i for i, ok in enumerate(nonnegative) if ok]
    if not columns or (y == 0).any() or abs(np.mean(np.sign(y))) < 1 or (X[:, columns] <= 0).any():
        return None
    logs = np.log(X[:, columns])
    target = np.log(np.abs(y))
    grid = np.arange(-2.0, 2.0 + step / 2, step)
    best, fitted = np.inf, None
    for b in np.stack(np.meshgrid(*[grid] * len(columns)), axis=-1).reshape(-1, len(columns)):
        if not b.any():  # exp(c) is a constant
            continue
        design = np.column_stack([np.ones(len(y)), logs, np.exp(logs @ b)])
        coefficients, residual, rank, _ = np.linalg.lstsq(design, target, rcond=None)
        error = float(residual[0]) if len(residual) else np.inf
        if rank == design.shape[1] and error < best:
            best, fitted = error, (coefficients, b)
    if fitted is None:
        return None
    coefficients, b = fitted
    return float(np.sign(y[0]) * np.exp(coefficients[0])), coefficients[1:-1], float(coefficients[-1]), b


def _exponential_starts(skeleton: Skeleton, law: tuple[float, np.ndarray, float, np.ndarray] | None
                        ) -> list[np.ndarray]:
    """The start that makes ``skeleton`` the exponential law (``_exponential_law``), for w·exp(c·M), w·M·exp(c·M)
    + …, and their logistic forms w·(−1 + e^U)^−1, whose tail is e^−U; none for other skeletons."""
    function = next((f for f in ("exp", "logistic") if f"{f}(scaled)" in skeleton.label), None)
    if law is None or function is None:
        return []
    a, p, c, b = law
    start, kinds = np.array(skeleton.starts), skeleton.kinds
    start[0] = a
    if "M·" in skeleton.label:
        start[1:1 + len(p)] = p
    scale = kinds.index("scale")
    start[scale] = c if function == "exp" else -c
    start[scale + 1:scale + 1 + len(b)] = b
    if function == "logistic":
        start[kinds.index("offset")] = -1.0
    return [start]


def _frequency(X: np.ndarray, y: np.ndarray, options: SkeletonOptions) -> float | None:
    """The dominant angular frequency of y along a single input where y oscillates (a normalised Lomb–Scargle
    peak of at least ``options.periodic_power``; the samples need not be evenly spaced), else None."""
    if X.shape[1] != 1 or np.ptp(X[:, 0]) <= 0 or np.ptp(y) <= 0:
        return None
    span = float(np.ptp(X[:, 0]))
    frequencies = np.linspace(2 * math.pi / span, math.pi * len(y) / span / 4, 400)
    power = lombscargle(X[:, 0], y - y.mean(), frequencies, normalize=True)
    peak = int(np.argmax(power))
    return float(frequencies[peak]) if power[peak] >= options.periodic_power else None


def _starts(skeleton: Skeleton, power_law: tuple[float, np.ndarray] | None, frequency: float | None,
            rng: np.random.Generator | None, count: int) -> list[np.ndarray]:
    """Deterministic starts (neutral values; the power law's factor in the first placeholder and its exponents
    in the first monomial — the leading one, or the argument's in w·G(U); the dominant frequency) or, with
    ``rng``, ``count`` random ones."""
    neutral = np.array(skeleton.starts)
    if rng is None:
        starts = [neutral]
        if power_law is not None:
            start = neutral.copy()
            start[0] = power_law[0]
            exponents = [i for i, kind in enumerate(skeleton.kinds) if kind == "exponent"][:len(power_law[1])]
            start[exponents] = power_law[1][:len(exponents)]
            starts.append(start)
        powers = [i for i, kind in enumerate(skeleton.kinds) if kind == "power"]
        for value in POWER_STARTS if powers else ():
            for start in list(starts[:2]):
                if value != start[powers[0]]:
                    start = start.copy()
                    start[powers] = value
                    starts.append(start)
        offsets = [i for i, kind in enumerate(skeleton.kinds) if kind == "offset"]
        for start in list(starts[:2]) if offsets else ():  # (e^U − 1)^q besides (e^U + 1)^q: Bose and Fermi
            start = start.copy()
            start[offsets] = -1.0
            starts.append(start)
        if frequency is not None and "frequency" in skeleton.kinds:
            for start in list(starts):
                start = start.copy()
                start[[i for i, kind in enumerate(skeleton.kinds) if kind == "frequency"]] = frequency
                starts.append(start)
        return starts
    randoms = []
    for _ in range(count):
        start = neutral.copy()
        for i, kind in enumerate(skeleton.kinds):
            if kind in ("exponent", "power", "sine power"):
                start[i] = rng.choice([0.0, 1.0, -1.0, 0.5, 2.0, -0.5, 1.5, -2.0])
            elif kind in ("scale", "weight", "frequency", "offset"):
                start[i] = rng.choice([-1, 1]) * 10 ** rng.uniform(-1, 1)
            elif kind == "phase":
                start[i] = rng.uniform(-2, 2)
            elif kind == "shift":
                start[i] = neutral[i] * (1 + 0.3 * rng.normal()) + 0.3 * rng.normal()
        randoms.append(start)
    return randoms


def canonical_phase(expr: sp.Expr) -> sp.Expr:
    """sin(u + φ) with a fitted phase written with the smallest phase among sin(u + φ), cos(u + φ − π/2),
    −sin(u + φ − π), −cos(u + φ + π/2) (φ taken modulo 2π): LM lands anywhere in the period, the snapping
    and the reader want cos(2.2t + 0.5), not sin(2.2t − 4.2124)."""
    def rewrite(e: sp.Expr) -> sp.Expr:
        phase, rest = e.args[0].as_coeff_Add()
        if not phase.is_Float:
            return e
        phi = math.remainder(float(phase), 2 * math.pi)
        forms = [(phi, 1, sp.sin), (phi - math.pi / 2, 1, sp.cos), (phi - math.pi, -1, sp.sin),
                 (phi + math.pi / 2, -1, sp.cos)]
        shift, sign, function = min(((math.remainder(p, 2 * math.pi), s, f) for p, s, f in forms),
                                    key=lambda form: abs(form[0]))
        return sign * function(rest + sp.Float(shift, 15))

    return expr.replace(lambda e: isinstance(e, sp.sin), rewrite)


def search_skeletons(X: np.ndarray, y: np.ndarray, names: list[str], fits: int, seed: int,
                     options: SkeletonOptions | None = None) -> list[sp.Expr]:
    """Fit the grammar's skeletons to (X, y) within ``fits`` fits: each skeleton from its deterministic starts,
    smallest first, then the ``options.refined`` best from random starts; the best fitted formulas (floats in
    place of the placeholders)."""
    options = options or SkeletonOptions()
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[: options.rows]
    # each input divided by its median magnitude: neutral starts (scale 1, shift 1) then suit every column
    scales = np.array([float(np.median(np.abs(c[c != 0]))) if (c != 0).any() else 1.0 for c in X.T])
    X, y = X[rows] / scales, y[rows]
    symbols = make_symbols(names)
    nonnegative = [bool((X[:, i] >= 0).all()) for i in range(len(names))]
    grammar = _Grammar([symbols[n] for n in names], nonnegative, [float(c) for c in X.mean(axis=0)])
    power_law, frequency = _power_law(X, y, nonnegative), _frequency(X, y, options)
    # smallest first; where the data oscillate, the skeletons with a sine before the others
    skeletons = sorted(grammar.skeletons(), key=lambda s: (frequency is not None and "sin" not in s.label,
                                                           len(s.symbols), s.label))
    fitted: dict[int, tuple[float, np.ndarray]] = {}
    screened: list[tuple[float, int, np.ndarray]] = []
    spent = 0.0

    def fit(index: int, starts: list[np.ndarray], nfev: int, until: float) -> bool:
        """Fit skeleton ``index`` from ``starts`` with ``nfev`` evaluations per constant (a fit with
        ``options.max_nfev`` counts as one, a shorter one as its share) while fewer than ``until`` are spent;
        whether a fit was exact. Short fits are recorded in ``screened``."""
        nonlocal spent
        skeleton = skeletons[index]
        for start in starts:
            if spent >= until:
                return False
            spent += nfev / options.max_nfev
            result = fit_template(skeleton.expression, skeleton.symbols, start, X, y, names, nfev, batched=True)
            if result is None or not np.isfinite(result[1]):
                continue
            if nfev < options.max_nfev:
                screened.append((result[1], index, result[0]))
            if result[1] < fitted.get(index, (np.inf,))[0]:
                fitted[index] = (result[1], result[0])
            if result[1] < EXACT:
                return True
        return False

    # the exponential law's skeletons first, from the start that makes them that law
    law = _exponential_law(X, y, nonnegative, options.exponent_step[min(len(names), len(options.exponent_step)) - 1])
    exact = False
    for index, skeleton in enumerate(skeletons):
        if exact:
            break
        exact = fit(index, _exponential_starts(skeleton, law), options.max_nfev, fits)
    # successive halving: every skeleton from its deterministic starts in short fits, the best of those fits
    # continued in full, then the best skeletons from random starts
    screen_until = spent + options.screen_share * (fits - spent)
    for index, skeleton in enumerate(skeletons):
        if exact or spent >= screen_until:
            break
        exact = fit(index, _starts(skeleton, power_law, frequency, None, 0), options.screen_nfev, screen_until)
    for error, index, params in sorted(screened, key=lambda trial: trial[0])[: options.promoted]:
        if exact or spent >= fits:
            break
        exact = fit(index, [params], options.max_nfev, fits)
    ranked = sorted(fitted, key=lambda index: fitted[index][0])
    for index in ranked[: options.refined]:
        if exact or spent >= fits:
            break
        exact = fit(index, _starts(skeletons[index], None, None, rng, options.starts), options.max_nfev, fits)
    ranked = sorted(fitted, key=lambda index: fitted[index][0])
    best = fitted[ranked[0]][0] if ranked else np.inf
    kept = [index for index in ranked if fitted[index][0] <= options.spread * best + EXACT][: options.kept]
    unscaled = {symbols[n]: symbols[n] / sp.Float(scale, 15) for n, scale in zip(names, scales)}
    return [canonical_phase(_unscale(skeletons[i].expression.xreplace(
        {s: _rounded(v, kind) for s, v, kind in zip(skeletons[i].symbols, fitted[i][1], skeletons[i].kinds)}),
        unscaled)) for i in kept]


def _rounded(value: float, kind: str) -> sp.Expr:
    """A fitted exponent within rounding of an integer as that integer (x^1.1e-15 is 1, t^1.0000000001 is t: a
    free exponent the law does not need fits to one, and the polish's snapping then has that many constants
    fewer); every other placeholder as a float."""
    if kind in ("exponent", "power", "sine power") and abs(value - round(value)) < EXPONENT_ROUNDING:
        return sp.Integer(round(value))
    return sp.Float(value, 15)


def _unscale(expr: sp.Expr, unscaled: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """A formula fitted on inputs divided by their scales, on the inputs themselves: (x/s)^p as s^−p·x^p (the
    monomials' inputs are non-negative) and a power of a linear form (x/s + d)^q as s^−q·(±x + d·s)^q, so that the
    polish sees the shift in the inputs' own units."""
    def split(e: sp.Pow) -> sp.Expr:
        scale, x = e.base.as_coeff_Mul()
        return scale**e.exp * x**e.exp

    expr = expr.xreplace(unscaled).replace(
        lambda e: isinstance(e, sp.Pow) and isinstance(e.base, sp.Mul) and e.base.as_coeff_Mul()[0].is_positive
        and e.base.as_coeff_Mul()[1].is_Symbol, split)

    def pull(e: sp.Pow) -> sp.Expr:
        slope = abs(e.base.coeff(next(iter(e.base.free_symbols))))  # its sign stays inside: no complex factor
        return slope**e.exp * sp.expand(e.base / slope) ** e.exp

    def linear(e: sp.Expr) -> bool:
        if not (isinstance(e, sp.Pow) and isinstance(e.base, sp.Add) and len(e.base.free_symbols) == 1):
            return False
        x = next(iter(e.base.free_symbols))
        return all(t.is_number or (t / x).is_number for t in e.base.args)

    return expr.replace(linear, pull)


@dataclass(frozen=True)
class SkeletonArm(Arm):
    """Fits the grammar's skeletons (``search_skeletons``) on the problem as given and on its reductions of at
    most ``options.max_inputs`` inputs, the fits allowed split between them; runs after the parametric arm,
    unless a formula is already exact."""

    name: ClassVar[str] = "skeleton"
    options: SkeletonOptions = field(default_factory=SkeletonOptions)

    def applies(self, state: SearchState) -> bool:
        return not state.exact() and bool(self._problems(state))

    def _problems(self, state: SearchState) -> list[Problem]:
        """The first two searchable problems (``SearchState.searchable``) of at most ``options.max_inputs`` inputs
        with distinct inputs (two π reductions over the same group differ by a power-law factor, which a
        skeleton's monomial absorbs)."""
        eligible = {tuple(p.names): p for p in reversed(state.searchable())
                    if 0 < len(p.names) <= self.options.max_inputs}
        return list(reversed(eligible.values()))[:2]

    def _fits(self, problem: Problem, state: SearchState, share: int) -> int:
        """Fits for one of ``share`` problems: ``fits_per_second`` per second of the budget, scaled by 2 / inputs
        (a fit's cost grows with its placeholders: one input's fits cost half of two inputs')."""
        return int(self.options.fits_per_second * state.time_budget / share * 2 / len(problem.names))

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        fits = self._fits(problem, state, 1)
        return Proposals(search_skeletons(problem.X, problem.y, problem.names, fits, state.seed, self.options))

    def run(self, state: SearchState, consider: Callable[[list[sp.Expr], str, Arm], None]) -> None:
        problems = self._problems(state)
        for problem in problems:
            if state.exact():
                break
            fits = self._fits(problem, state, len(problems))
            state.notify("skeleton", {"problem": problem.tag or "as given", "fits": fits})
            found = search_skeletons(problem.X, problem.y, problem.names, fits, state.seed, self.options)
            consider([problem.lift(e) for e in found], problem.tag + self.tag, self)
