"""Guard expressions: checked when a definition loads, evaluated by simpleeval when a case moves.

simpleeval refuses attribute tricks, imports and comprehensions at evaluation time; the load-time
check below adds what simpleeval cannot know: which names exist in this definition.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from typing import Any

from simpleeval import SimpleEval

FUNCTIONS: dict[str, Any] = {
    "days": lambda n: timedelta(days=n),
    "hours": lambda n: timedelta(hours=n),
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
}
CONTEXT_NAMES = ("now", "today")
CONSTANTS = ("None", "True", "False")

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
    ast.Load, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.In, ast.NotIn, ast.Tuple, ast.List, ast.IfExp,
)


class ExpressionError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def names_used(expr: str) -> set[str]:
    """Parse `expr` and return the variable names it reads; raise ExpressionError if it is not allowed."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("guard_syntax", f"not a valid expression: {exc.msg} in {expr!r}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(
                "guard_syntax", f"{type(node).__name__} is not allowed in a guard: {expr!r}"
            )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
        ):
            raise ExpressionError("guard_name", f"unknown function in {expr!r}; known: {sorted(FUNCTIONS)}")
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            names.add(node.id)
    return names - set(CONSTANTS)


def check(expr: str, known: set[str]) -> None:
    """Raise ExpressionError unless `expr` parses and reads only `known` names or the context names."""
    unknown = names_used(expr) - known - set(CONTEXT_NAMES)
    if unknown:
        raise ExpressionError(
            "guard_name", f"unknown name(s) {', '.join(sorted(unknown))} in {expr!r}"
        )


def evaluate(expr: str, names: dict[str, Any]) -> bool:
    """Evaluate a checked expression. Any error (None compared with a number, say) counts as False."""
    evaluator = SimpleEval(names=names, functions=FUNCTIONS)
    try:
        return bool(evaluator.eval(expr.strip()))
    except Exception:
        return False
