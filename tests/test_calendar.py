"""The working calendar: China's public holidays and make-up working days (调休) from `holidays`."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from workflow.engine.calendar import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def calendar():
    return WorkingCalendar(SHANGHAI)


@pytest.mark.parametrize("day, working", [
    (date(2026, 2, 13), True),    # Friday before the Spring Festival
    (date(2026, 2, 14), True),    # Saturday, a make-up working day
    (date(2026, 2, 15), False),   # Sunday
    (date(2026, 2, 16), False), (date(2026, 2, 17), False), (date(2026, 2, 20), False),
    (date(2026, 2, 23), False),   # Monday, still the Spring Festival break
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday, a make-up working day
    (date(2026, 10, 1), False), (date(2026, 10, 10), True),
])
def test_working_days_follow_holidays_and_make_up_days(calendar, day, working):
    assert calendar.is_working_day(day) is working


def test_working_hours_skip_the_weekend(calendar):
    # Friday 2026-11-20 16:00 + 6 working hours: 1.5 h on Friday, 4.5 h on Monday from 08:30.
    assert calendar.add_working_hours(at(2026, 11, 20, 16), 6) == at(2026, 11, 23, 13)


def test_working_hours_use_the_make_up_saturday_before_the_spring_festival(calendar):
    assert calendar.add_working_hours(at(2026, 2, 13, 16), 6) == at(2026, 2, 14, 13)


def test_working_hours_jump_the_spring_festival(calendar):
    # Saturday 2026-02-14 (worked) 16:00 + 7 h: 1.5 h that day, then nothing until Tuesday 02-24.
    assert calendar.add_working_hours(at(2026, 2, 14, 16), 7) == at(2026, 2, 24, 14)


def test_time_outside_working_hours_does_not_count(calendar):
    assert calendar.add_working_hours(at(2026, 11, 23, 7, 0), 1) == at(2026, 11, 23, 9, 30)
    assert calendar.add_working_hours(at(2026, 11, 23, 18, 0), 1) == at(2026, 11, 24, 9, 30)
    assert calendar.add_working_hours(at(2026, 11, 23, 17, 30), 9) == at(2026, 11, 24, 17, 30)


def test_working_days_across_the_spring_festival(calendar):
    assert calendar.add_working_days(at(2026, 2, 13, 10), 1) == at(2026, 2, 14, 10)
    assert calendar.add_working_days(at(2026, 2, 13, 10), 2) == at(2026, 2, 24, 10)
    assert calendar.add_working_days(at(2026, 2, 24, 10), -2) == at(2026, 2, 13, 10)


def test_company_closures_are_days_off(calendar):
    calendar.set_closures([date(2026, 11, 23)])
    assert not calendar.is_working_day(date(2026, 11, 23))
    assert calendar.add_working_hours(at(2026, 11, 20, 16), 6) == at(2026, 11, 24, 13)


def test_working_hours_are_configurable():
    short = WorkingCalendar(SHANGHAI, time(9), time(12))
    assert short.add_working_hours(at(2026, 11, 20, 11), 2) == at(2026, 11, 23, 10)


def test_next_working_moment(calendar):
    assert calendar.next_working_moment(at(2026, 10, 1, 10)) == at(2026, 10, 8, 8, 30)
    assert calendar.next_working_moment(at(2026, 10, 8, 10)) == at(2026, 10, 8, 10)
