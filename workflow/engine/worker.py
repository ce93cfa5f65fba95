"""The timer worker: fires what is due, exactly once, however many workers share the database.

A sweep works in batches, each one transaction. The batch's first statement locks up to `batch_size`
cases that have something due (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a second worker skips them
instead of waiting, and takes the next ones); the second re-reads those cases' timers, locked too. The
re-read matters: a worker that locks a case just after another committed sees the new `next_action_at`
and does nothing. The batch's cases then run one after the other in that one transaction, and what they
write goes in together at the end, each statement once for the batch (the timers' UPDATE, the notices'
history rows and chain heads, the notifications, the people to notify read once): a swept case costs no
statement of its own. A timer that fires a move is the exception: what the batch holds is written first,
since the move appends to the case's chain from its stored head. Should one of
them fail, the whole batch is rolled back and run again with a SAVEPOINT per case, so that the case whose
firing fails is rolled back alone and reported, while the batch's other cases commit together (a
SAVEPOINT costs two statements, so only a batch that needs them pays for them). A worker killed mid-batch
leaves the whole batch uncommitted, so the next sweep does those cases again, once.

SQLite has no row locks (`FOR UPDATE` is left out there): a batch holds the database's one write lock
from its first write until it commits, which keeps two workers from firing anything twice but gains
nothing from a second one. Run one worker on SQLite.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ..definitions import Definition, TimerSpec
from ..models import Case, Closure, Timer
from . import notices, notifications, observe
from .cases import advance
from .clock import Clock
from .errors import WorkflowError
from .publishing import workflow_of
from .timers import add_duration, stop, write_swept
from .users import SYSTEM

# A batch holds its cases' row locks (on SQLite: the write lock) until it commits, and a killed worker
# repeats a whole batch: large enough to spread the statements and the commit over many cases, small
# enough to keep that short.
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    cases: int = 0
    warnings: int = 0
    expired: int = 0
    reminders: int = 0
    fired: int = 0
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, other: TickReport) -> None:
        """Count `other` (one case's work, once it is safely in the batch) into this report."""
        for name in ("cases", "warnings", "expired", "reminders", "fired"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.refused += other.refused
        self.failed += other.failed

    def __str__(self) -> str:
        text = (f"{self.cases} case(s): {self.warnings} warning(s), {self.expired} expired, "
                f"{self.reminders} reminder(s), {self.fired} transition(s) fired")
        return (text + "".join(f"\n  refused: {r}" for r in self.refused)
                + "".join(f"\n  failed, left for the next sweep: {f}" for f in self.failed))


def due_cases(now: datetime, limit: int = 1, skip: Collection[int] = ()) -> Select[Case]:
    """Cases with a timer whose next moment has come; reads the partial index on timers only.

    `skip`: cases this sweep already failed on, so that a failing case is not taken again at once.
    """
    due = select(Timer.case_id).where(
        Timer.status == "running", Timer.next_action_at.is_not(None), Timer.next_action_at <= now
    )
    query = select(Case).where(Case.id.in_(due))
    if skip:
        query = query.where(Case.id.not_in(skip))
    return query.order_by(Case.id).limit(limit).with_for_update(skip_locked=True, of=Case)


def refresh_closures(session: Session, clock: Clock) -> None:
    """Load the company's closures into the calendar, so durations count them as days off."""
    assert clock.calendar is not None
    clock.calendar.set_closures(session.scalars(select(Closure.day)))


def lock_batch(session: Session, now: datetime, limit: int, skip: Collection[int] = ()) -> list[Case]:
    """Lock up to `limit` due cases and then all their timers, each case's `timers` filled from one query."""
    # The timers come from the locking query below, not from the relationship's own load, which would
    # read them a second time, unlocked.
    cases = list(session.scalars(due_cases(now, limit, skip).options(lazyload(Case.timers))))
    if not cases:
        return cases
    timers = session.scalars(
        select(Timer).where(Timer.case_id.in_([c.id for c in cases]))
        .order_by(Timer.case_id, Timer.id).with_for_update()
    ).all()
    by_case: dict[int, list[Timer]] = {c.id: [] for c in cases}
    for timer in timers:
        by_case[timer.case_id].append(timer)
    for case in cases:
        set_committed_value(case, "timers", by_case[case.id])
    return cases


def _working_repeat(spec: TimerSpec) -> bool:
    return spec.repeat is not None and spec.repeat.unit in ("wd", "wh")


def _due(case: Case, now: datetime) -> list[Timer]:
    due = [t for t in case.timers
           if t.status == "running" and t.next_action_at is not None and t.next_action_at <= now]
    return sorted(due, key=lambda t: (t.next_action_at, t.id))


def process_case(
    session: Session, clock: Clock, definition: Definition, case: Case, now: datetime, email: bool,
    report: TickReport, batch: notices.Batch,
) -> None:
    """Do everything due on `case` up to `now`, with the case row and its timers already locked.

    What it announces waits in `batch`, and its timers' changes in the session, for the caller to write
    with those of the batch's other cases (timers.write_swept, notices.write, then a flush).
    """
    assert clock.calendar is not None
    specs = {t.name: t for t in definition.timers}
    announce = batch.announce
    for timer in _due(case, now):
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
                    announce(session, clock, definition, case, timer, spec, "warning", now, email)
                    report.warnings += 1
            elif timer.expired_at is None:
                timer.expired_at, timer.expired_state = now, case.state
                timer.next_action_at = None
                report.expired += 1
                if spec.fire:
                    # The move appends to the chain from the head stored: what the batch holds goes first.
                    notices.write(session, batch)
                    _fire(session, dataclasses.replace(clock, now_fn=lambda: now), case, spec, report)
                    continue
                if spec.notify and spec.mark_overdue and not spec.notice:
                    announce(session, clock, definition, case, timer, spec, "overdue", now, email)
                if spec.repeat:
                    # With a working-time repeat, nothing is sent on a day off: the first notice waits.
                    first = clock.calendar.next_working_moment(moment) if _working_repeat(spec) else moment
                    if spec.notice and first <= now:
                        announce(session, clock, definition, case, timer, spec, spec.notice, now, email)
                        timer.repeats += 1
                        report.reminders += 1
                        first = add_duration(clock, first, spec.repeat)
                    timer.next_action_at = first
                elif spec.notice:
                    announce(session, clock, definition, case, timer, spec, spec.notice, now, email)
                    report.reminders += 1
            else:  # a repeat
                assert spec.repeat is not None
                announce(session, clock, definition, case, timer, spec, spec.notice or "overdue", now, email)
                timer.repeats += 1
                report.reminders += 1
                timer.next_action_at = add_duration(clock, moment, spec.repeat)


def _fire(session: Session, clock: Clock, case: Case, spec: TimerSpec, report: TickReport) -> None:
    assert spec.fire is not None
    try:
        with session.begin_nested():
            advance(session, clock, case, spec.fire, SYSTEM, {}, comment=f"timer {spec.name}")
        report.fired += 1
    except WorkflowError as exc:
        # The definition let the timer outlive the state it was meant for; say so rather than retry forever.
        report.refused.append(f"case {case.number or case.id}: {spec.fire}: {exc.messages['en']}")


def process_batch(
    session: Session, clock: Clock, cases: Sequence[Case], now: datetime, email: bool, report: TickReport,
    failed: set[int],
) -> None:
    """Each case of a locked batch in its own SAVEPOINT: one that raises is rolled back and reported alone.

    Adds the ids of the cases that failed to `failed`.
    """
    definitions: dict[int, Definition] = {}
    for case in cases:
        name = case.number or f"#{case.id}"  # read now: a rolled-back case's attributes are expired
        definition = definitions.get(case.version_id)
        if definition is None:
            definition = definitions[case.version_id] = workflow_of(case.version).definition
        done = TickReport(cases=1)
        try:
            with session.begin_nested():
                batch = notices.Batch()
                process_case(session, clock, definition, case, now, email, done, batch)
                _write(session, [case], batch)
        except Exception as exc:  # whatever broke this one case must not take the batch down with it
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise  # not this case's fault: the batch is lost as a whole and the next sweep redoes it
            log.exception("timer worker: case %s failed at %s", name, now.isoformat())
            report.failed.append(f"case {name}: {type(exc).__name__}: {exc}")
            failed.add(case.id)
            continue
        report.add(done)


def process_together(
    session: Session, clock: Clock, cases: Sequence[Case], now: datetime, email: bool, report: TickReport,
) -> None:
    """Every case of a locked batch in the batch's own transaction, without a SAVEPOINT each.

    The common sweep, where no case fails: no SAVEPOINTs, and each statement sent once for the whole
    batch (the notifications', the notices' history rows and chain heads', the timers' UPDATE), rather
    than once per case. If one case does fail, or a batch statement, the caller rolls the whole batch
    back and runs it again with `process_batch`, which finds the case and sets it apart; nothing of the
    first attempt is kept, so nothing fires twice.
    """
    definitions: dict[int, Definition] = {}
    batch = notices.Batch()
    for case in cases:
        definition = definitions.get(case.version_id)
        if definition is None:
            definition = definitions[case.version_id] = workflow_of(case.version).definition
        done = TickReport(cases=1)
        process_case(session, clock, definition, case, now, email, done, batch)
        report.add(done)
    _write(session, cases, batch)


def _write(session: Session, cases: Sequence[Case], batch: notices.Batch) -> None:
    """Send what `process_case` left for `cases`: their timers' changes, then `batch`, each statement once."""
    write_swept(session, cases)  # first: the people's SELECT in notices.write flushes the session
    notices.write(session, batch)
    session.flush()


def _sweep_batch(
    session_factory: Callable[[], Session], clock: Clock, now: datetime, limit: int, email: bool,
    report: TickReport, failed: set[int], closures: bool,
) -> int:
    """Lock and do one batch, committed; the number of cases it took (0: nothing was due)."""
    try:
        with session_factory() as session, session.begin():
            if closures:  # once per sweep; an empty one too, since moves made in between read the calendar
                refresh_closures(session, clock)
            cases = lock_batch(session, now, limit, failed)
            together = TickReport()
            with notifications.recipients_kept(session):
                process_together(session, clock, cases, now, email, together)
        report.add(together)
        return len(cases)
    except Exception as exc:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise  # not a case's fault: the batch is lost as a whole and the next sweep redoes it
        log.debug("timer worker: a case of the batch failed; again, one SAVEPOINT per case", exc_info=True)
    with session_factory() as session, session.begin():
        cases = lock_batch(session, now, limit, failed)
        with notifications.recipients_kept(session):
            process_batch(session, clock, cases, now, email, report, failed)
    return len(cases)


def fire_due_timers(
    session_factory: Callable[[], Session], clock: Clock, now: datetime | None = None,
    email: bool = False, max_cases: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
) -> TickReport:
    """Fire everything due at `now` (default: the clock's now), `batch_size` cases per transaction.

    A case whose firing fails is reported in `failed` and not taken again in this sweep; its timers stay
    due, so the next sweep tries it again.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size {batch_size} is not between 1 and {MAX_BATCH_SIZE}")
    started = time.perf_counter()
    now = now or clock.now()
    report = TickReport()
    failed: set[int] = set()
    first = True
    while max_cases is None or report.cases + len(failed) < max_cases:
        limit = batch_size if max_cases is None else min(batch_size, max_cases - report.cases - len(failed))
        fired_before = report.fired
        taken = _sweep_batch(session_factory, clock, now, limit, email, report, failed, closures=first)
        first = False
        # A short batch took every due case no other worker holds. Only a fired move can have made
        # another one due since (a timer it started whose deadline has passed), so only then look again.
        if taken == 0 or (taken < limit and report.fired == fired_before):
            break
    observe.swept(time.perf_counter() - started, report.cases)
    return report
