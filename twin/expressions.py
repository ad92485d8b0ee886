"""Safe expressions: text -> sympy through an AST whitelist, and sympy -> numpy/torch evaluators.

Strings from users, files and LLMs never reach ``eval``, ``sympify`` or ``parse_expr``: Python's own
``ast`` module parses them (parsing executes nothing) and only whitelisted node types are translated
into sympy objects built explicitly.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import sympy as sp
import torch

MAX_TEXT_LENGTH = 4096
MAX_NODES = 600
MAX_DEPTH = 40
MAX_CONSTANT_EXPONENT = 64
MAX_INTEGER_DIGITS = 30

#: Functions an expression may call, by the names accepted in text.
FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "cot": sp.cot,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "tanh": sp.tanh,
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "sqrt": sp.sqrt,
    "asin": sp.asin,
    "arcsin": sp.asin,
    "acos": sp.acos,
    "arccos": sp.acos,
    "atan": sp.atan,
    "arctan": sp.atan,
    "atanh": sp.atanh,
    "arctanh": sp.atanh,
    "abs": sp.Abs,
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_BINARY_OPS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def make_symbols(names: Iterable[str]) -> dict[str, sp.Symbol]:
    """Real sympy symbols for valid variable names (identifiers that do not shadow a function)."""
    symbols = {}
    for name in names:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"variable name {name!r} is not a plain identifier")
        if name in FUNCTIONS:
            raise ValueError(f"variable name {name!r} collides with the function of that name")
        symbols[name] = sp.Symbol(name, real=True)
    return symbols


def parse_expression(text: str, variables: Iterable[str]) -> sp.Expr:
    """Parse ``text`` into a sympy expression over ``variables``; raise ``ValueError`` on anything else.

    Allowed: numbers, the given variable names, ``pi`` and ``E``, ``+ - * / **``, unary minus and the
    functions in :data:`FUNCTIONS`. Size, nesting and constant exponents are bounded.
    """
    if not isinstance(text, str):
        raise ValueError(f"expression must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"expression is {len(text)} characters long; the limit is {MAX_TEXT_LENGTH}")
    if not text.strip():
        raise ValueError("expression is empty")
    symbols = make_symbols(variables)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"expression {text!r} is not valid syntax: {error.msg}") from None
    node_count = sum(1 for _ in ast.walk(tree))
    if node_count > MAX_NODES:
        raise ValueError(f"expression has {node_count} syntax nodes; the limit is {MAX_NODES}")
    return _Translator(symbols).translate(tree.body, depth=0)


class _Translator:
    def __init__(self, symbols: Mapping[str, sp.Symbol]):
        self.symbols = symbols

    def translate(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise ValueError(f"expression nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            return self._constant(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.translate(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
            left = self.translate(node.left, depth + 1)
            right = self.translate(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                _check_exponent(left, right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise ValueError("division by zero in expression")
            return _BINARY_OPS[type(node.op)](left, right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            raise ValueError("'^' is not allowed: write powers as '**'")
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise ValueError(f"{type(node).__name__} is not allowed in an expression")

    def _constant(self, value: Any) -> sp.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"constant {value!r} is not allowed: only real numbers")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_INTEGER_DIGITS:
                raise ValueError(f"integer constant longer than {MAX_INTEGER_DIGITS} digits")
            return sp.Integer(value)
        if not math.isfinite(value):
            raise ValueError("non-finite constant in expression")
        return sp.Float(value)

    def _name(self, name: str) -> sp.Expr:
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise ValueError(f"function {name!r} must be called with an argument")
        known = ", ".join(sorted(self.symbols)) or "none"
        raise ValueError(f"unknown name {name!r} (variables: {known})")

    def _call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise ValueError("only calls of the allowed functions by name are allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ValueError(f"function {name!r} is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})")
        if node.keywords or len(node.args) != 1:
            raise ValueError(f"function {name!r} takes exactly one positional argument")
        return FUNCTIONS[name](self.translate(node.args[0], depth + 1))


def _check_exponent(base: sp.Expr, exponent: sp.Expr) -> None:
    if exponent.is_Number and abs(float(exponent)) > MAX_CONSTANT_EXPONENT:
        raise ValueError(f"exponent {exponent} is beyond the limit of ±{MAX_CONSTANT_EXPONENT}")
    if base.is_Number and not exponent.is_Number and exponent.free_symbols == set():
        raise ValueError("constant raised to a non-numeric constant exponent is not allowed")


# --- evaluation ----------------------------------------------------------------------------------
# sympy.lambdify writes Python source and exec's it, and has no torch printer; a small tree walker
# gives one evaluator for numpy arrays and (differentiable) torch tensors without code generation.

Array = np.ndarray | torch.Tensor
_NUMPY_FUNCS: dict[type, Callable[[Any], Any]] = {
    sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.cot: lambda x: 1.0 / np.tan(x),
    sp.sinh: np.sinh, sp.cosh: np.cosh, sp.tanh: np.tanh, sp.exp: np.exp, sp.log: np.log,
    sp.asin: np.arcsin, sp.acos: np.arccos, sp.atan: np.arctan, sp.atanh: np.arctanh,
    sp.Abs: np.abs, sp.sign: np.sign,
}
_TORCH_FUNCS: dict[type, Callable[[Any], Any]] = {
    sp.sin: torch.sin, sp.cos: torch.cos, sp.tan: torch.tan, sp.cot: lambda x: 1.0 / torch.tan(x),
    sp.sinh: torch.sinh, sp.cosh: torch.cosh, sp.tanh: torch.tanh, sp.exp: torch.exp,
    sp.log: torch.log, sp.asin: torch.asin, sp.acos: torch.acos, sp.atan: torch.atan,
    sp.atanh: torch.atanh, sp.Abs: torch.abs, sp.sign: torch.sign,
}
Evaluator = Callable[[Mapping[str, Any]], Any]


def compile_expression(expr: sp.Expr) -> Evaluator:
    """Return ``f(values)`` evaluating ``expr`` where ``values`` maps symbol names to arrays or tensors.

    The backend (numpy or torch) follows the type of the values; torch keeps gradients.
    """
    return _compile(sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr)


def _compile(expr: sp.Basic) -> Evaluator:
    if isinstance(expr, sp.Symbol):
        name = expr.name
        return lambda values: values[name]
    if expr in (sp.zoo, sp.oo, -sp.oo, sp.nan):  # 1/0 and the like: undefined everywhere, as numpy's NaN
        return lambda values: math.nan
    if expr.is_Number or isinstance(expr, sp.NumberSymbol):
        value = float(expr)
        return lambda values: value
    if isinstance(expr, sp.Add):
        terms = [_compile(arg) for arg in expr.args]
        return lambda values: _fold(values, terms, lambda a, b: a + b)
    if isinstance(expr, sp.Mul):
        factors = [_compile(arg) for arg in expr.args]
        return lambda values: _fold(values, factors, lambda a, b: a * b)
    if isinstance(expr, sp.Pow):
        return _compile_power(expr)
    func = type(expr)
    if func in _NUMPY_FUNCS:
        inner = _compile(expr.args[0])
        return lambda values: _apply(func, inner(values))
    raise ValueError(f"cannot evaluate {func.__name__} in {expr}")


def _fold(values: Mapping[str, Any], parts: list[Evaluator], op: Callable[[Any, Any], Any]) -> Any:
    result = parts[0](values)
    for part in parts[1:]:
        result = op(result, part(values))
    return result


def _compile_power(expr: sp.Pow) -> Evaluator:
    base, exponent = _compile(expr.base), expr.exp
    if exponent == sp.Rational(1, 2):
        return lambda values: _sqrt(base(values))
    if exponent == sp.Rational(-1, 2):
        return lambda values: 1.0 / _sqrt(base(values))
    if exponent.is_Integer:
        power = int(exponent)
        return lambda values: _as_float(base(values)) ** power
    exponent_fn = _compile(exponent)
    return lambda values: _real_power(base(values), exponent_fn(values))


def _as_float(x: Any) -> Any:
    return float(x) if isinstance(x, (int, float)) else x


def _sqrt(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return torch.sqrt(x)
    return np.sqrt(x)


def _real_power(base: Any, exponent: Any) -> Any:
    if isinstance(base, torch.Tensor) or isinstance(exponent, torch.Tensor):
        base_t = base if isinstance(base, torch.Tensor) else torch.as_tensor(base, dtype=exponent.dtype)
        return torch.pow(base_t, exponent)
    return np.power(np.asarray(base, dtype=float), exponent)


def _apply(func: type, x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return _TORCH_FUNCS[func](x)
    return _NUMPY_FUNCS[func](np.asarray(x, dtype=float))


def count_nodes(expr: sp.Basic) -> int:
    """Complexity of an expression: the number of nodes in its sympy tree."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def to_text(expr: sp.Basic) -> str:
    """A string that :func:`parse_expression` reads back into an equal expression."""
    return sp.sstr(expr, order="none").replace("Abs(", "abs(")
