"""Months (YYYY-MM), such as a monthly case's and those of the SLA figures: one parser for every caller, so that
the API, the UI, the CLI and the engine accept the same months. Their years are those any date may have
(`values.years()`, the WORKFLOW_YEARS setting), since deadlines and month ends are computed from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..definitions.values import InvalidValue, parse_month, years
from .errors import WorkflowError


class InvalidPeriod(WorkflowError):
    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)


def parse_period(raw: Any, field: str = "month") -> Period:
    """The month `raw` names, or InvalidPeriod saying which months there are (about `field`)."""
    try:
        year, month = parse_month(raw)
    except InvalidValue as exc:
        allowed = years()
        shown = repr(raw)[:20] if isinstance(raw, str) else type(raw).__name__
        raise InvalidPeriod(
            f"{field} {shown} is not a month from {allowed.first}-01 to {allowed.last}-12 (YYYY-MM)",
            f"{field} {shown} 不是 {allowed.first}-01 至 {allowed.last}-12 之间的月份（YYYY-MM）",
            {field: exc.messages},
        ) from None
    return Period(year, month)
