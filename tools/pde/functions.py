"""Terms a polynomial library does not hold: sin(a·u), cos(a·u), exp(a·u), tanh(a·u), u/(1 + a·u²), with the
constant a inside fitted to the data.

The polynomial law found first is a smooth stand-in where the law holds such a term (u − 0.15·u³ for sin u, to
the order the data's amplitude reaches); a function term is kept only where it explains the time derivative
markedly better (``gain`` times smaller cross-validated residual) or as well with fewer numbers to write down
(within the term choice's tolerance), so polynomial laws stay polynomial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.optimize import minimize_scalar

from tools.pde.library import Term
from tools.pde.select import Fit, SelectOptions, choose, exact_value, simple_values
from tools.pde.weak import WeakIntegrator

FORMS: dict[str, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    "sin": lambda a, f: sp.sin(a * f),
    "cos": lambda a, f: sp.cos(a * f),
    "exp": lambda a, f: sp.exp(a * f),
    "tanh": lambda a, f: sp.tanh(a * f),
    "rational": lambda a, f: f / (1 + a * f**2),
}


@dataclass(frozen=True)
class FunctionOptions:
    """The function-term search.

    Parameters
    ----------
    forms : which of :data:`FORMS` to try.
    scales : inner constants tried per form and field, log-spaced over ``scale_range`` / RMS of the field.
    keep : best function terms added to the library for the final choice.
    gain : the function law must have this many times smaller cross-validated residual than the polynomial one.
    """

    forms: tuple[str, ...] = ("sin", "cos", "exp", "tanh", "rational")
    scales: int = 13
    scale_range: tuple[float, float] = (0.1, 10.0)
    keep: int = 3
    gain: float = 2.0


def _residual(columns: np.ndarray, lhs: np.ndarray) -> float:
    solution, *_ = np.linalg.lstsq(columns, lhs, rcond=None)
    return float(np.linalg.norm(columns @ solution - lhs))


def function_terms(integrator: WeakIntegrator, rows: np.ndarray, bases: list[np.ndarray], lhs: np.ndarray,
                   options: FunctionOptions) -> list[tuple[float, Term, np.ndarray]]:
    """For each base (a set of columns), the ``keep`` function terms that most lower the residual of ``lhs`` on
    the base plus the term, each with its inner constant fitted (a grid, then a bounded 1-D search, then the
    simplest value the data cannot tell apart), and its column."""
    found: dict[str, tuple[float, Term, np.ndarray]] = {}
    for base in bases:
        scored = []
        for name, values in integrator.data.fields.items():
            symbol = sp.Symbol(name, real=True)
            rms = float(np.sqrt(np.mean(values**2))) or 1.0
            for form in options.forms:
                scored.append(_fit_scale(integrator, rows, base, lhs, form, symbol, rms, options))
        for cost, term in sorted((c for c in scored if np.isfinite(c[0])), key=lambda c: c[0])[:options.keep]:
            key = sp.sstr(term.g)
            if key not in found or cost < found[key][0]:
                found[key] = (cost, term, integrator.column(term))
    return list(found.values())


def _fit_scale(integrator: WeakIntegrator, rows: np.ndarray, base: np.ndarray, lhs: np.ndarray, form: str,
               symbol: sp.Symbol, rms: float, options: FunctionOptions) -> tuple[float, Term]:
    def term(a: float) -> Term:
        return Term(FORMS[form](exact_value(a), symbol))

    def cost(log_a: float) -> float:
        column = integrator.column(term(float(np.exp(log_a))))[rows]
        return _residual(np.column_stack([base, column]), lhs) if np.all(np.isfinite(column)) else np.inf

    grid = np.log(np.geomspace(*options.scale_range, options.scales) / rms)
    with np.errstate(all="ignore"):
        costs = [cost(g) for g in grid]
        best = int(np.argmin(costs))
        low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
        refined = minimize_scalar(cost, bounds=(low, high), method="bounded", options={"maxiter": 20})
        lowest = min(refined.fun, costs[best])
        a = float(np.exp(refined.x if refined.fun < costs[best] else grid[best]))
        for value in simple_values(a):  # sin(u), not sin(1.0003·u), where the data cannot tell them apart
            if cost(np.log(value)) <= lowest * 1.02:
                a = value
                break
    return lowest, term(a)


@dataclass
class FunctionSearch:
    """Function terms tried (with their weak-form columns over every row), the law chosen with them, and whether
    it replaces the polynomial law (``accepted``) or, not accepted, fits about as well (``rival``: the data cannot
    tell the two apart)."""

    added: list[Term]
    columns: np.ndarray
    chosen: Fit
    ranked: list[Fit]
    accepted: bool
    rival: bool


def _inner_constants(term: Term) -> int:
    """How many constants inside a function term are not simple (integers, or fractions over 2, 3 or 4)."""
    return sum(1 for n in term.g.atoms(sp.Number) if not (n.is_Rational and n.q <= 4))


def with_functions(integrator: WeakIntegrator, rows: np.ndarray, groups: np.ndarray, columns: np.ndarray,
                   lhs: np.ndarray, terms: list[Term], polynomial: Fit, select: SelectOptions,
                   options: FunctionOptions) -> FunctionSearch | None:
    """The best law with function terms beside the polynomial law ``polynomial`` (over the library ``terms``,
    whose ``columns`` these are), and whether it replaces it; None where no function term is chosen.

    Function terms are sought both beside the polynomial law's terms (a law that needs one more term) and in place
    of its underived terms (sin u where the polynomial law has u and u³)."""
    support = list(polynomial.support)
    derived = [i for i in support if terms[i].order > 0]
    bases = [columns[:, support], columns[:, derived] if derived else np.empty((len(lhs), 0))]
    added = function_terms(integrator, rows, bases, lhs, options)
    if not added:
        return None
    added_columns = np.column_stack([column for _, _, column in added])
    chosen, ranked = choose(np.column_stack([columns, added_columns[rows]]), lhs, groups, select)
    functions = [i - columns.shape[1] for i in chosen.support if i >= columns.shape[1]]
    if not functions:
        return None
    # A function term costs its coefficient and the choice of its function, and a fitted constant inside it one
    # more: sin(u) two, sin(3.1·u) three; a polynomial term one.
    size = len(chosen.support) + sum(1 + _inner_constants(added[i][1]) for i in functions)
    as_good = chosen.validation <= polynomial.validation * (1 + select.tolerance)
    better = chosen.validation * options.gain < polynomial.validation
    simpler = as_good and size < len(polynomial.support)
    rival = as_good and size <= len(polynomial.support)
    return FunctionSearch([term for _, term, _ in added], added_columns, chosen, ranked, better or simpler, rival)

