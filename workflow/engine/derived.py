"""What the engine works out rather than anyone typing it: computed fields, the case before this one in a
series, and the uniqueness of cases.

All of it is declared in the definition (`computed`, `series`, `unique`); this module only carries those
declarations out. What a workflow's own package adds (a field type it finishes, guard functions over its
tables) comes through `extensions`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..definitions import Definition, expressions, values
from ..models import Case, CaseKey
from . import extensions
from .errors import DuplicateCase
from .policy import Actor


def _shift(month: str, months: int) -> str:
    year, number = (int(p) for p in month[:7].split("-"))
    index = year * 12 + (number - 1) - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def series_functions(session: Session, definition: Definition, data: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """`previous(field, n=1)`: that field of the case n months back in this case's series, or None.

    The series is the definition's `series:` (its key fields, and the month field that orders it)."""
    series = definition.series
    if series is None:
        return {}

    def previous(field: str, n: int = 1) -> Any:
        month = data.get(series.period)
        if not month or field not in definition.fields or any(data.get(k) is None for k in series.key):
            return None
        query = select(Case.data).where(
            Case.workflow_key == definition.key,
            Case.data[series.period].as_string() == _shift(str(month), n),
            *[Case.data[k].as_string() == str(data[k]) for k in series.key],
        )
        found = session.scalars(query.limit(1)).first()
        return values.from_json(definition.fields[field], found.get(field)) if found else None

    return {"previous": previous}


def actor_functions(session: Session, actor: Actor) -> dict[str, Callable[..., Any]]:
    """`actor_has(role)`: whether the acting user holds that role; and the functions that workflows' own packages
    register (`staff(person, column)`, say, which reads the staff register)."""
    return {**extensions.functions(session), "actor_has": lambda role: role in actor.roles}


def recompute(session: Session, definition: Definition, data: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    """`data` with every computed field evaluated again, in the order the definition declares them."""
    result = dict(data)
    functions = series_functions(session, definition, result)
    for spec in definition.fields.values():
        if spec.computed is None:
            continue
        typed = {n: values.from_json(s, result.get(n)) for n, s in definition.fields.items()}
        value = expressions.value_of(spec.computed, {**names, **typed}, functions)
        if value is None:
            result.pop(spec.name, None)
        else:
            result[spec.name] = values.to_json(value)
    return result


def claim_unique(session: Session, definition: Definition, case: Case) -> None:
    """Record the case's unique key; refuse a second case with the same one (safe under concurrency)."""
    if not definition.unique:
        return
    key = json.dumps([case.data.get(f) for f in definition.unique], ensure_ascii=False)
    existing = session.scalar(
        select(CaseKey.case_id).where(CaseKey.workflow_key == definition.key, CaseKey.value == key)
    )
    shown = ", ".join(f"{f} {case.data.get(f)}" for f in definition.unique)
    error = DuplicateCase(
        f"There is already a {definition.title['en']} case for {shown} (case {existing})",
        f"{shown} 已有{definition.title['zh']}案件（{existing}）",
    )
    if existing is not None:
        raise error
    try:
        with session.begin_nested():
            session.add(CaseKey(workflow_key=definition.key, value=key, case_id=case.id))
    except IntegrityError:
        raise error from None
