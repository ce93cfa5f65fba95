"""Starting and stopping a case's timers as it moves, and computing when each is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..definitions import Definition, TimerSpec, expressions
from ..definitions.schema import Duration, Event
from ..models import Case, Timer
from . import notices
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


def on_transition(
    session: Session, clock: Clock, definition: Definition, case: Case, *, action: str,
    from_state: str | None, to_state: str, at: datetime, typed_data: dict[str, Any],
) -> None:
    """Stop the timers this move stops, then start the ones it starts (restarting a running one)."""
    running = {t.name: t for t in case.timers if t.status == "running"}
    final = definition.is_final(to_state)
    for spec in definition.timers:
        timer = running.get(spec.name)
        if timer and (final or _matches(spec.stop, action, from_state, to_state)):
            stop(timer, at)
            running.pop(spec.name)
            if at > timer.due_at and (spec.late_notice or spec.late_notify):
                notices.announce(session, clock, definition, case, timer, spec, spec.late_notice or "late", at)
    if final:
        session.flush()
        return
    started: list[Timer] = []
    for spec in definition.timers:
        if not _matches(spec.start, action, from_state, to_state):
            continue
        if spec.when and not expressions.evaluate(spec.when, typed_data):
            continue
        due = due_at(clock, spec, at, case.data)
        if due is None:
            continue
        if spec.name in running:  # started again: the clock restarts
            stop(running[spec.name], at)
        warn = add_duration(clock, due, spec.warn_before, sign=-1) if spec.warn_before else None
        if warn is not None and warn <= at:
            warn = None  # a warning that would come before the timer starts is no warning
        started.append(Timer(
            case_id=case.id, name=spec.name, status="running", started_at=at, due_at=due, warn_at=warn,
            next_action_at=warn or due,
        ))
    # Added by case_id rather than through case.timers: a collection change would bump the case's
    # lock_version a second time, and lock_version counts moves.
    session.add_all(started)
    session.flush()
    if started:
        session.expire(case, ["timers"])


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
