"""Dimensional analysis: units → Buckingham π groups that reduce a discovery problem.

A law y = f(x₁…xₙ) between quantities with units can be written y = s(x)·F(π₁…π_k), where s(x) is a
product of inputs with the units of y and the π are the dimensionless products of inputs; k = n − rank
of the dimension matrix. Searching F over k < n variables is what made AI Feynman strong. The linear
algebra (exact rational null spaces) is sympy's; the unit grammar is the Feynman dataset's
("m^2 * s^(-2) * kg^1"; empty means dimensionless), which no unit library parses as is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp
from sympy.matrices.exceptions import NonInvertibleMatrixError

from twin.expressions import make_symbols

#: Base units the grammar knows (SI, plus volt and tesla as bases "V" and "T", as the Feynman unit file uses them).
BASE_UNITS = frozenset({"m", "s", "kg", "A", "K", "mol", "cd", "V", "T"})
#: Derived and scaled units a person writes, in those bases (a scale such as cm or g has its base's dimension).
#: Micro-units ("uC") are left out on purpose: nothing is inferred from a unit the table does not hold.
DERIVED_UNITS: dict[str, dict[str, int]] = {
    "N": {"kg": 1, "m": 1, "s": -2}, "J": {"kg": 1, "m": 2, "s": -2}, "W": {"kg": 1, "m": 2, "s": -3},
    "Pa": {"kg": 1, "m": -1, "s": -2}, "Hz": {"s": -1}, "C": {"A": 1, "s": 1}, "ohm": {"V": 1, "A": -1},
    "Ohm": {"V": 1, "A": -1}, "F": {"A": 1, "s": 1, "V": -1}, "Wb": {"V": 1, "s": 1}, "H": {"V": 1, "s": 1, "A": -1},
    "g": {"kg": 1}, "cm": {"m": 1}, "mm": {"m": 1}, "km": {"m": 1}, "ms": {"s": 1}, "min": {"s": 1},
    "rad": {}, "sr": {},
}
#: Tokens of a unit: names, numbers (a leading "1" of "1/s", exponents), operators and parentheses.
_TOKEN = re.compile(r"\s*(\*\*|[A-Za-z]+|\d+(?:\.\d+)?|[-+*/^()·])")
#: Reductions tried per problem: the choice of repeating variables changes how simple F is.
MAX_REDUCTIONS = 3


def parse_unit(text: str) -> dict[str, Fraction]:
    """A unit's powers of the base units: ``"m^2 * s^(-2) * kg^1"`` → {"m": 2, "s": -2, "kg": 1}, and as people
    write them, ``"m/s^2"``, ``"kg m^2/s^2"``, ``"W/(m^2 K^4)"``, ``"N"``; empty or "dimensionless" → {}.

    Written by hand: sympy's unit system parses through ``sympify`` (an eval of the text), which the project never
    runs on a user's string; this grammar reads only names, numbers, ``* · / ^ **`` and parentheses."""
    text = text.strip()
    if not text or text.lower() == "dimensionless" or text == "1":
        return {}
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"cannot read unit {text!r}: unexpected {text[position:].strip()[:10]!r}")
        tokens.append(match.group(1))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    reader = _UnitReader(tokens, text)
    powers = reader.product()
    if reader.position != len(tokens):
        raise ValueError(f"cannot read unit {text!r}: unexpected {tokens[reader.position]!r}")
    return {b: p for b, p in powers.items() if p}


