"""Starting and stopping a case's timers as it moves, and computing when each is due."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from ..definitions import Definition, TimerSpec, expressions
from ..definitions.schema import DateDeadline, Duration, Event
from ..models import Case, Timer
from . import driver, notices
from .clock import Clock
from .publishing import workflow_of


def add_duration(clock: Clock, start: datetime, duration: Duration, sign: int = 1) -> datetime:
    n = duration.amount * sign
    if duration.unit == "h":
        return start + timedelta(hours=n)
    if duration.unit == "d":
        # Calendar days on the local wall clock, so "3 days" ends at the same local time.
        local = start.astimezone(clock.tz)
        return (local + timedelta(days=n)).astimezone(UTC)
    assert clock.calendar is not None
    if duration.unit == "wd":
        return clock.calendar.add_working_days(start, n)
    return clock.calendar.add_working_hours(start, n)


def due_at(clock: Clock, spec: TimerSpec, started_at: datetime, data: dict[str, Any]) -> datetime | None:
    """When the timer expires; None when a calendar deadline's anchor field is not set."""
    if spec.duration is not None:
        return add_duration(clock, started_at, spec.duration)
    assert spec.deadline is not None
    anchor = data.get(spec.deadline.field)
    if isinstance(spec.deadline, DateDeadline):
        # "By the promised date" means until that day is over, in the organisation's time zone.
        try:
            day = date.fromisoformat(str(anchor)[:10]) + timedelta(days=spec.deadline.days_after + 1)
        except (ValueError, OverflowError):
            return None
        return datetime.combine(day, time(), tzinfo=clock.tz).astimezone(UTC)
    try:
        year, month = (int(part) for part in str(anchor)[:7].split("-"))
    except (ValueError, TypeError):
        return None
    month += spec.deadline.months_after
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    # "By the 10th" means until the 10th is over, in the organisation's time zone.
    end_of_day = datetime(year, month, spec.deadline.day, tzinfo=clock.tz) + timedelta(days=1)
    return end_of_day.astimezone(UTC)


def _matches(events: tuple[Event, ...], action: str, from_state: str | None, to_state: str) -> bool:
    for ev in events:
        if ev.kind == "transition" and ev.name == action:
            return True
        if ev.kind == "enter" and ev.name == to_state and from_state != to_state:
            return True
        if ev.kind == "leave" and ev.name == from_state and from_state != to_state:
            return True
    return False


_TIMERS = cast(Table, Timer.__table__)
_START = driver.Prebuilt(insert(_TIMERS), keys=(
    "case_id", "name", "status", "started_at", "due_at", "warn_at", "next_action_at"))
_stops: dict[int, driver.Prebuilt] = {}


def _stop_statement(count: int) -> driver.Prebuilt:
    """Stops the case's running timers of `count` names given (b_name0…), and says which ones it stopped.

    One statement per number of names (a definition has a handful of timers), so that it is prebuilt.
    """
    found = _stops.get(count)
    if found is None:
        found = _stops[count] = driver.Prebuilt(
            update(_TIMERS)
            .where(_TIMERS.c.case_id == bindparam("b_case"), _TIMERS.c.status == "running",
                   _TIMERS.c.name.in_([bindparam(f"b_name{n}") for n in range(count)]))
            .values(status="stopped", stopped_at=bindparam("b_at"), next_action_at=None)
            .returning(_TIMERS.c.id, _TIMERS.c.name, _TIMERS.c.due_at)
        )
    return found


