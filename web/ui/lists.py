"""The case lists: the inbox (what the user can act on now) and all cases (what anyone may look at)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from workflow.definitions import Definition, TransitionSpec
from workflow.engine import Actor, Clock, available_actions, policy, workflow_of, worklists
from workflow.engine.cases import MAX_ID
from workflow.models import Case, WorkflowVersion

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

    @property
    def case_filter(self) -> worklists.CaseFilter:
        return worklists.CaseFilter(self.workflow, self.state, self.q, self.overdue)

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


def _page(session: Session, query: Select[Any], filters: Filters, per_page: int) -> tuple[list[Case], int, int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = min(filters.page, max(math.ceil(total / per_page), 1))
    # The page's timers in one more query, whatever the page size (a row shows whether it is overdue).
    query = query.options(selectinload(Case.timers)).limit(per_page).offset((page - 1) * per_page)
    return list(session.scalars(query)), total, page


def _counters(
    session: Session, versions: dict[int, tuple[WorkflowVersion, Definition]], where: ColumnElement[bool],
    now: datetime, with_overdue: bool,
) -> list[Counter]:
    counts = worklists.counts(session, where, now)
    return [Counter(key, title, counts[key][0], counts[key][1] if with_overdue else 0)
            for key, title in _titles(versions).items() if counts.get(key, (0, 0))[0]]


def inbox(session: Session, clock: Clock, actor: Actor, filters: Filters, per_page: int) -> Listing:
    """The cases `actor` can act on now (the engine's `actionable`, as the API's ?actionable=true): overdue
    first, then by the earliest due timer, then oldest first."""
    versions = _versions(session)
    now = clock.now()
    mine = policy.actionable(session, actor, clock=clock)
    query = (select(Case).where(mine, worklists.matching(session, filters.case_filter, now))
             .order_by(*worklists.inbox_order(session, now)))
    cases, total, page = _page(session, query, filters, per_page)
    rows = []
    for case in cases:
        definition = versions[case.version_id][1]
        rows.append(Row(case, definition, present.overdue(definition, case.timers, now), present.next_due(case.timers),
                        available_actions(session, clock, case, actor)))
    return Listing(rows, total, page, per_page, _counters(session, versions, mine, now, with_overdue=True))


def all_cases(session: Session, clock: Clock, actor: Actor, filters: Filters, per_page: int) -> Listing:
    """Every case the actor may see that matches the filters, most recently changed first."""
    versions = _versions(session)
    now = clock.now()
    seen = policy.visible(session, actor)
    query = (select(Case).where(seen, worklists.matching(session, filters.case_filter, now))
             .order_by(Case.updated_at.desc(), Case.id.desc()))
    cases, total, page = _page(session, query, filters, per_page)
    rows = []
    for case in cases:
        definition = versions[case.version_id][1]
        rows.append(Row(case, definition, present.overdue(definition, case.timers, now), present.next_due(case.timers)))
    return Listing(rows, total, page, per_page, _counters(session, versions, seen, now, with_overdue=False))


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
