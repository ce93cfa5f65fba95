"""Where a timer stands (`timers.timer_status`): the one answer the case page and the lists show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from web.extensions import db
from workflow.definitions import TimerSpec
from workflow.engine import Clock, get_case
from workflow.engine.timers import timer_status
from workflow.models import Timer

from .test_timers import received  # noqa: F401 - the fixture: a return whose goods arrived

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = START + timedelta(hours=48)
WARN = DUE - timedelta(hours=8)


def spec(*, mark_overdue: bool = True) -> TimerSpec:
    return TimerSpec(name="t", label={"en": "T", "zh": "T"}, start=(), stop=(), mark_overdue=mark_overdue)


def at(moment: datetime) -> Clock:
    return Clock(now_fn=lambda: moment)


def running(*, warn: bool = True) -> Timer:
    return Timer(name="t", status="running", started_at=START, due_at=DUE, warn_at=WARN if warn else None)


def stopped(at_moment: datetime) -> Timer:
    return Timer(name="t", status="stopped", started_at=START, due_at=DUE, warn_at=WARN, stopped_at=at_moment)


@pytest.mark.parametrize(("timer", "now", "marks_overdue", "status"), [
    (running(), WARN - timedelta(seconds=1), True, "running"),
    (running(warn=False), DUE - timedelta(seconds=1), True, "running"),
    (running(), WARN, True, "warning"),
    (running(), DUE - timedelta(seconds=1), True, "warning"),
    (running(), DUE, True, "overdue"),
    (running(), DUE, False, "due"),
    (stopped(DUE), DUE + timedelta(days=1), True, "stopped"),
    (stopped(DUE + timedelta(seconds=1)), DUE + timedelta(days=1), True, "stopped_late"),
    (stopped(DUE + timedelta(seconds=1)), DUE + timedelta(days=1), False, "stopped"),
], ids=["before-warning", "no-warning", "at-warning", "warning-until-due", "overdue", "due-not-lateness",
        "stopped-on-time", "stopped-late", "stopped-after-a-non-marking-expiry"])
def test_each_status(timer, now, marks_overdue, status):
    assert timer_status(at(now), timer, spec(mark_overdue=marks_overdue)) == status


def test_the_definition_of_the_case_gives_the_timer_its_meaning(api, received, frozen_clock):  # noqa: F811
    """Without a spec passed in, the timer's own case version says whether it marks lateness and warns."""
    case, arrival = received
    inspection = next(t for t in get_case(db.session, case["id"]).timers if t.name == "inspection")
    assert inspection.warn_at is not None
    seen = {}
    for moment in (arrival, inspection.warn_at, inspection.due_at):
        seen[moment] = timer_status(at(moment), inspection)
    assert list(seen.values()) == ["running", "warning", "overdue"]
