"""The top-level lists of fields: `series:`, `summary:` and `unique:`."""

from __future__ import annotations

from ..expressions import CONTEXT_FUNCTIONS
from ..formats.definition import SERIES
from ..schema import Series
from .context import Known


def check_series(k: Known) -> Series | None:
    """Cases that follow month by month; their expressions may then read previous('field', n)."""
    c, top = k.c, k.top
    if "series" not in top:
        return None
    sm = c.mapping(top["series"], c.at(top, "series"), "series", SERIES.allowed, SERIES.required)
    if sm is None:
        return None
    keys = k.fields_listed(sm, "key", "series key")
    period = sm.get("period")
    if k.field(period, c.at(sm, "period"), "series period") and keys:
        k.context = CONTEXT_FUNCTIONS
        return Series(tuple(keys), str(period))
    return None


def check_summary(k: Known) -> tuple[str, ...]:
    """The fields a list shows beside the case number, so that staff recognise a case at a glance."""
    return tuple(k.fields_listed(k.top, "summary", "summary"))


def check_unique(k: Known) -> tuple[str, ...]:
    if "unique" not in k.top:
        return ()
    return tuple(k.fields_listed(k.top, "unique", "unique"))
