"""Guard expressions: checked when a definition loads, evaluated by simpleeval when a case moves.

simpleeval refuses attribute tricks, imports and comprehensions at evaluation time; the load-time
check below adds what simpleeval cannot know: which names exist in this definition.

Guards read naturally: `packaging_intact`, `not heavy_damage`, `x is None`, `x is set` (`x is not None`),
`x is not set`, `cause in ('material', 'development')`. An `Expression` carries the definition's constants
and tables, so whoever evaluates it (the engine) needs to know nothing about them.
"""

from __future__ import annotations

import ast
import functools
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from simpleeval import DISALLOW_FUNCTIONS, FeatureNotAvailable, SimpleEval


def _sheet_result(key: str) -> Any:
    """An accessor of a scored sheet's result, e.g. total(sheet); None while the sheet is not scored."""

    def read(sheet: Any) -> Any:
        value = (sheet or {}).get("result", {}).get(key)
        if value is None:
            return None
        # Grades are enum choices, which are lower-case names ('a'); totals and coefficients are decimals.
        return value.lower() if key == "grade" else Decimal(value)

    return read


FUNCTIONS: dict[str, Any] = {
    "total": _sheet_result("total"),
    "grade": _sheet_result("grade"),
    "pay_coefficient": _sheet_result("pay_coefficient"),
    "days": lambda n: timedelta(days=n),
    "hours": lambda n: timedelta(hours=n),
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
}
# `actor` is the user name of whoever opens the case or takes the step.
CONTEXT_NAMES = ("now", "today", "actor")
# Functions the engine binds per case: previous(field, n=1) reads the case n periods back in the series.
CONTEXT_FUNCTIONS = ("previous",)
# Functions the engine binds per request: staff(person, column) reads the staff register (department,
# supervisor, template) and actor_has(role) tells whether the acting user holds a role.
ACTOR_FUNCTIONS = ("staff", "actor_has")
CONSTANTS = ("None", "True", "False")

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
    ast.Load, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.In, ast.NotIn, ast.Tuple, ast.List, ast.IfExp,
)


class Expression(str):
    """An expression as written in the definition, bound to the definition's constants and tables.

    It is the text (what the API and diagrams show); evaluating it adds the bound names and functions.
    """

    constants: Mapping[str, Any]
    tables: Mapping[str, Callable[[Any], Any]]

    def __new__(
        cls, text: str, constants: Mapping[str, Any] | None = None,
        tables: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> Expression:
        self = super().__new__(cls, text)
        self.constants = dict(constants or {})
        self.tables = dict(tables or {})
        return self


class _Natural(ast.NodeTransformer):
    """`x is set` → `x is not None` and `x is not set` → `x is None`: set means given."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        ops: list[ast.cmpop] = []
        comparators: list[ast.expr] = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Name) and right.id == "set":
                op, right = (ast.IsNot() if isinstance(op, ast.Is) else ast.Is()), ast.Constant(None)
            ops.append(op)
            comparators.append(right)
        node.ops, node.comparators = ops, comparators
        return node


def _tree(expr: str) -> ast.Expression:
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("guard_syntax", f"not a valid expression: {exc.msg} in {expr!r}") from None
    natural = _Natural().visit(tree)
    assert isinstance(natural, ast.Expression)
    return ast.fix_missing_locations(natural)


@functools.lru_cache(maxsize=4096)
def _evaluable(expr: str) -> str:
    """The text simpleeval evaluates: the natural forms spelled out."""
    return ast.unparse(_tree(expr))


@functools.lru_cache(maxsize=4096)
def _parsed(expr: str) -> ast.stmt:
    """The tree simpleeval evaluates, parsed once: evaluating never changes it."""
    return SimpleEval.parse(_evaluable(expr))  # type: ignore[no-any-return]


class _Evaluator(SimpleEval):  # type: ignore[misc]  # simpleeval is untyped
    """simpleeval with tuples and lists, which the load-time check allows (`cause in ('a', 'b')`)."""

    def __init__(self) -> None:
        super().__init__(names={}, functions={})
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(e) for e in node.elts)
        self.nodes[ast.List] = lambda node: [self._eval(e) for e in node.elts]

    def bind(self, names: dict[str, Any], functions: dict[str, Any]) -> _Evaluator:
        """Set the names and functions of the next evaluation, with the check simpleeval makes when it is made."""
        for function in functions.values():
            if function in DISALLOW_FUNCTIONS:
                raise FeatureNotAvailable(f"This function {function} is a really bad idea.")
        self.names, self.functions = names, functions
        return self


# Evaluators to reuse: making one builds its table of node handlers, which costs more than most guards.
# One per evaluation at a time (a function a guard calls could evaluate another expression), per thread.
_idle = threading.local()


def _evaluator() -> _Evaluator:
    pool: list[_Evaluator] = _idle.__dict__.setdefault("pool", [])
    return pool.pop() if pool else _Evaluator()


def _release(evaluator: _Evaluator) -> None:
    evaluator.names, evaluator.functions = {}, {}  # holds nothing of a case between evaluations
    pool: list[_Evaluator] = _idle.__dict__.setdefault("pool", [])
    if len(pool) < 8:
        pool.append(evaluator)


class ExpressionError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def names_used(expr: str, context_functions: tuple[str, ...] = ()) -> set[str]:
    """Parse `expr` and return the variable names it reads; raise ExpressionError if it is not allowed."""
    functions = set(FUNCTIONS) | set(context_functions) | set(ACTOR_FUNCTIONS) | set(getattr(expr, "tables", ()))
    tree = _tree(expr)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(
                "guard_syntax", f"{type(node).__name__} is not allowed in a guard: {expr!r}"
            )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in functions
        ):
            raise ExpressionError("guard_name", f"unknown function in {expr!r}; known: {sorted(functions)}")
        if isinstance(node, ast.Name) and node.id not in functions:
            names.add(node.id)
    return names - set(CONSTANTS)


def check(expr: str, known: set[str], context_functions: tuple[str, ...] = ()) -> None:
    """Raise ExpressionError unless `expr` parses and reads only `known` names or the context names."""
    unknown = names_used(expr, context_functions) - known - set(CONTEXT_NAMES)
    if unknown:
        raise ExpressionError(
            "guard_name", f"unknown name(s) {', '.join(sorted(unknown))} in {expr!r}"
        )


def value_of(expr: str, names: Mapping[str, Any], functions: dict[str, Any] | None = None) -> Any:
    """Evaluate a checked expression; None if it fails (None compared with a number, say)."""
    text = str(expr)
    evaluator = _evaluator()
    try:
        evaluator.bind({**getattr(expr, "constants", {}), **names},
                       {**FUNCTIONS, **getattr(expr, "tables", {}), **(functions or {})})
        try:
            return evaluator.eval(text, _parsed(text))
        except Exception:
            return None
    finally:
        _release(evaluator)


def evaluate(expr: str, names: Mapping[str, Any], functions: dict[str, Any] | None = None) -> bool:
    """Whether a checked condition holds; one that fails to evaluate does not."""
    return bool(value_of(expr, names, functions))
