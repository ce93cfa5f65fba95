"""The organisation's working calendar: which days are worked, and which hours of them.

Public holidays and the weekend days worked in their place (调休) come from the maintained
`holidays` package; the company adds its own closures on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays


class WorkingCalendar:
    def __init__(
        self,
        tz: ZoneInfo,
        day_start: time = time(8, 30),
        day_end: time = time(17, 30),
        country: str = "CN",
        closures: Iterable[date] = (),
    ):
        if day_end <= day_start:
            raise ValueError("the working day must end after it starts")
        self.tz = tz
        self.day_start = day_start
        self.day_end = day_end
        self.closures = frozenset(closures)
        self._holidays = holidays.country_holidays(country)

    def set_closures(self, days: Iterable[date]) -> None:
        self.closures = frozenset(days)

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` if it falls on a working day, else the start of the next working day."""
        local = moment.astimezone(self.tz)
        if self.is_working_day(local.date()):
            return moment
        day = local.date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return self._bounds(day)[0].astimezone(UTC)

    def is_working_day(self, day: date) -> bool:
        return day not in self.closures and self._holidays.is_working_day(day)

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.day_start, self.tz),
            datetime.combine(day, self.day_end, self.tz),
        )

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time of day on the `days`-th working day after `start`'s date."""
        local = start.astimezone(self.tz)
        day = local.date()
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return datetime.combine(day, local.timetz().replace(tzinfo=None), self.tz).astimezone(UTC)

    def add_working_hours(self, start: datetime, hours: int) -> datetime:
        """`start` plus `hours` of working time; time outside working hours does not count."""
        left = timedelta(hours=abs(hours))
        moment = start.astimezone(self.tz)
        forward = hours >= 0
        day = moment.date()
        while True:
            if self.is_working_day(day):
                open_, close = self._bounds(day)
                if forward:
                    begin = max(moment, open_)
                    if begin < close:
                        if begin + left <= close:
                            return (begin + left).astimezone(UTC)
                        left -= close - begin
                else:
                    end = min(moment, close)
                    if end > open_:
                        if end - left >= open_:
                            return (end - left).astimezone(UTC)
                        left -= end - open_
            day += timedelta(days=1 if forward else -1)
            moment = self._bounds(day)[0] if forward else self._bounds(day)[1]
