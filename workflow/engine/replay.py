"""A case as it stood at a moment T, computed from its history alone: no snapshot is kept or read.

Row 1 holds the opening data; each later move's `to_case` inputs land on the data and the computed fields
are evaluated again at the move's time (as `audit.replay` does). The timers follow from the same moves, the
way `timers.on_transition` starts and stops them, and their status is judged at T. Who could have acted is
read from the definition: the steps out of the state at T, their roles, the assignee and the four-eyes rule.

Known limits: a computed field that reads another case (`previous()`) is evaluated against that case as it
is now; working-time deadlines use today's calendar of closures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import Definition, TimerSpec, expressions
from ..models import Case, HistoryEntry, Timer
from . import derived
from .cases import CREATE_ACTION, typed_data
from .clock import Clock
from .errors import InvalidInputs, NotFound
from .history import TRANSITION
from .numbering import case_name
from .publishing import workflow_of
from .timers import _matches, add_duration, due_at, may_run, timer_status


@dataclass(frozen=True)
class TimerAt:
    name: str
    label: dict[str, str] | None
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    stopped_at: datetime | None
    status: str  # running | warning | overdue | due | stopped | stopped_late, at T


@dataclass(frozen=True)
class CouldAct:
    """A step out of the state at T: whoever held one of `roles` (and was `assignee`, when set) could take it,
    except `not_by` under the four-eyes rule."""

    action: str
    label: dict[str, str]
    to: str
    roles: tuple[str, ...]
    assignee: str | None
    not_by: str | None


@dataclass(frozen=True)
class Replayed:
    case_id: int
    as_of: datetime
    number: str | None
    workflow: str
    version: int
    state: str
    final: bool
    data: dict[str, Any]
    lock_version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    timers: list[TimerAt]
    overdue: bool
    could_act: list[CouldAct]
    last_seq: int  # the history rows up to T: 1..last_seq


def moments(session: Session, case_id: int) -> list[datetime]:
    """The moments of the case's history rows, in order: where the replay's slider stops."""
    return list(session.scalars(select(HistoryEntry.at).where(HistoryEntry.case_id == case_id)
                                .order_by(HistoryEntry.seq)))


def replay_as_of(session: Session, clock: Clock, case: Case, as_of: datetime) -> Replayed:
    """`case` as it stood at `as_of`; NotFound before it was opened, InvalidInputs for a moment to come."""
    if as_of.tzinfo is None:
        raise InvalidInputs("Please correct: as_of", "请更正：as_of",
                            {"as_of": {"en": "must carry a time zone", "zh": "须带时区"}})
    if as_of > clock.now():
        raise InvalidInputs("Please correct: as_of", "请更正：as_of",
                            {"as_of": {"en": "is in the future", "zh": "是将来的时间"}})
    rows = list(session.scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case.id, HistoryEntry.at <= as_of)
        .order_by(HistoryEntry.seq)))
    moves = [r for r in rows if r.kind == TRANSITION]
    if not moves:
        name = case_name(case)
        raise NotFound(f"case {name['en']} did not exist yet at {clock.local(as_of).isoformat()}",
                       f"案件 {name['zh']} 在 {clock.local(as_of).isoformat()} 尚不存在")
    definition = workflow_of(case.version).definition
    data, started = _walk(session, clock, definition, moves)
    at_t = dataclasses.replace(clock, now_fn=lambda: as_of)
    specs = {s.name: s for s in definition.timers}
    timers = [_timer_at(at_t, t, specs.get(t.name)) for t in started]
    state, last = moves[-1].to_state, moves[-1]
    return Replayed(
        case_id=case.id, as_of=as_of, number=_number(definition, case, moves), workflow=case.workflow_key,
        version=case.version.version, state=state, final=definition.is_final(state), data=data,
        lock_version=len(moves), created_by=moves[0].actor, created_at=moves[0].at, updated_at=last.at,
        timers=timers, overdue=any(t.status == "overdue" for t in timers),
        could_act=_could_act(definition, state, data, last.actor), last_seq=rows[-1].seq,
    )


def _number(definition: Definition, case: Case, moves: Sequence[HistoryEntry]) -> str | None:
    numbering = definition.number
    if numbering is None or case.number is None:
        return case.number
    return case.number if any(m.action == numbering.assign_on for m in moves) else None


def _walk(
    session: Session, clock: Clock, definition: Definition, moves: Sequence[HistoryEntry]
) -> tuple[dict[str, Any], list[Timer]]:
    """The data and the timer rows (transient, in the order they were made) that the moves leave."""
    data = dict(moves[0].inputs)
    timers: list[Timer] = []
    _move_timers(clock, definition, timers, moves[0], data)
    for move in moves[1:]:
        transition = definition.transitions.get(move.action)
        if transition is None:  # `audit verify` reports it; the replay shows the state the row names
            continue
        to_case = {i.name for i in transition.inputs if i.to_case}
        merged = {**data, **{name: value for name, value in move.inputs.items() if name in to_case}}
        data = derived.recompute(session, definition, merged, {"now": move.at, "today": clock.local(move.at).date()})
        _move_timers(clock, definition, timers, move, data)
    return data, timers


def _move_timers(clock: Clock, definition: Definition, timers: list[Timer], move: HistoryEntry,
                 data: dict[str, Any]) -> None:
    """What `timers.on_transition` does to the timer rows, on the transient rows of the replay."""
    action = CREATE_ACTION if move.from_state is None else move.action
    final = definition.is_final(move.to_state)
    stopping = {s.name for s in definition.timers if final or _matches(s.stop, action, move.from_state, move.to_state)}
    started = [] if final else _started(clock, definition, move, action, data)
    names = (stopping | {t.name for t in started}) & may_run(definition, move.from_state)
    for timer in timers:
        if timer.status == "running" and timer.name in names:
            timer.status, timer.stopped_at = "stopped", move.at
    timers += started


def _started(clock: Clock, definition: Definition, move: HistoryEntry, action: str,
             data: dict[str, Any]) -> list[Timer]:
    typed = typed_data(definition, data)
    found = []
    for spec in definition.timers:
        if not _matches(spec.start, action, move.from_state, move.to_state):
            continue
        if spec.when and not expressions.evaluate(spec.when, typed):
            continue
        due = due_at(clock, spec, move.at, data)
        if due is None:
            continue
        warn = add_duration(clock, due, spec.warn_before, sign=-1) if spec.warn_before else None
        found.append(Timer(name=spec.name, status="running", started_at=move.at, due_at=due,
                           warn_at=warn if warn is not None and warn > move.at else None))
    return found


def _timer_at(clock: Clock, timer: Timer, spec: TimerSpec | None) -> TimerAt:
    status = timer_status(clock, timer, spec) if spec is not None else timer.status
    return TimerAt(timer.name, dict(spec.label) if spec is not None else None, timer.started_at, timer.due_at,
                   timer.warn_at, timer.stopped_at, status)


def _could_act(definition: Definition, state: str, data: dict[str, Any], last_mover: str) -> list[CouldAct]:
    return [
        CouldAct(t.name, dict(t.label), t.dest, t.roles,
                 str(data.get(t.assignee_field)) if t.assignee_field and data.get(t.assignee_field) else None,
                 last_mover if t.four_eyes else None)
        for t in definition.transitions_from(state)
    ]
