"""Lists of cases in SQL: the filters a list offers (workflow, state, text, overdue) and the inbox's order.

Who may see or act on a case is `policy.visible` and `policy.actionable`; this module narrows and orders
what those let through, so that every list counts and pages in the database. The text search reads the
fields each definition's `summary:` names (what a list shows beside the case number), the case number
and the case id: no field is known here by name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, func, not_, or_, select, true
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..models import Case, Timer, WorkflowVersion
from .cases import MAX_ID
from .publishing import workflow_of

RUNNING = "running"


@dataclass(frozen=True)
class CaseFilter:
    workflow: str = ""
    state: str = ""
    text: str = ""  # part of the case number or of a summary field, or the case id ("#12" or "12")
    overdue: bool = False


def _definitions(session: Session) -> list[tuple[int, Definition]]:
    return [(v.id, workflow_of(v).definition) for v in session.scalars(select(WorkflowVersion))]


def text_search(session: Session, text: str) -> ColumnElement[bool]:
    """Cases whose number or one of whose summary fields contains `text` (any case), or whose id it is."""
    needle = text.strip().lstrip("#")
    matches = [Case.number.icontains(needle, autoescape=True)]
    versions_by_summary: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for version_id, definition in _definitions(session):
        if definition.summary:
            versions_by_summary[definition.summary].append(version_id)
    for fields, version_ids in versions_by_summary.items():
        in_field = [Case.data[f].as_string().icontains(needle, autoescape=True) for f in fields]
        matches.append(and_(Case.version_id.in_(version_ids), or_(*in_field)))
    if needle.isascii() and needle.isdigit() and 0 < int(needle) <= MAX_ID:
        matches.append(Case.id == int(needle))
    return or_(*matches)


def overdue(session: Session, now: datetime) -> ColumnElement[bool]:
    """Cases with a running timer past its due time that marks lateness (`timers.timer_status` "overdue")."""
    # A timer its definition does not know counts as marking, as timer_status counts it.
    not_marking = [
        and_(Case.version_id == version_id, Timer.name.in_(names))
        for version_id, definition in _definitions(session)
        if (names := [t.name for t in definition.timers if not t.mark_overdue])
    ]
    return select(Timer.id).where(
        Timer.case_id == Case.id, Timer.status == RUNNING, Timer.due_at <= now,
        not_(or_(*not_marking)) if not_marking else true(),
    ).exists()


def next_due() -> ScalarSelect[Any]:
    """The earliest due time of the case's running timers (NULL when none runs)."""
    return (
        select(func.min(Timer.due_at)).where(Timer.case_id == Case.id, Timer.status == RUNNING)
        .correlate(Case).scalar_subquery()
    )


def matching(session: Session, filters: CaseFilter, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause over `Case` for `filters`."""
    parts: list[ColumnElement[bool]] = []
    if filters.workflow:
        parts.append(Case.workflow_key == filters.workflow)
    if filters.state:
        parts.append(Case.state == filters.state)
    if filters.text.strip().lstrip("#"):
        parts.append(text_search(session, filters.text))
    if filters.overdue:
        parts.append(overdue(session, now))
    return and_(true(), *parts)


def inbox_order(session: Session, now: datetime) -> list[ColumnElement[Any]]:
    """ORDER BY of an inbox: overdue first, then by the earliest due timer (none last), then oldest change."""
    due = next_due()
    return [
        case((overdue(session, now), 0), else_=1), case((due.is_(None), 1), else_=0), due,
        Case.updated_at.asc(), Case.id.asc(),
    ]


def counts(session: Session, where: ColumnElement[bool], now: datetime) -> dict[str, tuple[int, int]]:
    """Per workflow: how many cases `where` lets through, and how many of them are overdue."""
    late = func.sum(case((overdue(session, now), 1), else_=0))
    rows = session.execute(select(Case.workflow_key, func.count(), late).where(where).group_by(Case.workflow_key))
    return {key: (int(n), int(n_late or 0)) for key, n, n_late in rows}

