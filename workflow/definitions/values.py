"""The field type system: turning submitted values into typed ones, and typed ones into JSON.

Case data is stored as JSON in canonical text forms (ISO dates, decimals as strings, so that no
amount loses a cent), and handed to guards as typed Python values.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .schema import FieldSpec

# What a supervisor records on a score sheet (the engine adds the computed "result").
SCORESHEET_KEYS = {"occurrences", "bands", "goal_scores", "adjustments"}


class InvalidValue(ValueError):
    """A value that does not fit its field; `messages` holds the reason in each language."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.messages = {"en": en, "zh": zh}


def _parse(spec: FieldSpec, raw: Any, tz: ZoneInfo) -> Any:
    t = spec.type
    if t in ("string", "text"):
        if not isinstance(raw, str):
            raise InvalidValue("must be text", "必须是文本")
        if "\x00" in raw:  # no database keeps it, and nobody types it
            raise InvalidValue("must not contain a NUL character", "不能包含 NUL 字符")
        return raw.strip() if t == "string" else raw
    if t == "integer":
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise InvalidValue("must be a whole number", "必须是整数")
        try:
            return int(raw)
        except ValueError:
            raise InvalidValue("must be a whole number", "必须是整数") from None
    if t == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise InvalidValue("must be a number", "必须是数字")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise InvalidValue("must be a number", "必须是数字") from None
        if not value.is_finite():
            raise InvalidValue("must be a number", "必须是数字")
        return value
    if t == "date":
        try:
            return date.fromisoformat(raw) if isinstance(raw, str) else _raise()
        except (ValueError, TypeError):
            raise InvalidValue("must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）") from None
    if t == "datetime":
        try:
            moment = datetime.fromisoformat(raw) if isinstance(raw, str) else _raise()
        except (ValueError, TypeError):
            raise InvalidValue(
                "must be a date and time (ISO 8601)", "必须是日期时间（ISO 8601）"
            ) from None
        # A time without an offset is the organisation's local time: that is what staff type.
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)
    if t == "enum":
        assert spec.choices is not None
        if raw not in spec.choices:
            raise InvalidValue(
                f"must be one of: {', '.join(spec.choices)}", f"必须是以下之一：{', '.join(spec.choices)}"
            )
        return raw
    if t == "boolean":
        if not isinstance(raw, bool):
            raise InvalidValue("must be true or false", "必须是是或否")
        return raw
    if t == "scoresheet":
        # Only the shape here; the engine scores it against its template.
        if not isinstance(raw, dict) or set(raw) - SCORESHEET_KEYS:
            raise InvalidValue(
                f"must be an object with any of: {', '.join(sorted(SCORESHEET_KEYS))}",
                f"必须是包含以下内容的对象：{', '.join(sorted(SCORESHEET_KEYS))}",
            )
        return {k: raw[k] for k in sorted(raw)}
    raise AssertionError(f"unknown field type {t}")


def _raise() -> Any:
    raise TypeError


def _bounds(spec: FieldSpec, value: Any) -> None:
    measured = len(value) if spec.type in ("string", "text") else value
    what_en, what_zh = ("length", "长度") if spec.type in ("string", "text") else ("value", "值")
    low = coerce_bound(spec, spec.min)
    high = coerce_bound(spec, spec.max)
    if low is not None and measured < low:
        raise InvalidValue(f"{what_en} must be at least {spec.min}", f"{what_zh}不能小于{spec.min}")
    if high is not None and measured > high:
        raise InvalidValue(f"{what_en} must be at most {spec.max}", f"{what_zh}不能大于{spec.max}")


def coerce_bound(spec: FieldSpec, bound: Any) -> Any:
    """A min/max as the type it is compared with (lengths stay integers)."""
    if bound is None or spec.type in ("string", "text", "integer"):
        return bound
    if spec.type == "decimal":
        return Decimal(str(bound))
    if spec.type == "date":
        return bound if isinstance(bound, date) else date.fromisoformat(str(bound))
    if spec.type == "datetime":
        return bound if isinstance(bound, datetime) else datetime.fromisoformat(str(bound))
    return bound


def coerce(spec: FieldSpec, raw: Any, tz: ZoneInfo) -> Any:
    """Check `raw` against `spec` and return the typed value; raise InvalidValue with the reason."""
    value = _parse(spec, raw, tz)
    _bounds(spec, value)
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise InvalidValue(f"does not have the expected form ({spec.pattern})", f"格式不正确（{spec.pattern}）")
    return value


def to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def from_json(spec: FieldSpec, stored: Any) -> Any:
    if stored is None:
        return None
    if spec.type == "decimal":
        return Decimal(stored)
    if spec.type == "date":
        return date.fromisoformat(stored)
    if spec.type == "datetime":
        return datetime.fromisoformat(stored)
    return stored
