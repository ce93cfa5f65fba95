"""`constants:`: a threshold written once, read by name in every expression (and the names tables may take)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..expressions import ACTOR_FUNCTIONS, CONSTANTS, CONTEXT_FUNCTIONS, CONTEXT_NAMES, FUNCTIONS
from ..reader import Checker
from .context import Known

_TAKEN = set(FUNCTIONS) | set(CONTEXT_FUNCTIONS) | set(ACTOR_FUNCTIONS) | set(CONTEXT_NAMES) | set(CONSTANTS) | {"set"}


def scalar(c: Checker, value: Any, line: int, what: str) -> tuple[bool, Any]:
    """A constant or a table's value: text, a number or true/false; a decimal number stays exact."""
    if isinstance(value, float):
        return True, Decimal(str(value))
    if isinstance(value, (str, int, bool)):
        return True, value
    c.add(line, "bad_value", f"{what} must be a text, a number or true/false, not {value!r}")
    return False, None


def free_name(k: Known, name: Any, line: int, what: str) -> bool:
    if not k.c.name(name, line, what):
        return False
    if name in _TAKEN or name in k.raw_fields or name in k.constants:
        k.c.add(line, "duplicate_name", f"{what} {name!r} is already the name of a field, constant or function")
        return False
    return True


def check_constants(k: Known) -> None:
    c, top = k.c, k.top
    if "constants" not in top:
        return
    m = c.named(top["constants"], c.at(top, "constants"), "constants")
    for name, value in (m or {}).items():
        line = m.key_lines[name]  # type: ignore[union-attr]
        if free_name(k, name, line, "constant"):
            ok, typed = scalar(c, value, line, f"constant {name!r}")
            if ok:
                k.constants[name] = typed
