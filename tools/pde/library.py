"""The candidate terms of a field law, in conservative form ∂ₓ^a ∂ᵧ^b g(fields).

Weak-form regression (tools.pde.weak) moves every spatial derivative of such a term onto the test function, so no
derivative of the noisy data is ever taken; the strong form (u·u_x for ∂ₓ(u²)/2) is what the report shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
import sympy as sp

from twin.expressions import compile_expression
from twin.pde import jet_name


@dataclass(frozen=True)
class Term:
    """∂ₓ^nx ∂ᵧ^ny of ``g``, a sympy expression of the fields (``1`` for a constant source); with ``laplacian``
    set, Δ^(nx/2) g instead (2-D isotropic terms: Δg = g_xx + g_yy, Δ²g)."""

    g: sp.Expr
    nx: int = 0
    ny: int = 0
    laplacian: bool = False

    @property
    def order(self) -> int:
        return self.nx + self.ny

    def parts(self) -> list[tuple[int, int, int]]:
        """(multiplicity, nx, ny) of the plain derivatives that make up the term."""
        if not self.laplacian:
            return [(1, self.nx, self.ny)]
        power = self.nx // 2
        return [(math.comb(power, j), 2 * (power - j), 2 * j) for j in range(power + 1)]

    def values(self, fields: dict[str, np.ndarray]) -> np.ndarray:
        """g evaluated on the field arrays (broadcast to their shape)."""
        shape = next(iter(fields.values())).shape
        return np.broadcast_to(np.asarray(compile_expression(self.g)(fields), dtype=float), shape)

    def strong(self) -> sp.Expr:
        """The term with its derivatives carried out, over jet symbols: ∂ₓ(u²) → 2·u·u_x."""
        if self.order == 0:
            return sp.expand(self.g)
        if self.laplacian:
            return sp.expand(sum((m * Term(self.g, nx, ny).strong() for m, nx, ny in self.parts()), sp.Integer(0)))
        x, y = sp.symbols("x y", real=True)
        fields = sorted(self.g.free_symbols, key=lambda s: s.name)
        functions = {s: sp.Function(s.name)(x, y) for s in fields}
        expr = sp.diff(self.g.xreplace(functions), *([x] * self.nx), *([y] * self.ny))
        jets = {}
        for s, f in functions.items():
            for nx in range(self.nx + 1):
                for ny in range(self.ny + 1):
                    target = f if nx == ny == 0 else sp.Derivative(f, *([x] * nx), *([y] * ny))
                    jets[target] = sp.Symbol(jet_name(s.name, nx, ny), real=True)
        for target in sorted(jets, key=lambda d: -sp.count_ops(d)):  # derivatives before the bare function
            expr = expr.xreplace({target: jets[target]})
        return sp.expand(expr)

    def label(self) -> str:
        g = sp.sstr(self.g)
        if self.order == 0:
            return g
        if self.laplacian:
            return ("lap" if self.order == 2 else "lap2") + f"({g})"
        return "d" + "x" * self.nx + "y" * self.ny + f"({g})"


@dataclass(frozen=True)
class LibraryOptions:
    """Which terms a library holds.

    Parameters
    ----------
    degree : highest degree of a product of fields in an underived term (u, u², u³, u·v², …).
    derivative_degree : highest degree of g under a first derivative (∂ₓ(u²) of Burgers and KdV at 2).
    higher_degree : highest degree of g under higher derivatives (1: ∂ₓ²u but not the nonlinear diffusion
        ∂ₓ²(u²), which is rare and nearly collinear with ∂ₓ²u where a field varies little about its mean).
    max_order : highest total order of a spatial derivative.
    isotropic : in 2-D, even-order terms as Δg and Δ²g (not g_xx, g_yy, g_xy apart), odd orders above 1 left
        out: the laws of isotropic media, and a library a third the size.
    constant : whether a constant source term is a candidate.
    functions : extra underived terms beyond the polynomials, as sympy expressions of the fields (e.g. ``sin(u)``,
        ``u/(1 + u**2)``); the function-term search (tools.pde.functions) adds its own with fitted constants.
    """

    degree: int = 3
    derivative_degree: int = 2
    higher_degree: int = 1
    max_order: int = 4
    constant: bool = True
    isotropic: bool = True
    functions: tuple[sp.Expr, ...] = ()


def build_library(fields: list[str], dims: int, options: LibraryOptions = LibraryOptions()) -> list[Term]:
    """Every candidate term for ``fields`` in ``dims`` spatial dimensions (1 or 2)."""
    symbols = [sp.Symbol(f, real=True) for f in fields]
    monomials = {d: [sp.Mul(*c) for c in combinations_with_replacement(symbols, d)]
                 for d in range(1, max(options.degree, options.derivative_degree) + 1)}
    terms = [Term(sp.Integer(1))] if options.constant else []
    terms += [Term(m) for d in range(1, options.degree + 1) for m in monomials[d]]
    terms += [Term(g) for g in options.functions]
    for order in range(1, options.max_order + 1):
        degrees = range(1, (options.derivative_degree if order == 1 else options.higher_degree) + 1)
        if dims == 2 and options.isotropic and order > 1:
            if order % 2 == 0:
                terms += [Term(m, order, 0, laplacian=True) for d in degrees for m in monomials[d]]
            continue
        for ny in range(order + 1 if dims == 2 else 1):
            terms += [Term(m, order - ny, ny) for d in degrees for m in monomials[d]]
    return terms