class _UnitReader:
    """Recursive descent over a unit's tokens: product := term (('*' | '·' | '/' | nothing) term)*,
    term := (name | number | '(' product ')') [('^' | '**') exponent]."""

    def __init__(self, tokens: list[str], text: str):
        self.tokens, self.text, self.position = tokens, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError(f"cannot read unit {self.text!r}: it ends too early")
        self.position += 1
        return token

    def product(self) -> dict[str, Fraction]:
        powers = self.term()
        while self.peek() not in (None, ")"):
            sign = 1
            if self.peek() in ("*", "·"):
                self.take()
            elif self.peek() == "/":
                self.take()
                sign = -1
            for base, power in self.term().items():
                powers[base] = powers.get(base, Fraction(0)) + sign * power
        return powers

    def term(self) -> dict[str, Fraction]:
        token = self.take()
        if token == "(":
            powers = self.product()
            if self.take() != ")":
                raise ValueError(f"cannot read unit {self.text!r}: unbalanced parentheses")
        elif token[0].isdigit():
            if token != "1":
                raise ValueError(f"cannot read unit {self.text!r}: a number other than 1 ({token!r}) is no unit")
            powers = {}
        elif token in BASE_UNITS:
            powers = {token: Fraction(1)}
        elif token in DERIVED_UNITS:
            powers = {b: Fraction(p) for b, p in DERIVED_UNITS[token].items()}
        else:
            raise ValueError(f"cannot read unit {self.text!r}: {token!r} is not one of "
                             f"{sorted(BASE_UNITS | set(DERIVED_UNITS))}")
        if self.peek() in ("^", "**"):
            self.take()
            exponent = self.exponent()
            powers = {b: p * exponent for b, p in powers.items()}
        return powers

    def exponent(self) -> Fraction:
        wrapped = self.peek() == "("
        if wrapped:
            self.take()
        sign = -1 if self.peek() == "-" else 1
        if self.peek() in ("-", "+"):
            self.take()
        number = self.take()
        if not number[0].isdigit():
            raise ValueError(f"cannot read unit {self.text!r}: exponent {number!r} is not a number")
        value = Fraction(number)
        following = self.tokens[self.position + 1] if self.position + 1 < len(self.tokens) else ""
        if self.peek() == "/" and following[:1].isdigit():  # m^(1/2); "m^2/s" divides by s
            self.take()
            value /= Fraction(self.take())
        if wrapped and self.take() != ")":
            raise ValueError(f"cannot read unit {self.text!r}: unbalanced parentheses")
        return sign * value


def format_unit(powers: dict[str, Fraction]) -> str:
    """The inverse of ``parse_unit``: {"m": 1, "s": -1} → ``"m^1 * s^(-1)"`` ("" when dimensionless)."""
    return " * ".join(f"{b}^({p})" if p < 0 or p.denominator != 1 else f"{b}^{p}"
                      for b, p in sorted(powers.items()) if p)


def combined_unit(kind: str, first: str, second: str) -> str | None:
    """Units of x_i − x_j (``difference``: only of like quantities) or x_i / x_j (``ratio``); None where
    they cannot be read or a difference would subtract unlike quantities."""
    try:
        a, b = parse_unit(first), parse_unit(second)
    except ValueError:
        return None
    if kind == "difference":
        return format_unit(a) if a == b else None
    return format_unit({k: a.get(k, Fraction(0)) - b.get(k, Fraction(0)) for k in set(a) | set(b)})