def _starts(
    clock: Clock, definition: Definition, case: Case, action: str, from_state: str | None, to_state: str,
    at: datetime, data: dict[str, Any], typed_data: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of the timers this move starts; `data` is the case's data as the move leaves it."""
    rows: list[dict[str, Any]] = []
    for spec in definition.timers:
        if not _matches(spec.start, action, from_state, to_state):
            continue
        if spec.when and not expressions.evaluate(spec.when, typed_data):
            continue
        due = due_at(clock, spec, at, data)
        if due is None:
            continue
        warn = add_duration(clock, due, spec.warn_before, sign=-1) if spec.warn_before else None
        if warn is not None and warn <= at:
            warn = None  # a warning that would come before the timer starts is no warning
        rows.append({"case_id": case.id, "name": spec.name, "status": "running", "started_at": at, "due_at": due,
                     "warn_at": warn, "next_action_at": warn or due})
    return rows


class Moving:
    """What a move sent to stop and start timers, until its answers are read (`finish`)."""

    def __init__(self, stopping: list[TimerSpec], stopped: driver.Sent | None, started: driver.Sent | None):
        self.stopping, self.stopped, self.started = stopping, stopped, started

    def finish(self, session: Session, clock: Clock, definition: Definition, case: Case, at: datetime) -> None:
        """Tell the session what the statements wrote; announce a timer this move stopped late."""
        if self.started is not None:
            self.started.close()
        if (self.stopped or self.started) and "timers" in case.__dict__:  # a collection loaded before the move
            session.expire(case, ["timers"])
        if self.stopped is None:
            return
        stopped = self.stopped.rows()
        _stopped_in_session(session, [timer_id for timer_id, _, _ in stopped], at)
        # A restarted timer is stopped without a word; one this move stops may be late.
        due_by_name = {name: (timer_id, due) for timer_id, name, due in stopped}
        for spec in self.stopping:
            timer_id, due = due_by_name.get(spec.name, (None, None))
            if timer_id is not None and due is not None and at > due and (spec.late_notice or spec.late_notify):
                timer = session.get(Timer, timer_id)
                assert timer is not None  # stopped just now
                notices.announce(session, clock, definition, case, timer, spec, spec.late_notice or "late", at)


def send_transition(
    session: Session, clock: Clock, definition: Definition, case: Case, *, action: str,
    from_state: str | None, to_state: str, at: datetime, data: dict[str, Any], typed_data: Mapping[str, Any],
) -> Moving:
    """Send what stops the timers this move stops and starts the ones it starts (restarting a running one).

    Read from the definition alone, without loading the case's timers: one UPDATE stops the running
    ones this move stops or restarts (only when there are such names), one INSERT starts the new ones.
    Sent on the driver, so that a move's pipeline carries them (cases.advance); `finish` reads the answers.
    """
    final = definition.is_final(to_state)
    stopping = [s for s in definition.timers if final or _matches(s.stop, action, from_state, to_state)]
    started = [] if final else _starts(clock, definition, case, action, from_state, to_state, at, data, typed_data)
    # Stopped, or restarted: only those that can be running in the state the case leaves.
    names = ({s.name for s in stopping} | {row["name"] for row in started}) & may_run(definition, from_state)
    if not (names or started):
        return Moving(stopping, None, None)
    conn = session.connection()
    stop = start = None
    if names:
        params = {"b_case": case.id, "b_at": at, **{f"b_name{n}": name for n, name in enumerate(sorted(names))}}
        stop = _stop_statement(len(names)).send(conn, params)
    if started:
        start = _START.send_many(conn, started)
    return Moving(stopping, stop, start)


def on_transition(
    session: Session, clock: Clock, definition: Definition, case: Case, *, action: str,
    from_state: str | None, to_state: str, at: datetime, typed_data: Mapping[str, Any],
) -> None:
    """`send_transition` and `finish` at once, for a caller without a pipeline (opening a case)."""
    send_transition(
        session, clock, definition, case, action=action, from_state=from_state, to_state=to_state, at=at,
        data=case.data, typed_data=typed_data,
    ).finish(session, clock, definition, case, at)


_may_run: dict[int, tuple[Definition, dict[str, frozenset[str]]]] = {}


def may_run(definition: Definition, state: str | None) -> frozenset[str]:
    """The timers that can be running while a case of `definition` is in `state` (none before opening).

    Only on_transition starts and stops timers, and whether a move starts or stops one depends on the
    move alone (a start's `when` can only make it start less), so what can be running in each state
    follows from the definition: from the opening, along every transition, to a fixed point.
    """
    known = _may_run.get(id(definition))
    if known is None or known[0] is not definition:
        if len(_may_run) >= 1024:  # definitions live in the version cache; this only follows it
            _may_run.clear()
        known = _may_run[id(definition)] = (definition, _running_by_state(definition))
    return known[1].get(state, frozenset()) if state is not None else frozenset()


def _running_by_state(definition: Definition) -> dict[str, frozenset[str]]:
    def starts(action: str, source: str | None, dest: str) -> set[str]:
        return {spec.name for spec in definition.timers if _matches(spec.start, action, source, dest)}

    stops = {spec.name: spec.stop for spec in definition.timers}
    running: dict[str, set[str]] = {state: set() for state in definition.states}
    if not definition.is_final(definition.initial_state):
        running[definition.initial_state] |= starts("create", None, definition.initial_state)
    moves = [(t.name, source, t.dest) for t in definition.transitions.values() for source in t.sources]
    changed = True
    while changed:
        changed = False
        for action, source, dest in moves:
            if definition.is_final(dest):
                continue  # a final state stops every timer
            kept = {n for n in running[source] if not _matches(stops[n], action, source, dest)}
            reached = kept | starts(action, source, dest)
            if not reached <= running[dest]:
                running[dest] |= reached
                changed = True
    return {state: frozenset(names) for state, names in running.items()}


def _stopped_in_session(session: Session, timer_ids: list[int], at: datetime) -> None:
    """What the stop statement wrote, as committed state of the Timer objects this session already holds."""
    for timer_id in timer_ids:
        timer = session.identity_map.get(identity_key(Timer, timer_id))
        if isinstance(timer, Timer):
            for name, value in (("status", "stopped"), ("stopped_at", at), ("next_action_at", None)):
                set_committed_value(timer, name, value)


# Every column a sweep changes (worker.process_case, and `stop`), written together by write_swept.
_SWEPT = ("status", "stopped_at", "warned_at", "expired_at", "expired_state", "repeats", "next_action_at")
_SWEPT_KEYS = frozenset(_SWEPT)
_WRITE_SWEPT = (
    update(_TIMERS).where(_TIMERS.c.id == bindparam("b_id")).values({key: bindparam(key) for key in _SWEPT})
)


def write_swept(session: Session, cases: Iterable[Case]) -> None:
    """Write what a sweep changed on the loaded timers of `cases`: one executemany UPDATE in all.

    The ORM would send an UPDATE per timer, or per run of timers that changed the same columns, which the
    timers of a batch seldom do (a warned one, an expired one, a reminded one): here each changed timer's
    row gets all the columns a sweep changes, the same values for those it left alone. Written, the values
    become the timers' committed state, so that the session's flush sends nothing for them. A timer with
    another change is left to that flush.
    """
    changed = []
    for case in cases:
        for timer in case.__dict__.get("timers", ()):  # not loaded (expired by a move): the flush has them
            state = inspect(timer)
            if state.modified and state.committed_state and _SWEPT_KEYS.issuperset(state.committed_state):
                changed.append(timer)
    if not changed:
        return
    rows = [{"b_id": timer.id, **{key: getattr(timer, key) for key in _SWEPT}} for timer in changed]
    if session.connection().execute(_WRITE_SWEPT, rows).rowcount != len(rows):
        raise StaleDataError(f"UPDATE of {len(rows)} timer(s) matched another number of rows")
    for timer, row in zip(changed, rows, strict=True):
        for key in _SWEPT:
            set_committed_value(timer, key, row[key])


def stop(timer: Timer, at: datetime) -> None:
    timer.status, timer.stopped_at, timer.next_action_at = "stopped", at, None


def expiry_status(timer: Timer, spec: TimerSpec | None, now: datetime) -> str:
    """running | overdue | due (expired, but not one that marks the case overdue) | stopped | stopped_late.

    What the timer's expiry means, without the warning: `timer_status` is the full answer for people.
    """
    if timer.status != "running":
        late = timer.stopped_at is not None and timer.stopped_at > timer.due_at
        return "stopped_late" if late and (spec is None or spec.mark_overdue) else "stopped"
    if timer.due_at > now:
        return "running"
    return "overdue" if spec is None or spec.mark_overdue else "due"


def spec_of(timer: Timer) -> TimerSpec | None:
    """The definition's timer of this name in the case's version; None for one its definition no longer has."""
    definition = workflow_of(timer.case.version).definition
    return next((s for s in definition.timers if s.name == timer.name), None)


def timer_status(clock: Clock, timer: Timer, spec: TimerSpec | None = None) -> str:
    """running | warning | overdue | due | stopped | stopped_late: where the timer stands now.

    `warning` is a running timer past its warning moment and not yet expired; `due` an expired timer that
    does not mark the case overdue; `stopped_late` one stopped after it expired (when lateness counts).
    A timer whose name its definition does not know counts as one that marks lateness. Pass `spec` when
    the caller has it, to save looking it up.
    """
    now = clock.now()
    status = expiry_status(timer, spec if spec is not None else spec_of(timer), now)
    if status == "running" and timer.warn_at is not None and timer.warn_at <= now:
        return "warning"
    return status
