"""Service-level figures: per workflow and month, what finished on time, what finished late, and where
each late clock was held when it ran out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, Timer
from .periods import Period, parse_period
from .publishing import workflow_of


@dataclass
class LateTimer:
    case_id: int
    number: str | None
    timer: str
    due_at: datetime
    stopped_at: datetime
    held_by_state: str | None


@dataclass
class Figures:
    workflow: str
    month: str
    timers_on_time: int = 0
    timers_late: int = 0
    cases_on_time: int = 0
    cases_late: int = 0
    late: list[LateTimer] = field(default_factory=list)
    late_by_state: dict[str, int] = field(default_factory=dict)


def _month_bounds(month: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    following = month.next()
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    end = datetime(following.year, following.month, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def monthly_figures(session: Session, workflow: str, month: str, tz: ZoneInfo) -> Figures:
    """Timers that stopped in `month` (YYYY-MM, local time), and the cases that reached a final state then."""
    start, end = _month_bounds(parse_period(month, "month"), tz)
    figures = Figures(workflow, month)
    rows = session.execute(
        select(Timer, Case).join(Case, Case.id == Timer.case_id)
        .where(Case.workflow_key == workflow, Timer.status == "stopped",
               Timer.stopped_at >= start, Timer.stopped_at < end)
        .order_by(Timer.stopped_at)
    ).all()
    late_cases: set[int] = set()
    by_state: Counter[str] = Counter()
    for timer, case in rows:
        assert timer.stopped_at is not None
        if timer.stopped_at > timer.due_at:
            figures.timers_late += 1
            late_cases.add(case.id)
            held = timer.expired_state or "?"
            by_state[held] += 1
            figures.late.append(LateTimer(case.id, case.number, timer.name, timer.due_at, timer.stopped_at, held))
        else:
            figures.timers_on_time += 1
    finished = session.scalars(
        select(Case).where(Case.workflow_key == workflow, Case.updated_at >= start, Case.updated_at < end)
    ).all()
    for case in finished:
        if not workflow_of(case.version).definition.is_final(case.state):
            continue
        late = case.id in late_cases or any(
            t.stopped_at is not None and t.stopped_at > t.due_at for t in case.timers
        )
        if late:
            figures.cases_late += 1
        else:
            figures.cases_on_time += 1
    figures.late_by_state = dict(by_state.most_common())
    return figures
