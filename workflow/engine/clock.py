"""Time as the engine sees it: the organisation's time zone, its working calendar, and `now`.

Passing a Clock into every operation keeps "now" injectable, so tests and the timer worker's
`--now` can ask what is due at any moment without patching the system clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from .calendar import WorkingCalendar


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Clock:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    calendar: WorkingCalendar | None = None
    now_fn: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        if self.calendar is None:
            self.calendar = WorkingCalendar(tz=self.tz)

    def now(self) -> datetime:
        return self.now_fn().astimezone(UTC)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)
