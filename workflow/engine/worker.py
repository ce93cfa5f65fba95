"""The timer worker: fires what is due, exactly once, however many workers share the database.

Each case with something due is handled in its own transaction that first locks the case row
(`FOR UPDATE SKIP LOCKED` on PostgreSQL: a second worker skips it instead of waiting) and then
re-reads that case's due timers. The re-read matters: a worker that locks a case just after another
committed sees the new `next_action_at` and does nothing. A worker killed mid-case leaves its
transaction uncommitted, so the next sweep does the whole case again, once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..definitions import TimerSpec
from ..models import Case, Closure, Timer
from . import notices
from .cases import advance
from .clock import Clock
from .errors import WorkflowError
from .publishing import workflow_of
from .timers import add_duration, stop
from .users import SYSTEM


@dataclass
class TickReport:
    cases: int = 0
    warnings: int = 0
    expired: int = 0
    reminders: int = 0
    fired: int = 0
    refused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"{self.cases} case(s): {self.warnings} warning(s), {self.expired} expired, "
                f"{self.reminders} reminder(s), {self.fired} transition(s) fired")
        return text + "".join(f"\n  refused: {r}" for r in self.refused)


def due_cases(now: datetime, limit: int = 1) -> Select[Case]:
    """Cases with a timer whose next moment has come; reads the partial index on timers only."""
    due = select(Timer.case_id).where(
        Timer.status == "running", Timer.next_action_at.is_not(None), Timer.next_action_at <= now
    )
    return (
        select(Case).where(Case.id.in_(due)).order_by(Case.id).limit(limit)
        .with_for_update(skip_locked=True, of=Case)
    )


def refresh_closures(session: Session, clock: Clock) -> None:
    """Load the company's closures into the calendar, so durations count them as days off."""
    assert clock.calendar is not None
    clock.calendar.set_closures(session.scalars(select(Closure.day)))


def _working_repeat(spec: TimerSpec) -> bool:
    return spec.repeat is not None and spec.repeat.unit in ("wd", "wh")


def process_case(session: Session, clock: Clock, case: Case, now: datetime, email: bool, report: TickReport) -> None:
    """Do everything due on `case` up to `now`, with the case row already locked by the caller."""
    assert clock.calendar is not None
    definition = workflow_of(case.version).definition
    specs = {t.name: t for t in definition.timers}
    at_now = dataclasses.replace(clock, now_fn=lambda: now)
    timers = session.scalars(
        select(Timer).where(Timer.case_id == case.id, Timer.status == "running", Timer.next_action_at <= now)
        .order_by(Timer.next_action_at, Timer.id).with_for_update()
    ).all()
    for timer in timers:
        spec = specs.get(timer.name)
        if spec is None:  # cannot happen for a version that never changes; stop rather than loop
            stop(timer, now)
            continue
        while timer.status == "running" and timer.next_action_at is not None and timer.next_action_at <= now:
            moment = timer.next_action_at
            if timer.warn_at is not None and timer.warned_at is None and moment == timer.warn_at:
                timer.warned_at = now
                timer.next_action_at = timer.due_at
                if spec.notify and timer.due_at > now:  # a sweep that comes after the expiry skips the warning
                    notices.announce(session, clock, definition, case, timer, spec, "warning", now, email)
                    report.warnings += 1
            elif timer.expired_at is None:
                timer.expired_at, timer.expired_state = now, case.state
                timer.next_action_at = None
                report.expired += 1
                if spec.fire:
                    _fire(session, at_now, case, spec, report)
                    continue
                if spec.notify and spec.mark_overdue and not spec.notice:
                    notices.announce(session, clock, definition, case, timer, spec, "overdue", now, email)
                if spec.repeat:
                    # With a working-time repeat, nothing is sent on a day off: the first notice waits.
                    first = clock.calendar.next_working_moment(moment) if _working_repeat(spec) else moment
                    if spec.notice and first <= now:
                        notices.announce(session, clock, definition, case, timer, spec, spec.notice, now, email)
                        timer.repeats += 1
                        report.reminders += 1
                        first = add_duration(clock, first, spec.repeat)
                    timer.next_action_at = first
                elif spec.notice:
                    notices.announce(session, clock, definition, case, timer, spec, spec.notice, now, email)
                    report.reminders += 1
            else:  # a repeat
                assert spec.repeat is not None
                notices.announce(session, clock, definition, case, timer, spec, spec.notice or "overdue", now, email)
                timer.repeats += 1
                report.reminders += 1
                timer.next_action_at = add_duration(clock, moment, spec.repeat)
    session.flush()


def _fire(session: Session, clock: Clock, case: Case, spec: TimerSpec, report: TickReport) -> None:
    assert spec.fire is not None
    try:
        with session.begin_nested():
            advance(session, clock, case, spec.fire, SYSTEM, {}, comment=f"timer {spec.name}")
        report.fired += 1
    except WorkflowError as exc:
        # The definition let the timer outlive the state it was meant for; say so rather than retry forever.
        report.refused.append(f"case {case.number or case.id}: {spec.fire}: {exc.messages['en']}")


def fire_due_timers(
    session_factory: Callable[[], Session], clock: Clock, now: datetime | None = None,
    email: bool = False, max_cases: int | None = None,
) -> TickReport:
    """Fire everything due at `now` (default: the clock's now), one case per transaction."""
    now = now or clock.now()
    report = TickReport()
    while max_cases is None or report.cases < max_cases:
        with session_factory() as session, session.begin():
            refresh_closures(session, clock)
            case = session.scalars(due_cases(now)).first()
            if case is None:
                break
            process_case(session, clock, case, now, email, report)
            report.cases += 1
    return report
