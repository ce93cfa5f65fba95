"""The case lists: the inbox (what the user can act on now) and all cases (what anyone may look at)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from workflow.definitions import Definition, TransitionSpec
from workflow.engine import Actor, Clock, entered_by, policy, workflow_of
from workflow.engine.cases import MAX_ID, may_take
from workflow.models import Case, Timer, WorkflowVersion

from .. import limits
from . import present


@dataclass
class Filters:
    workflow: str = ""
    state: str = ""
    overdue: bool = False
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        workflow, state = args.get("workflow", "").strip(), args.get("state", "").strip()
        if ":" in state:  # a state picked from every workflow's list names its workflow too
            workflow, state = state.split(":", 1)
        return cls(
            workflow=workflow, state=state, overdue=args.get("overdue", "") in ("1", "on", "true"),
            q=args.get("q", "").strip()[:100], page=limits.int_arg("page", 1, 1, MAX_ID, args),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for a link to this list with some filters changed."""
        values = {"workflow": self.workflow, "state": self.state, "overdue": "1" if self.overdue else "",
                  "q": self.q, "page": self.page if self.page > 1 else ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, False)}


@dataclass
class Row:
    case: Case
    definition: Definition
    overdue: bool
    due_at: datetime | None
    actions: list[TransitionSpec] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return present.headline(self.definition, self.case.data)


@dataclass
class Counter:
    key: str
    title: dict[str, str]
    count: int
    overdue: int = 0


@dataclass
class Listing:
    rows: list[Row]
    total: int
    page: int
    per_page: int
    counters: list[Counter]

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.per_page), 1)


def _versions(session: Session) -> dict[int, tuple[WorkflowVersion, Definition]]:
    return {v.id: (v, workflow_of(v).definition) for v in session.scalars(select(WorkflowVersion))}


def _titles(versions: dict[int, tuple[WorkflowVersion, Definition]]) -> dict[str, dict[str, str]]:
    newest: dict[str, tuple[int, dict[str, str]]] = {}
    for version, definition in versions.values():
        if version.key not in newest or version.version > newest[version.key][0]:
            newest[version.key] = (version.version, definition.title)
    return {key: title for key, (_, title) in sorted(newest.items())}


def _matches(row: Row, filters: Filters) -> bool:
    if filters.workflow and row.case.workflow_key != filters.workflow:
        return False
    if filters.state and row.case.state != filters.state:
        return False
    if filters.overdue and not row.overdue:
        return False
    if filters.q:
        needle = filters.q.casefold().lstrip("#")
        haystack = [row.case.number or "", str(row.case.data.get("customer") or "")]
        if not (any(needle in text.casefold() for text in haystack) or needle == str(row.case.id)):
            return False
    return True


def inbox(session: Session, clock: Clock, actor: Actor, filters: Filters, per_page: int) -> Listing:
    """The cases `actor` can act on now: overdue first, then by the earliest due timer, then oldest first."""
    versions = _versions(session)
    # First narrow in SQL to the visible cases in states where one of the actor's roles has a way out ...
    candidates = session.scalars(select(Case).where(policy.actionable(session, actor))).all()
    # ... then ask the engine, case by case, which of those ways this actor may take now. This is
    # `available_actions`, except that who entered the state is read only where four-eyes needs it.
    now = clock.now()
    rows = []
    for case in candidates:
        definition = versions[case.version_id][1]
        mine = [t for t in definition.transitions_from(case.state) if actor.roles & set(t.roles)]
        entered = entered_by(session, case) if any(t.four_eyes for t in mine) else None
        actions = [t for t in mine if may_take(session, definition, t, case, actor, entered, clock)]
        if actions:
            rows.append(Row(case, definition, present.overdue(definition, case.timers, now),
                            present.next_due(case.timers), actions))
    titles = _titles(versions)
    counters = {key: Counter(key, title, 0) for key, title in titles.items()}
    for row in rows:
        counter = counters[row.case.workflow_key]
        counter.count += 1
        counter.overdue += row.overdue
    rows = [r for r in rows if _matches(r, filters)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (not r.overdue, r.due_at or far, r.case.updated_at, r.case.id))
    page = min(filters.page, max(math.ceil(len(rows) / per_page), 1))
    start = (page - 1) * per_page
    return Listing(rows[start:start + per_page], len(rows), page, per_page, [c for c in counters.values() if c.count])


def all_cases(session: Session, clock: Clock, actor: Actor, filters: Filters, per_page: int) -> Listing:
    """Every case the actor may see that matches the filters, most recently changed first."""
    versions = _versions(session)
    now = clock.now()
    query = select(Case).where(policy.visible(session, actor))
    if filters.workflow:
        query = query.where(Case.workflow_key == filters.workflow)
    if filters.state:
        query = query.where(Case.state == filters.state)
    if filters.q:
        needle = filters.q.lstrip("#")
        matches = [Case.number.icontains(needle, autoescape=True),
                   Case.data["customer"].as_string().icontains(needle, autoescape=True)]
        if (case_id := present.as_case_id(needle)) is not None:
            matches.append(Case.id == case_id)
        query = query.where(or_(*matches))
    if filters.overdue:
        marking = [
            and_(Case.version_id == version_id, Timer.name.in_([t.name for t in d.timers if t.mark_overdue]))
            for version_id, (_, d) in versions.items()
        ]
        query = query.where(
            select(Timer.id).where(
                Timer.case_id == Case.id, Timer.status == "running", Timer.due_at <= now,
                or_(*marking) if marking else false(),
            ).exists()
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = min(filters.page, max(math.ceil(total / per_page), 1))
    page_rows = session.scalars(
        query.order_by(Case.updated_at.desc(), Case.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    rows = []
    for case in page_rows:
        definition = versions[case.version_id][1]
        rows.append(Row(case, definition, present.overdue(definition, case.timers, now), present.next_due(case.timers)))
    counts = dict(session.execute(
        select(Case.workflow_key, func.count()).where(policy.visible(session, actor)).group_by(Case.workflow_key)
    ).all())
    counters = [Counter(key, title, counts.get(key, 0)) for key, title in _titles(versions).items() if counts.get(key)]
    return Listing(rows, total, page, per_page, counters)


def state_choices(
    versions: list[tuple[WorkflowVersion, Definition]], workflow: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The states to filter by: those of the chosen workflow, else every workflow's, grouped by workflow."""
    groups = []
    for version, definition in versions:
        if workflow and version.key != workflow:
            continue
        prefix = "" if workflow else f"{version.key}:"
        groups.append((present.label(definition.title, version.key),
                       [(prefix + s.name, present.label(s.label, s.name)) for s in definition.states.values()]))
    return groups
