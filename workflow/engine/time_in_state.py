"""Where time goes: how long cases of a workflow stayed in each state, from their histories.

A stay begins with the move into a state and ends with the next move out of it (a self-loop ends one stay and
begins the next); a stay still running ends at the period's end. Only stays that began inside the period
count. The figures per state are the number of stays, the median and the 90th percentile (nearest rank).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, HistoryEntry
from .history import TRANSITION
from .policy import Actor, visible


@dataclass(frozen=True)
class StateTime:
    state: str
    stays: int
    median: timedelta
    p90: timedelta


def _percentile(ordered: list[timedelta], share: float) -> timedelta:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _stays(session: Session, actor: Actor, workflow: str, since: datetime, until: datetime,
           final: frozenset[str]) -> Iterator[tuple[str, timedelta]]:
    rows = session.execute(
        select(HistoryEntry.case_id, HistoryEntry.at, HistoryEntry.to_state)
        .join(Case, Case.id == HistoryEntry.case_id)
        .where(Case.workflow_key == workflow, HistoryEntry.kind == TRANSITION, HistoryEntry.at < until,
               visible(session, actor))
        .order_by(HistoryEntry.case_id, HistoryEntry.seq)
        .execution_options(yield_per=1000))
    current: tuple[int, datetime, str] | None = None
    for case_id, at, state in rows:
        if current is not None and current[0] == case_id and current[1] >= since:
            yield current[2], at - current[1]
        elif current is not None and current[0] != case_id:
            yield from _open_stay(current, since, until, final)
        current = (case_id, at, state)
    if current is not None:
        yield from _open_stay(current, since, until, final)


def _open_stay(last: tuple[int, datetime, str], since: datetime, until: datetime,
               final: frozenset[str]) -> Iterator[tuple[str, timedelta]]:
    """The case's last stay: still running at the period's end, unless the case is closed."""
    if last[1] >= since and last[2] not in final:
        yield last[2], until - last[1]


def time_in_state(session: Session, actor: Actor, workflow: str, states: list[str], final: frozenset[str],
                  since: datetime, until: datetime) -> list[StateTime]:
    """Per state of `states` (closed states have no stay), over the cases of `workflow` the actor may see."""
    spent: dict[str, list[timedelta]] = {state: [] for state in states}
    for state, length in _stays(session, actor, workflow, since, until, final):
        spent.setdefault(state, []).append(length)
    figures = []
    for state, lengths in spent.items():
        lengths.sort()
        if lengths:
            figures.append(StateTime(state, len(lengths), _percentile(lengths, 0.5), _percentile(lengths, 0.9)))
        else:
            figures.append(StateTime(state, 0, timedelta(0), timedelta(0)))
    return figures
