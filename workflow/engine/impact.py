"""What a new definition would do to the running cases of a version: where they sit, which states vanish,
and how the deadlines of their running timers would move.

Deadlines are worked out exactly as a migration would re-time them (`timers.due_at`, from the timer's own
start, with the new duration and calendar), so the preview and the migration cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import Definition, TimerSpec
from ..models import Case, Timer, WorkflowVersion
from .clock import Clock
from .drafts import timer_view
from .errors import NotFound
from .publishing import workflow_of
from .timers import due_at


def version_row(session: Session, key: str, number: int) -> WorkflowVersion:
    found = session.scalar(select(WorkflowVersion).where(WorkflowVersion.key == key,
                                                         WorkflowVersion.version == number))
    if found is None:
        raise NotFound(f"{key} has no version {number}", f"{key} 没有版本 {number}")
    return found


def running_cases(session: Session, version: WorkflowVersion) -> Any:
    """The query of the version's cases that are not in a final state."""
    finals = [s.name for s in workflow_of(version).definition.states.values() if s.final]
    return select(Case).where(Case.version_id == version.id, Case.state.not_in(finals))


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def _timer_shift(
    clock: Clock, now: datetime, spec: TimerSpec, rows: list[tuple[Timer, dict[str, Any]]]
) -> dict[str, Any]:
    """How the running timers `rows` (timer, case data) would move under `spec`."""
    shifts: list[float] = []
    overdue_now = stopped = 0
    for timer, data in rows:
        new_due = due_at(clock, spec, timer.started_at, data)
        if new_due is None:  # a deadline whose anchor field is not set: the migration stops it
            stopped += 1
            continue
        delta = (new_due - timer.due_at).total_seconds()
        if delta:
            shifts.append(delta)
        if timer.due_at > now >= new_due:
            overdue_now += 1
    return {
        "running": len(rows), "moved": len(shifts),
        "earlier": sum(1 for s in shifts if s < 0), "later": sum(1 for s in shifts if s > 0),
        "shift_hours": {"earliest": _hours(min(shifts)), "latest": _hours(max(shifts)),
                        "median": _hours(median(shifts))} if shifts else None,
        "overdue_now": overdue_now, "stopped": stopped,
    }


def impact(session: Session, clock: Clock, key: str, from_version: int, new: Definition) -> dict[str, Any]:
    """The running cases of `key` version `from_version`, and what `new` would change for them."""
    version = version_row(session, key, from_version)
    old = workflow_of(version).definition
    cases = running_cases(session, version).subquery()
    by_state: Counter[str] = Counter({state: n for state, n in session.execute(
        select(cases.c.state, func.count()).group_by(cases.c.state))})
    removed = sorted(set(by_state) - set(new.states))
    in_removed = []
    for state in removed:
        found = session.execute(select(cases.c.id, cases.c.number).where(cases.c.state == state).order_by(cases.c.id))
        ids, numbers = zip(*found, strict=True) if by_state[state] else ((), ())
        in_removed.append({"state": state, "case_ids": list(ids), "numbers": list(numbers)})
    old_timers = {t.name: t for t in old.timers}
    new_timers = {t.name: t for t in new.timers}
    running = session.execute(
        select(Timer, cases.c.data).join(cases, Timer.case_id == cases.c.id)
        .where(Timer.status == "running").order_by(Timer.id)
    ).all()
    per_name: dict[str, list[tuple[Timer, dict[str, Any]]]] = {}
    for timer, data in running:
        per_name.setdefault(timer.name, []).append((timer, data))
    now = clock.now()
    changed = [
        {"name": name, "old": old_timers[name].length, "new": spec.length,
         "old_calendar": timer_view(old_timers[name])["calendar"], "new_calendar": timer_view(spec)["calendar"],
         **_timer_shift(clock, now, spec, per_name.get(name, []))}
        for name, spec in new_timers.items()
        if name in old_timers and old_timers[name].length != spec.length
    ]
    return {
        "from_version": from_version, "cases": sum(by_state.values()),
        "by_state": [{"state": s, "cases": n} for s, n in sorted(by_state.items())],
        "in_removed_states": in_removed,
        "timers": changed,
        "removed_timers": [{"name": n, "running": len(per_name.get(n, []))} for n in sorted(old_timers)
                           if n not in new_timers],
    }
