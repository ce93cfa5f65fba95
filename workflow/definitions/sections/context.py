"""What the section checkers of one definition share: the checker, and what earlier sections declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import expressions
from ..expressions import Expression
from ..reader import Checker, LList, LMap
from ..schema import FieldSpec, StateSpec, TableSpec, TransitionSpec


def items_of(value: Any) -> list[tuple[Any, int]]:
    """The entries of a YAML list with their lines (none for anything else)."""
    if not isinstance(value, LList):
        return []
    return list(zip(value, value.item_lines, strict=True))


@dataclass
class Known:
    """Filled section by section; a later section names what an earlier one declared."""

    c: Checker
    top: LMap
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    states: dict[str, StateSpec] = field(default_factory=dict)
    transitions: dict[str, TransitionSpec] = field(default_factory=dict)
    context: tuple[str, ...] = ()  # the per-case functions expressions may call (previous() in a series)

    @property
    def raw_fields(self) -> Any:
        return self.top.get("fields") or {}

    @property
    def raw_states(self) -> Any:
        return self.top.get("states")

    def field(self, name: Any, line: int, what: str) -> bool:
        if isinstance(name, str) and name in self.fields:
            return True
        if isinstance(name, str) and name in self.raw_fields:
            return False  # declared but broken: reported already
        self.c.add(line, "unknown_field", f"{what} names unknown field {name!r}")
        return False

    def state(self, name: str, line: int, what: str) -> bool:
        if name in self.states:
            return True
        if self.raw_states is not None and name in self.raw_states:
            return True  # declared, but broken: already reported
        self.c.add(line, "unknown_state", f"{what} names unknown state {name!r}; known: {', '.join(self.states)}")
        return False

    def role(self, name: str, line: int, what: str, allow: tuple[str, ...] = ()) -> bool:
        if name in self.roles or name in allow:
            return True
        self.c.add(line, "unknown_role", f"{what} names role {name!r}, which is not declared under roles")
        return False

    def fields_listed(self, m: LMap, key: str, what: str) -> list[str]:
        """A name or list of names under `key`, keeping the declared fields."""
        listed = self.c.names_list(m.get(key), self.c.at(m, key), what)
        return [name for name, line in listed if self.field(name, line, what)]

    def roles_listed(self, m: LMap, key: str, what: str, allow: tuple[str, ...] = ()) -> list[str]:
        listed = self.c.names_list(m.get(key), self.c.at(m, key), what)
        return [name for name, line in listed if self.role(name, line, what, allow)]

    def expression(self, text: str, names: set[str] | None = None, context: bool = True) -> Expression:
        """`text` checked against the fields (or `names`), the constants and the tables; raises ExpressionError."""
        known = (set(self.fields) if names is None else names) | set(self.constants)
        functions = (self.context if context else ()) + tuple(self.tables)
        expressions.check(text, known, functions)
        return Expression(text, self.constants, self.tables)