@dataclass(frozen=True)
class Reduction:
    """y = Π xᵢ^scale[i] · F(π₁…π_k) with π_j = Π xᵢ^groups[j][i]."""

    names: tuple[str, ...]
    scale: tuple[Fraction, ...]
    groups: tuple[tuple[Fraction, ...], ...]

    @property
    def group_names(self) -> list[str]:
        taken = set(self.names)
        stem = next(s for s in ("pi", "Pi", "pi_group") if not any(n.startswith(s) for n in taken))
        return [f"{stem}{j + 1}" for j in range(len(self.groups))]

    def _product(self, X: np.ndarray, exponents: tuple[Fraction, ...]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.prod([X[:, i] ** float(e) for i, e in enumerate(exponents) if e] or [np.ones(len(X))], axis=0)

    def apply(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The dimensionless data (Π, y/s), or None where a fractional power of a negative input breaks it."""
        Z = np.column_stack([self._product(X, g) for g in self.groups]) if self.groups else np.empty((len(X), 0))
        target = y / self._product(X, self.scale)
        if not (np.isfinite(Z).all() and np.isfinite(target).all()):
            return None
        return Z, target

    def _symbolic(self, exponents: tuple[Fraction, ...]) -> sp.Expr:
        symbols = make_symbols(list(self.names))
        return sp.Mul(*(symbols[n] ** sp.Rational(e.numerator, e.denominator) for n, e in zip(self.names, exponents)))

    def lift(self, expr: sp.Expr) -> sp.Expr:
        """F(π) found on the reduced data → the law in the original inputs."""
        groups = dict(zip(make_symbols(self.group_names).values(), (self._symbolic(g) for g in self.groups)))
        return self._symbolic(self.scale) * expr.xreplace(groups)

    def describe(self) -> str:
        groups = ", ".join(f"{n} = {self._symbolic(g)}" for n, g in zip(self.group_names, self.groups))
        return f"y = {self._symbolic(self.scale)}·F({groups})"


def _integer_vector(vector: sp.Matrix) -> tuple[Fraction, ...]:
    values = [Fraction(int(v.p), int(v.q)) for v in vector]
    denominator = math.lcm(*(v.denominator for v in values))
    integers = [int(v * denominator) for v in values]
    divisor = math.gcd(*integers) or 1
    integers = [i // divisor for i in integers]
    first = next(i for i in integers if i)  # the free variable's exponent is made positive
    return tuple(Fraction(i if first > 0 else -i) for i in integers)


def reductions(names: list[str], units: dict[str, str], target_unit: str | None) -> list[Reduction]:
    """Distinct reductions that leave fewer variables than inputs, or [] when units are missing,
    unreadable, the target's unit is unknown (None; "" is dimensionless), or the target's units cannot be built
    from the inputs'."""
    if target_unit is None or not units or any(n not in units for n in names):
        return []
    try:
        parsed = [parse_unit(units[n]) for n in names]
        target = parse_unit(target_unit)
    except ValueError:
        return []
    bases = sorted({b for p in parsed for b in p} | set(target))
    if not bases:
        return []
    found: list[Reduction] = []
    orders = [list(range(len(names))), list(reversed(range(len(names)))),
              sorted(range(len(names)), key=lambda i: -sum(abs(p) for p in parsed[i].values()))]
    for order in orders:
        matrix = sp.Matrix([[sp.Rational(parsed[i].get(b, 0)) for i in order] for b in bases])
        rank = matrix.rank()
        if rank == 0:
            return []
        target_vector = sp.Matrix([sp.Rational(target.get(b, 0)) for b in bases])
        _, pivots = matrix.rref()
        pivot_matrix = matrix[:, list(pivots)]
        try:
            solution = pivot_matrix.solve_least_squares(target_vector)
        except (ValueError, NonInvertibleMatrixError):
            return []
        if pivot_matrix * solution != target_vector:
            return []  # the target's units are not a product of the inputs' units
        scale = [Fraction(0)] * len(names)
        for pivot, value in zip(pivots, solution):
            exact = sp.Rational(value)
            scale[order[pivot]] = Fraction(int(exact.p), int(exact.q))
        groups = []
        for vector in matrix.nullspace():
            exponents = [sp.Integer(0)] * len(names)
            for position, value in enumerate(vector):
                exponents[order[position]] = value
            groups.append(_integer_vector(sp.Matrix(exponents)))
        reduction = Reduction(tuple(names), tuple(scale), tuple(groups))
        if len(groups) < len(names) and reduction not in found:
            found.append(reduction)
    return found[:MAX_REDUCTIONS]


Dimension = dict[str, Fraction]  # base unit -> power


def _dimension(expr: sp.Expr, dims: dict[sp.Symbol, Dimension]) -> Dimension:
    """Dimension of ``expr``; ValueError when terms of a sum differ or a function's argument is not
    dimensionless."""
    if expr.is_Number or expr.is_NumberSymbol:
        return {}
    if expr.is_Symbol:
        return dims.get(expr, {})
    if expr.is_Add:
        first, *rest = (_dimension(a, dims) for a in expr.args)
        if any(d != first for d in rest):
            raise ValueError(f"terms of {expr} have different units")
        return first
    if expr.is_Mul:
        total: Dimension = {}
        for factor in expr.args:
            for base, power in _dimension(factor, dims).items():
                total[base] = total.get(base, Fraction(0)) + power
        return {b: p for b, p in total.items() if p}
    if expr.is_Pow:
        base = _dimension(expr.base, dims)
        if not base:
            if _dimension(expr.exp, dims):
                raise ValueError(f"the exponent of {expr} has units")
            return {}
        if not expr.exp.is_Rational:
            raise ValueError(f"{expr} raises a quantity with units to a non-rational power")
        exponent = Fraction(int(expr.exp.p), int(expr.exp.q))
        return {b: p * exponent for b, p in base.items()}
    if isinstance(expr, sp.Abs):
        return _dimension(expr.args[0], dims)
    if isinstance(expr, sp.sign):
        return {}
    for argument in expr.args:  # exp, log, sin, tanh, asin, …: arguments must be dimensionless
        if _dimension(argument, dims):
            raise ValueError(f"the argument of {expr.func.__name__} in {expr} has units")
    return {}


def units_consistent(expr: sp.Expr, units: dict[str, str], target_unit: str) -> bool | None:
    """True when ``expr`` (in the inputs named in ``units``) is dimensionally homogeneous and has the
    target's units; False when it is not homogeneous (a sum of unlike quantities, a function of a
    quantity with units); None when a unit is missing or unreadable, or when the formula is homogeneous
    but its units differ from the target's (a fitted constant may carry the difference, e.g. g in
    T = 2.006·√L), so nothing can be said."""
    try:
        dims = {s: parse_unit(units[s.name]) for s in expr.free_symbols}
        target = parse_unit(target_unit)
    except (KeyError, ValueError):
        return None
    try:
        return True if _dimension(expr, dims) == target else None
    except ValueError:
        return False
