"""Parametric structure search: a found shape with a constant placeholder wherever a constant can stand.

The other arms propose shapes from a fixed vocabulary (x², √x, exp(x), sin x, …); a law whose unknown constant
sits inside a function — A·exp(−k·t^0.7), (sin φ + 3 cos φ)², arcsin(a·cos(θ°)/b), 1/(exp(c·E^1.3/T) − 1) —
is then only approximated. This arm takes the best shapes found so far and lifts each into templates with
placeholders: a free exponent on every power and on every input inside a function (t → t^p), a scale and a
phase inside every function (f(g) → f(c·g + d)), a weight on every term of a sum, and an outer a·e + b. Each
template is fitted by nonlinear least squares (scipy's Levenberg–Marquardt) from several starts: the found
values, seeded random ones, and for the scale inside a periodic function a grid that includes the
degree-to-radian factor π/180. The fitted formulas go through the engine's usual polish (refit, normal form,
snapping: a placeholder that is not needed snaps back to 0 or 1) and description-length choice.

Anchors: Exhaustive Symbolic Regression (Bartlett, Desmond & Ferreira 2023) fits the parameters of every shape
up to a size; Operon's local search runs Levenberg–Marquardt on every constant of every tree. Here the shapes
come from the other arms instead of a full enumeration, which keeps the search within seconds. Written by hand:
no maintained library lifts a given sympy expression into a parametric template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import sympy as sp

from tools.arms.base import Arm, Problem, Proposals, SearchState
from tools.constants import fit_template
from tools.results import Candidate

#: Functions whose argument gets a scale and a phase (periodic ones also a grid of starts for the scale).
PERIODIC = (sp.sin, sp.cos)
FUNCTIONS = (sp.sin, sp.cos, sp.exp, sp.log, sp.tanh, sp.asin, sp.acos, sp.atan, sp.sinh, sp.cosh, sp.atanh)
#: Which placeholders each variant of a template holds.
VARIANTS: tuple[frozenset[str], ...] = (
    frozenset({"exponent"}), frozenset({"inner"}), frozenset({"exponent", "weight"}),
    frozenset({"exponent", "inner", "weight"}))


@dataclass
class ParametricOptions:
    """Settings of the parametric search.

    Parameters
    ----------
    seeds : int
        Shapes lifted: the best distinct candidates found so far by validation error.
    max_nodes : int
        Larger shapes are not lifted (a 60-node approximant has no skeleton to free; its fits took seconds).
    max_placeholders : int
        Templates with more placeholders than this are not fitted (Levenberg–Marquardt on a dozen loosely
        determined constants wanders, and each costs a finite-difference column per iteration).
    starts : int
        Random starts per template besides the found values (and the periodic grid).
    periodic_grid : tuple of float
        Starts for the one scale inside a periodic function (π/180: an angle given in degrees).
    rows : int
        Training rows the fits see (seeded choice); the polish refits on all of them.
    max_nfev : int
        Function evaluations per fitted constant and start.
    spread : float
        Fitted templates within this factor of the best training error are returned ...
    kept : int
        ... at most this many, best first (each is polished and snapped downstream, the costly step).
    """

    seeds: int = 5
    max_nodes: int = 24
    max_placeholders: int = 10
    starts: int = 3
    periodic_grid: tuple[float, ...] = (1.0, math.pi / 180, 0.5, 2.0, 3.0, 0.25, 5.0, 0.1)
    rows: int = 120
    max_nfev: int = 40
    spread: float = 100.0
    kept: int = 6


@dataclass
class Template:
    """An expression with placeholders ``_p0, _p1, …``, their start values and kinds (what each stands for:
    an exponent, a scale, a phase, …; random starts are drawn by kind)."""

    expression: sp.Expr = sp.Integer(0)
    symbols: list[sp.Symbol] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def new(self, start: float, kind: str) -> sp.Symbol:
        symbol = sp.Symbol(f"_p{len(self.symbols)}", real=True)
        self.symbols.append(symbol)
        self.starts.append(float(start))
        self.kinds.append(kind)
        return symbol


def lift(expr: sp.Expr, rules: frozenset[str], positive: set[str]) -> Template:
    """The template of ``expr`` under ``rules`` (see ``VARIANTS``). Every float and every other constant
    subexpression of ``expr`` becomes a placeholder started at its value, so that a number written with π merges
    with the factor beside it once fitted (0.35·t, not 1.0996·t/π). Inputs get a free exponent only where they
    are positive on the data (``positive``)."""
    template = Template()

    def walk(e: sp.Expr, inside: bool) -> sp.Expr:
        if e.is_Symbol:
            if inside and "exponent" in rules and e.name in positive:
                return e ** template.new(1.0, "exponent")
            return e
        if e.is_Float or (not e.free_symbols and not e.is_Rational):  # exp(−sin 3) is one more constant
            return template.new(float(e), "constant")
        if e.is_Number:
            return e
        if isinstance(e, sp.Pow):
            base = walk(e.base, inside=False)
            if e.exp.is_number and "exponent" in rules and e.exp not in (-1, 1):
                return base ** template.new(float(e.exp), "exponent")
            return base ** walk(e.exp, inside)
        if isinstance(e, sp.Add):
            terms = [walk(t, inside) for t in e.args]
            if "weight" in rules:
                terms = [t if t.is_Symbol and t.name.startswith("_p") else template.new(1.0, "weight") * t
                         for t in terms]
            return sp.Add(*terms)
        if isinstance(e, sp.Mul):
            return sp.Mul(*(walk(a, inside) for a in e.args))
        if isinstance(e, FUNCTIONS) and len(e.args) == 1:
            argument = walk(e.args[0], inside=True)
            if "inner" in rules:
                argument = template.new(1.0, "periodic" if isinstance(e, PERIODIC) else "scale") * argument
                if not isinstance(e, sp.exp):  # exp's shift is its outer scale
                    argument = argument + template.new(0.0, "phase")
            return e.func(argument)
        return e.func(*(walk(a, inside) for a in e.args))

    body = walk(expr, inside=False)
    template.expression = template.new(1.0, "weight") * body + template.new(0.0, "constant")
    return template


def _starts(template: Template, options: ParametricOptions, rng: np.random.Generator) -> list[np.ndarray]:
    """The found values, a grid over a single periodic scale, and seeded random starts."""
    found = np.array(template.starts)
    starts = [found]
    periodic = [i for i, k in enumerate(template.kinds) if k == "periodic"]
    if len(periodic) == 1:
        for value in options.periodic_grid[1:]:
            start = found.copy()
            start[periodic[0]] = value
            starts.append(start)
    for _ in range(options.starts):
        start = found.copy()
        for i, kind in enumerate(template.kinds):
            if kind == "exponent":
                start[i] = found[i] * rng.uniform(0.6, 1.4)
            elif kind in ("scale", "periodic"):
                start[i] = rng.choice([-1, 1]) * 10 ** rng.uniform(-2, 1)
            elif kind == "phase":
                start[i] = rng.uniform(-math.pi, math.pi)
        starts.append(start)
    return starts


def fit_shapes(shapes: Sequence[sp.Expr], X: np.ndarray, y: np.ndarray, names: list[str], seed: int,
                   options: ParametricOptions | None = None) -> list[sp.Expr]:
    """Lift each of ``shapes`` into its templates, fit each from several starts, and return the best fitted
    formulas (floats in place of the placeholders; see ``ParametricOptions.spread`` and ``kept``)."""
    options = options or ParametricOptions()
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[: options.rows]
    X, y = X[rows], y[rows]
    positive = {n for i, n in enumerate(names) if (X[:, i] > 0).all()}
    fitted: list[tuple[float, Template, np.ndarray]] = []
    seen: set[sp.Expr] = set()
    for shape in shapes[: options.seeds]:
        for rules in VARIANTS:
            template = lift(shape, rules, positive)
            if len(template.symbols) > options.max_placeholders or template.expression in seen:
                continue
            seen.add(template.expression)
            fit = _best_start(template, _starts(template, options, rng), X, y, names, options)
            if fit is not None:
                fitted.append((fit[1], template, fit[0]))
    # a template's fit is kept within ``options.spread`` of the best fit of all: each costs a polish
    best = min((error for error, *_ in fitted), default=np.inf)
    kept = [(template, theta) for error, template, theta in sorted(fitted, key=lambda item: item[0])
            if error <= options.spread * best + EXACT][: options.kept]
    return [template.expression.xreplace({s: sp.Float(v, 15) for s, v in zip(template.symbols, theta)})
            for template, theta in kept]


#: Training NMSE at which a fit is exact to rounding: no further start is tried.
EXACT = 1e-20


def _best_start(template: Template, starts: list[np.ndarray], X: np.ndarray, y: np.ndarray, names: list[str],
                options: ParametricOptions) -> tuple[np.ndarray, float] | None:
    """The best fit of ``template`` over ``starts`` (stopping at an exact one)."""
    best = None
    for start in starts:
        fit = fit_template(template.expression, template.symbols, start, X, y, names, options.max_nfev)
        if fit is not None and np.isfinite(fit[1]) and (best is None or fit[1] < best[1]):
            best = fit
            if best[1] < EXACT:
                break
    return best


@dataclass(frozen=True)
class ParametricArm(Arm):
    """Lifts the best shapes found so far (``shapes``) into parametric templates and fits them
    (``fit_shapes``); runs after the per-problem arms and the network arm, unless a formula is already exact."""

    name: ClassVar[str] = "parametric"
    options: ParametricOptions = field(default_factory=ParametricOptions)

    def applies(self, state: SearchState) -> bool:
        return not state.exact()

    def propose(self, problem: Problem, state: SearchState) -> Proposals:
        state.notify("parametric", {"shapes": self.options.seeds})
        return Proposals(fit_shapes(shapes(state.candidates, self.options), problem.X, problem.y, problem.names,
                                    state.seed, self.options))


def shapes(candidates: Sequence[Candidate], options: ParametricOptions) -> list[sp.Expr]:
    """The shapes the parametric arm lifts, each with few enough constants to leave room for placeholders:
    the best candidate of each arm (a shape with the right skeleton often ranks low until its inner constants
    are fitted), then the others by validation error, ``options.seeds`` in all."""
    liftable = sorted((c for c in candidates if len(c.expression.atoms(sp.Float)) <= options.max_placeholders // 2
                       and c.complexity <= options.max_nodes), key=lambda c: (c.val_nmse, c.complexity))
    best_of_arm = list({c.source: c for c in reversed(liftable)}.values())
    best_of_arm.sort(key=lambda c: (c.val_nmse, c.complexity))
    return list(dict.fromkeys(c.expression for c in best_of_arm + liftable))[: options.seeds]
