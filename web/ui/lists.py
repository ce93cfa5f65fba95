"""The case lists: the inbox (what the user can act on now) and all cases (what anyone may look at)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, selectinload

from workflow.definitions import Definition, TransitionSpec
from workflow.engine import Actor, Clock, available_actions, policy, search, workflow_of, worklists
from workflow.engine.cases import MAX_ID
from workflow.models import Case, WorkflowVersion

from .. import limits
from . import present


def _day(args: Any, name: str) -> date | None:
    """A date argument (YYYY-MM-DD, as a date input sends it); a 400 naming it when it is not one."""
    raw = str(args.get(name, "")).strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10]) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2100:
        raise limits.BadArgument(f"{name} must be a date, YYYY-MM-DD", f"{name} 须为日期（YYYY-MM-DD）",
                                 {name: {"en": "must be a date, YYYY-MM-DD", "zh": "须为日期（YYYY-MM-DD）"}})
    return day


@dataclass
class Filters:
    workflow: str = ""
    state: str = ""
    overdue: bool = False
    q: str = ""
    page: int = 1
    view: str = ""  # mine | team | unassigned (search.VIEWS)
    assignee: str = ""
    opened_from: date | None = None
    opened_to: date | None = None
    sort: str = ""  # a key of search.SORTS; "" is the list's own order
    desc: bool = False

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        workflow, state = args.get("workflow", "").strip()[:80], args.get("state", "").strip()[:161]
        if ":" in state:  # a state picked from every workflow's list names its workflow too
            workflow, state = state.split(":", 1)
        view, sort = args.get("view", ""), args.get("sort", "")
        return cls(
            workflow=workflow, state=state, overdue=args.get("overdue", "") in ("1", "on", "true"),
            q=args.get("q", "").strip()[:search.MAX_TEXT], page=limits.int_arg("page", 1, 1, MAX_ID, args),
            view=view if view in search.VIEWS else "", assignee=args.get("assignee", "").strip()[:80],
            opened_from=_day(args, "from"), opened_to=_day(args, "to"),
            sort=sort if sort in search.SORTS else "", desc=args.get("dir", "") == "desc",
        )

    @property
    def case_filter(self) -> worklists.CaseFilter:
        # The text is searched by the desk's search (case data, comments, numbers), not by worklists' own.
        return worklists.CaseFilter(self.workflow, self.state, "", self.overdue)

    @property
    def desk_filter(self) -> search.DeskFilter:
        return search.DeskFilter(self.q, self.view, self.assignee, self.opened_from, self.opened_to)

    @property
    def narrowed(self) -> bool:
        return bool(self.workflow or self.state or self.q or self.overdue or self.view or self.assignee
                    or self.opened_from or self.opened_to)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query arguments for a link to this list with some filters changed."""
        values = {"workflow": self.workflow, "state": self.state, "overdue": "1" if self.overdue else "",
                  "q": self.q, "view": self.view, "assignee": self.assignee,
                  "from": self.opened_from.isoformat() if self.opened_from else "",
                  "to": self.opened_to.isoformat() if self.opened_to else "",
                  "sort": self.sort, "dir": "desc" if self.sort and self.desc else "",
                  "page": self.page if self.page > 1 else ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, False)}

    def sorted_by(self, column: str) -> dict[str, Any]:
        """Query arguments that sort by `column`: ascending first, descending when already ascending."""
        return self.args(sort=column, dir="desc" if self.sort == column and not self.desc else "", page="")


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
    # Counted unordered: sorting every hit of a search (wide rows) only to count them doubles its cost.
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = min(filters.page, max(math.ceil(total / per_page), 1))
    # The page's ids are sorted first, then their cases loaded (in the same statement): a search with many
    # hits sorts narrow rows, not whole cases. The page's timers in one more query, whatever the page size.
    ids = query.with_only_columns(Case.id).limit(per_page).offset((page - 1) * per_page)
    query = query.where(Case.id.in_(ids.scalar_subquery())).options(selectinload(Case.timers))
    return list(session.scalars(query)), total, page


def _counters(
    session: Session, versions: dict[int, tuple[WorkflowVersion, Definition]], where: ColumnElement[bool],
    now: datetime, with_overdue: bool,
) -> list[Counter]:
    counts = worklists.counts(session, where, now)
    return [Counter(key, title, counts[key][0], counts[key][1] if with_overdue else 0)
            for key, title in _titles(versions).items() if counts.get(key, (0, 0))[0]]


def _matching(session: Session, clock: Clock, actor: Actor, filters: Filters) -> ColumnElement[bool]:
    return and_(worklists.matching(session, filters.case_filter, clock.now()),
                search.desk_clause(filters.desk_filter, actor.name, clock))


def _order(filters: Filters, default: list[Any]) -> list[Any]:
    if filters.sort:
        return search.order(filters.sort, filters.desc)
    return search.relevance(filters.q) + default  # a search's exact number first, then the list's own order


def export_rows(
    session: Session, clock: Clock, actor: Actor, filters: Filters, scope: str, limit: int,
) -> list[Row]:
    """Every row of the list (`scope` inbox or all) as filtered, in its order, up to `limit` rows."""
    versions = _versions(session)
    now = clock.now()
    if scope == "inbox":
        where, default = policy.actionable(session, actor, clock=clock), worklists.inbox_order(session, now)
    else:
        where, default = policy.visible(session, actor), [Case.updated_at.desc(), Case.id.desc()]
    query = (select(Case).where(where, _matching(session, clock, actor, filters)).order_by(*_order(filters, default))
             .options(selectinload(Case.timers)).limit(limit))
    rows = []
    for case in session.scalars(query):
        definition = versions[case.version_id][1]
        rows.append(Row(case, definition, present.overdue(definition, case.timers, now), present.next_due(case.timers)))
    return rows


def inbox(session: Session, clock: Clock, actor: Actor, filters: Filters, per_page: int) -> Listing:
    """The cases `actor` can act on now (the engine's `actionable`, as the API's ?actionable=true): overdue
    first, then by the earliest due timer, then oldest first."""
    versions = _versions(session)
    now = clock.now()
    mine = policy.actionable(session, actor, clock=clock)
    query = (select(Case).where(mine, _matching(session, clock, actor, filters))
             .order_by(*_order(filters, worklists.inbox_order(session, now))))
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
    query = (select(Case).where(seen, _matching(session, clock, actor, filters))
             .order_by(*_order(filters, [Case.updated_at.desc(), Case.id.desc()])))
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
