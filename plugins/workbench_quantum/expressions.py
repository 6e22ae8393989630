"""Potentials written as a formula in x, evaluated safely.

A study or scenario file may come from a stranger, so an expression is never handed to
``eval``: it is parsed with :mod:`ast` and only a whitelist of nodes is evaluated — numbers, the
names ``x`` (the grid, a.u.) and ``pi``, the operators + − × ÷ ** and unary −, comparisons (for
``where``), and calls of a fixed set of numpy functions by their bare name. Anything else
(attribute access, other names, strings, subscripts, lambdas, keyword arguments, …) is refused
with a message naming it. Length and nesting depth are bounded, and constant exponents too, so
an expression cannot make the evaluation hang or exhaust memory; every number is a float, so
no arbitrary-precision integer arithmetic ever happens.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

import numpy as np

MAX_LENGTH = 500
MAX_DEPTH = 24
MAX_EXPONENT = 64.0

FUNCTIONS: dict[str, tuple[Callable, int]] = {  # name → (function, number of arguments)
    "exp": (np.exp, 1), "log": (np.log, 1), "sqrt": (np.sqrt, 1), "abs": (np.abs, 1),
    "sin": (np.sin, 1), "cos": (np.cos, 1), "tan": (np.tan, 1),
    "sinh": (np.sinh, 1), "cosh": (np.cosh, 1), "tanh": (np.tanh, 1),
    "heaviside": (np.heaviside, 2), "where": (np.where, 3),
    "minimum": (np.minimum, 2), "maximum": (np.maximum, 2),
}
CONSTANTS = {"pi": np.pi}
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
ALLOWED = ("numbers, x, pi, + - * / **, unary -, comparisons < <= > >= (for where), "
           f"and the functions {', '.join(sorted(FUNCTIONS))}")


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated; the message says why."""


def _refuse(expression: str, what: str) -> ExpressionError:
    return ExpressionError(f"potential expression {expression!r}: {what} is not allowed; allowed are {ALLOWED}")


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}'"
    if isinstance(node, ast.Name):
        return f"the name {node.id!r} (only x and pi)"
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r} (only real numbers)"
    if isinstance(node, ast.Call):
        return f"calling {node.func.id!r}" if isinstance(node.func, ast.Name) else _describe(node.func)
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        op = node.op if not isinstance(node, ast.Compare) else node.ops[0]
        return f"the operator {type(op).__name__}"
    return f"{type(node).__name__} syntax"


def parse(expression: str) -> ast.Expression:
    """Parse and check ``expression`` against the whitelist; raises :class:`ExpressionError`."""
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError("a potential expression must be a non-empty formula in x, e.g. '5*exp(-(x-50)**2/8)'")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"potential expression is {len(expression)} characters long; at most {MAX_LENGTH} are allowed")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"potential expression {expression!r} is not a formula: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"potential expression {expression!r} is nested too deeply") from None
    _check(tree.body, expression, 1)
    return tree


def _check(node: ast.AST, expression: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"potential expression {expression!r} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(expression, _describe(node))
        return
    if isinstance(node, ast.Name):
        if node.id != "x" and node.id not in CONSTANTS:
            raise _refuse(expression, _describe(node))
        return
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        if isinstance(node.op, ast.Pow):
            exponent = _constant_value(node.right)
            if exponent is not None and abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(f"potential expression {expression!r}: the exponent {exponent:g} is larger than "
                                      f"{MAX_EXPONENT:g} in magnitude")
        _check(node.left, expression, depth + 1)
        _check(node.right, expression, depth + 1)
        return
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        _check(node.operand, expression, depth + 1)
        return
    if isinstance(node, ast.Compare) and all(type(op) in COMPARE for op in node.ops):
        for part in (node.left, *node.comparators):
            _check(part, expression, depth + 1)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords:
        arity = FUNCTIONS[node.func.id][1]
        if len(node.args) != arity:
            raise ExpressionError(f"potential expression {expression!r}: {node.func.id}() takes {arity} argument(s), got {len(node.args)}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse(expression, "argument unpacking (*)")
            _check(arg, expression, depth + 1)
        return
    raise _refuse(expression, _describe(node))


def _constant_value(node: ast.AST) -> float | None:
    """The value of a constant, possibly negated (a constant exponent), else ``None``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        inner = _constant_value(node.operand)
        return None if inner is None else UNARY[type(node.op)](inner)
    return None


def evaluate(expression: str, x: np.ndarray) -> np.ndarray:
    """V(x) from ``expression`` at the points ``x`` (float64, shape ``x.shape``)."""
    tree = parse(expression)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        value = np.broadcast_to(np.asarray(_evaluate(tree.body, x), dtype=np.float64), x.shape)
    bad = ~np.isfinite(value)
    if bad.any():
        raise ExpressionError(f"potential expression {expression!r} is not finite at x = {x[bad][0]:g} "
                              f"({int(bad.sum())} grid points); change the formula there")
    return np.array(value)


def _evaluate(node: ast.AST, x: np.ndarray):
    if isinstance(node, ast.Constant):
        return np.float64(node.value)  # floats only: no unbounded integer arithmetic
    if isinstance(node, ast.Name):
        return x if node.id == "x" else np.float64(CONSTANTS[node.id])
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_evaluate(node.operand, x))
    if isinstance(node, ast.Compare):
        left, result = _evaluate(node.left, x), True
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, x)
            result = np.logical_and(result, COMPARE[type(op)](left, right))
            left = right
        return result.astype(np.float64) if isinstance(result, np.ndarray) else np.float64(result)
    if isinstance(node, ast.Call):
        function = FUNCTIONS[node.func.id][0]
        return function(*(_evaluate(arg, x) for arg in node.args))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover (parse() refuses it)
