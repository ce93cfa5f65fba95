"""The engine's named extension points: what a workflow's own package adds to the generic engine.

The engine carries out what every definition declares (states, roles, guards, timers, `series`, `unique`,
`access`) and knows no workflow by name. A few declarations need rules that belong to one workflow's package
(see docs/architecture.md): a field type the engine cannot finish on its own, an effect of a step, guard
functions that read that package's tables, and the department a user works in. The package registers a
handler for each when it is imported; the engine asks this module and never imports the package.

With nothing registered the engine still works, and fails closed: no effects, no extra guard functions,
and nobody belongs to a department (department roles then see no case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, null, select
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec
from ..models import Case
from .clock import Clock

# Finishes the inputs of its field type in place (a score sheet gets its result); raises InvalidInputs.
FieldCompleter = Callable[[Session, Definition, dict[str, Any], dict[str, Any]], None]
# Runs after every move; acts only on the transitions that declare its effect.
EffectHandler = Callable[[Session, Clock, Definition, TransitionSpec, Case, datetime], None]
# Guard and computed-field functions bound to the session of the move.
FunctionProvider = Callable[[Session], dict[str, Callable[..., Any]]]
# A query for the department of the user named: one row, one column, or no row.
DepartmentQuery = Callable[[str], Select[Any]]


@dataclass
class _Registry:
    field_types: dict[str, FieldCompleter] = field(default_factory=dict)
    effects: dict[str, EffectHandler] = field(default_factory=dict)
    functions: dict[str, FunctionProvider] = field(default_factory=dict)
    departments: DepartmentQuery | None = None


_registry = _Registry()


def register_field_type(type_name: str, completer: FieldCompleter) -> None:
    """Let `completer` finish every input of fields of `type_name` before the guards see them."""
    _registry.field_types[type_name] = completer


def register_effect(name: str, handler: EffectHandler) -> None:
    """Carry out the effect `name` (as a definition's `effects:` spells it) after each move."""
    _registry.effects[name] = handler


def register_functions(name: str, provider: FunctionProvider) -> None:
    """Add the functions `provider` binds to guards and opening guards, under a name for replacing them."""
    _registry.functions[name] = provider


def register_departments(query: DepartmentQuery) -> None:
    """Say where users' departments come from (one source for every workflow's `department_roles`)."""
    _registry.departments = query


# -- what the engine asks -------------------------------------------------------------------------


def complete_inputs(
    session: Session, definition: Definition, typed_inputs: dict[str, Any], data: dict[str, Any]
) -> None:
    """Hand the inputs to the completer of each field type among them, in place."""
    types = {definition.fields[n].type for n in typed_inputs if n in definition.fields}
    for type_name in sorted(types & _registry.field_types.keys()):
        _registry.field_types[type_name](session, definition, typed_inputs, data)


def run_effects(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime
) -> None:
    for handler in _registry.effects.values():
        handler(session, clock, definition, transition, case, at)


def functions(session: Session) -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for provider in _registry.functions.values():
        found.update(provider(session))
    return found


def department_query(name: str) -> Select[Any]:
    """The query for `name`'s department; with no source registered, one that finds none."""
    if _registry.departments is None:
        return select(null()).where(false())
    return _registry.departments(name)
