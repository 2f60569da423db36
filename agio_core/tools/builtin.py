"""Built-in tools: `calculator` and `current_time` here; the opt-in file, shell and fetch
tools in modules of their own."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._registry import Tool, tool_from_function
from .fetch import FETCH_TOOL
from .files import FILE_TOOLS
from .shell import SHELL_TOOL

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 1000
MAX_EXPRESSION = 500


def _evaluate(node: ast.AST) -> int | float:
    match node:
        case ast.Expression(body=body):
            return _evaluate(body)
        case ast.Constant(value=value) if isinstance(value, int | float) and not isinstance(
            value, bool
        ):
            return value
        case ast.Name(id=name) if name in _CONSTANTS:
            return _CONSTANTS[name]
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            lhs, rhs = _evaluate(left), _evaluate(right)
            if isinstance(op, ast.Pow) and abs(rhs) > MAX_EXPONENT:
                raise ValueError(f"exponent too large (limit {MAX_EXPONENT})")
            result: int | float = _BINARY[type(op)](lhs, rhs)
            return result
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            unary: int | float = _UNARY[type(op)](_evaluate(operand))
            return unary
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            called: int | float = _FUNCTIONS[name](*(_evaluate(a) for a in args))
            return called
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly and safely (no code is executed).

    Args:
        expression: Arithmetic such as "12*7", "(3 + 4) ** 2 / 7" or "sqrt(2)".
    """
    text = expression.replace("^", "**").replace("×", "*").replace("÷", "/").strip()
    if len(text) > MAX_EXPRESSION:
        raise ValueError(f"expression longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    try:
        value = _evaluate(tree)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return str(value)


def current_time(timezone: str = "UTC") -> str:
    """Return the current date and time as ISO 8601.

    Args:
        timezone: An IANA time zone name such as "UTC" or "Europe/Paris".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    return datetime.now(zone).isoformat(timespec="seconds")


BUILTIN_TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        tool_from_function(calculator),
        tool_from_function(current_time),
        *FILE_TOOLS,
        SHELL_TOOL,
        FETCH_TOOL,
    )
}
