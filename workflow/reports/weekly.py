"""Cases opened and closed per week, for one workflow over a chosen period (issue 14's reports).

A week runs from Monday 00:00 to the next Monday in the organisation's time zone, so a week is the one on the
wall calendar, whatever UTC says. A case is opened when it was created, and closed in the week its history
records its first move into a final state. The period is widened to whole weeks and bounded (MAX_WEEKS), so
that a report is one page and one pair of queries, whatever is asked.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.errors import InvalidInputs
from ..engine.history import TRANSITION
from ..engine.policy import Actor, visible
from ..models import Case, HistoryEntry

MAX_WEEKS = 106  # two years and a little: a year compared with the one before
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Week:
    monday: date  # the week's first day, local
    opened: int
    closed: int


def _monday(moment: datetime, tz: tzinfo) -> date:
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def weeks_of(since: datetime, until: datetime, tz: tzinfo) -> list[date]:
    """The Mondays of the whole weeks that cover [since, until); InvalidInputs past MAX_WEEKS or backwards."""
    if until <= since:
        raise InvalidInputs("Please correct: until", "请更正：until",
                            {"until": {"en": "is not after since", "zh": "不晚于起始时间"}})
    first, last = _monday(since, tz), _monday(until - timedelta(microseconds=1), tz)
    count = (last - first).days // 7 + 1
    if count > MAX_WEEKS:
        raise InvalidInputs("Please correct: since", "请更正：since",
                            {"since": {"en": f"the period is {count} weeks long; at most {MAX_WEEKS} are shown",
                                       "zh": f"所选期间为 {count} 周；最多显示 {MAX_WEEKS} 周"}})
    return [first + WEEK * n for n in range(count)]


def _bucket(moments: Iterable[datetime], edges: list[datetime], counts: list[int]) -> None:
    for moment in moments:
        slot = bisect_right(edges, moment) - 1
        if 0 <= slot < len(counts):
            counts[slot] += 1


def opened_closed(session: Session, actor: Actor, workflow: str, final: frozenset[str], since: datetime,
                  until: datetime, tz: tzinfo) -> list[Week]:
    """Per week of the period (widened to whole weeks), the cases of `workflow` the actor may see that were
    opened and that were closed in it."""
    mondays = weeks_of(since, until, tz)
    edges = [datetime.combine(day, time(), tzinfo=tz) for day in [*mondays, mondays[-1] + WEEK]]
    start, end = edges[0], edges[-1]
    opened = [0] * len(mondays)
    closed = [0] * len(mondays)
    _bucket(session.scalars(
        select(Case.created_at).where(Case.workflow_key == workflow, Case.created_at >= start,
                                      Case.created_at < end, visible(session, actor))
        .execution_options(yield_per=1000)), edges, opened)
    if final:
        # The first move into a final state of each case, wherever it fell: a case closed before the
        # period and moved again (a correction) is not closed a second time.
        first_close = (select(func.min(HistoryEntry.at).label("at"))
                       .join(Case, Case.id == HistoryEntry.case_id)
                       .where(Case.workflow_key == workflow, HistoryEntry.kind == TRANSITION,
                              HistoryEntry.to_state.in_(sorted(final)), HistoryEntry.at < end,
                              visible(session, actor))
                       .group_by(HistoryEntry.case_id).subquery())
        _bucket(session.scalars(select(first_close.c.at).where(first_close.c.at >= start, first_close.c.at < end)
                                .execution_options(yield_per=1000)), edges, closed)
    return [Week(day, o, c) for day, o, c in zip(mondays, opened, closed, strict=True)]
