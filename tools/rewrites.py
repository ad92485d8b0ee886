"""Rewrites of a candidate formula into forms whose constants refit and snap to the law: one additive term left
out, a square root with its square factors taken out and its outer constant taken in. Each rewrite frees the
constants concerned as floats for the refit that follows (``tools.polish.polish``)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from tools.constants import evaluate
from twin.expressions import count_nodes

#: The most additive terms a sum may have for its terms to be tried away one at a time.
PRUNE_MAX_TERMS = 8
#: The largest radicand (in nodes) that is factored: sympy's factorisation of a large one takes seconds.
RADICAND_MAX_NODES = 40


def _freed(term: sp.Expr) -> sp.Expr:
    """``term`` with its numeric coefficient, π included, as a float (a constant for the refit)."""
    coefficient, rest = term.as_independent(*term.free_symbols, as_Add=False)
    return sp.Float(float(coefficient), 15) * rest


def without_each_term(expr: sp.Expr) -> list[sp.Expr]:
    """``expr`` with one additive term of its sum (or of its numerator) left out at a time; the coefficients of
    the terms kept become floats again, for the refit. On noisy data a law plus a small spurious term fits a
    little better than the law (bonus 9 at σ = 1 %: −4m₂c³/(7r) beside the two terms of the law) and the
    search may never propose the law alone."""
    numerator, denominator = sp.fraction(expr)
    expanded = sp.expand(numerator)
    if count_nodes(expanded) > 2 * count_nodes(numerator) + 2:
        expanded = numerator
    terms = sp.Add.make_args(expanded)
    if not 2 <= len(terms) <= PRUNE_MAX_TERMS:
        return []
    return [sp.Add(*(_freed(t) for j, t in enumerate(terms) if j != i)) / denominator for i in range(len(terms))]


def _sign_on(factor: sp.Expr, X: np.ndarray, names: list[str]) -> int:
    """+1 or −1 where ``factor`` keeps that sign on every row of ``X``, else 0."""
    values = evaluate(factor, X, names)
    if not np.isfinite(values).all():
        return 0
    return 1 if (values > 0).all() else -1 if (values < 0).all() else 0


def _square_factors_out(radicand: sp.Expr, X: np.ndarray, names: list[str]) -> tuple[sp.Expr, sp.Expr]:
    """(outside, inside) with √radicand = outside·√inside on the data: each factor of the radicand's numerator
    and denominator raised to an even power leaves the root as itself times the sign it has on every row."""
    numerator, denominator = sp.fraction(sp.together(radicand))
    inside, outside = sp.Integer(1), sp.Integer(1)
    for part, power in ((numerator, 1), (denominator, -1)):
        coefficient, factors = sp.factor_list(part)
        inside *= coefficient ** power
        for factor, exponent in factors:
            sign = _sign_on(factor, X, names) if exponent >= 2 else 0
            if sign == 0:
                inside *= factor ** (exponent * power)
            else:
                outside *= (sign * factor) ** (exponent // 2 * power)
                inside *= factor ** (exponent % 2 * power)
    return outside, sp.expand(inside)


def out_of_radical(expr: sp.Expr, X: np.ndarray, names: list[str]) -> list[sp.Expr]:
    """For each square root of ``expr`` (√R or 1/√R): its square factors taken out (``_square_factors_out``),
    the formula's numeric coefficient taken into it (k·√R = sign(k)·√(k²R)) and the radicand's coefficients
    freed. A search finds √ laws in shapes whose constants do not snap: bonus 15's ω√(c²/v² − 1)/(c/v + cos θ)
    (as ω√(−1/(c/v + cos θ)² + c²/(v²(c/v + cos θ)²))) becomes ω√(c² − v²)/(c + v cos θ), bonus 7's
    13c·√(4Gρd²/c² − α/2)/(9d) becomes √(aGρd² + bαc²)/d, without the free scale of k·√(aX + bY)."""
    roots = {p for p in expr.atoms(sp.Pow) if p.exp in (sp.S.Half, -sp.S.Half) and p.base.free_symbols}
    forms = []
    for root in sorted(roots, key=sp.default_sort_key):
        if count_nodes(root.base) > RADICAND_MAX_NODES:
            continue
        try:
            outside, inside = _square_factors_out(root.base, X, names)
        except (sp.PolynomialError, TypeError, ValueError, RecursionError):
            continue
        if not isinstance(inside, sp.Add):  # √(k·x) is √k·√x already: no sum to take a constant in
            continue
        form = expr.xreplace({root: outside * sp.sqrt(inside) if root.exp > 0 else 1 / (outside * sp.sqrt(inside))})
        coefficient, rest = form.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        for power in (sp.S.Half, -sp.S.Half):
            if coefficient != 1 and sp.Pow(inside, power) in factors:
                scaled = sp.expand(inside * coefficient ** (2 * power))
                form, inside = sp.sign(coefficient) * rest.xreplace({sp.Pow(inside, power): sp.Pow(scaled, power)}), scaled
                break
        forms += [f for f in _radicand_scalings(form, inside) if f != expr]
    return forms


def _radicand_scalings(form: sp.Expr, inside: sp.Expr) -> list[sp.Expr]:
    """``form`` with its root √inside (or 1/√inside) written with every coefficient of the radicand free, then
    with one term's coefficient ±1 and its size as a free factor outside (√(aX + bY) = √|b|·√(aX/|b| ± Y)), for
    each of the first PRUNE_MAX_TERMS // 2 terms: the law's constants snap in one of the scalings (bonus 7's
    8π/3 with the constant taken in; bonus 5's 2π·d^{3/2}/√(G(m₁ + m₂)) only with 2π outside)."""
    terms = [t.as_coeff_Mul() for t in sp.Add.make_args(inside)]
    scalings = [(sp.Integer(1), [sp.Float(float(c), 15) for c, _ in terms])]
    for j, (c_j, _) in enumerate(terms[:PRUNE_MAX_TERMS // 2]):
        size = abs(float(c_j))
        scalings.append((sp.Float(size, 15), [sp.sign(c) if i == j else sp.Float(float(c) / size, 15)
                                              for i, (c, _) in enumerate(terms)]))
    forms = []
    for outer, coefficients in scalings:
        radicand = sp.Add(*(c * t for c, (_, t) in zip(coefficients, terms)))
        forms.append(form.xreplace({sp.Pow(inside, power): (outer * radicand) ** power if outer == 1
                                    else sp.Float(float(outer) ** float(power), 15) * radicand ** power
                                    for power in (sp.S.Half, -sp.S.Half)}))
    return forms


#: Functions whose first-order Taylor polynomial at zero stands in for them where their argument stays near zero.
ANALYTIC_AT_ZERO = (sp.sin, sp.cos, sp.tan, sp.exp, sp.sinh, sp.cosh, sp.tanh, sp.asin, sp.acos, sp.atan, sp.asinh,
                    sp.atanh)


def linearised(expr: sp.Expr) -> list[sp.Expr]:
    """``expr`` with one function f(u) at a time replaced by f(0) + f'(0)·u, for f among ``ANALYTIC_AT_ZERO``.
    Where the data keep u near zero the two fit alike, and the function is a stand-in the data do not resolve:
    Coulomb's law at σ = 1 % came back as atan(0.0799·q₁/(εr²)), two nodes shorter than q₁/(4πεr²) with the
    same fit, since its argument stays below 0.4 over the sampled box, where atan bends by at most 5 %."""
    z = sp.Dummy("z")
    forms = []
    for node in sorted(expr.atoms(*ANALYTIC_AT_ZERO), key=sp.default_sort_key):
        f0 = node.func(sp.Integer(0))
        f1 = sp.diff(node.func(z), z).subs(z, 0)
        forms.append(expr.xreplace({node: f0 + f1 * node.args[0]}))
    return forms
