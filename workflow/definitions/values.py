"""The field type system: turning submitted values into typed ones, and typed ones into JSON.

Case data is stored as JSON in canonical text forms (ISO dates, decimals as strings, so that no
amount loses a cent), and handed to guards as typed Python values.

Every value is bounded whatever its definition says; a definition's `min`/`max` may only tighten the bounds
below (docs/operations.md, "Input limits"). Nothing unbounded reaches the history, which is kept forever,
or the guards' arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .schema import FieldSpec

# What a supervisor records on a score sheet (the engine adds the computed "result").
SCORESHEET_KEYS = {"occurrences", "bands", "goal_scores", "adjustments"}

# Lengths in characters when the definition gives no `max`: a one-line string is a name, a number or an
# address (the longest shipped one allows 300); a text is a few pages (the longest shipped one allows 4,000).
MAX_STRING = 500
MAX_TEXT = 10_000
# The column that stores an integer (JSON in SQLite and PostgreSQL, BIGINT wherever one is copied) holds 64 bits.
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
# Decimals are amounts in yuan, hours, scores and coefficients: a loss of 999 trillion yuan or 6 decimal
# places (money needs 2, rates 4) is beyond any of them. 15 significant integer digits is also what a
# spreadsheet (an IEEE double) keeps exactly, so every exported amount reads back as it was entered.
DECIMAL_INTEGER_DIGITS = 15
DECIMAL_PLACES = 6
# Plain ASCII digits only: int() and Decimal() also take "１２", "1_000", " 1e9" and "NaN".
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,15}(\.[0-9]{0,6})?|\.[0-9]{1,6})")
# A month: YYYY-MM. A string field with exactly this pattern (the appraisal's `period`) is a month, and its
# year is bounded like a date's, because deadlines are computed from it.
PERIOD_PATTERN = "[0-9]{4}-(0[1-9]|1[0-2])"
# A file input's value: the reference to an attachment stored by the SHA-256 of its content.
FILE_KEYS = frozenset({"sha256", "name", "type", "size"})
MAX_FILE_NAME = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]{1,100}")


@dataclass(frozen=True)
class YearRange:
    """The years a date, datetime or month may fall in. Far from datetime's own ends (1 and 9999), so that a
    deadline or a month's end computed from any accepted value is still a datetime."""

    first: int = 2000
    last: int = 2100

    def __post_init__(self) -> None:
        if not 1000 <= self.first <= self.last <= 9000:
            raise ValueError(f"a year range is FIRST-LAST within 1000-9000, not {self.first}-{self.last}")

    @classmethod
    def parse(cls, text: str) -> YearRange:
        """From the setting's form, "2000-2100"."""
        first, sep, last = text.partition("-")
        if not (sep and first.strip().isdigit() and last.strip().isdigit()):
            raise ValueError(f"a year range is written FIRST-LAST, e.g. 2000-2100, not {text!r}")
        return cls(int(first), int(last))


# Process-wide: set once at start-up by the application factory from the WORKFLOW_YEARS setting.
_years = YearRange()


def years() -> YearRange:
    return _years


def set_years(allowed: YearRange) -> None:
    global _years
    _years = allowed


class InvalidValue(ValueError):
    """A value that does not fit its field; `messages` holds the reason in each language."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.messages = {"en": en, "zh": zh}


def check_year(year: int) -> None:
    allowed = years()
    if not allowed.first <= year <= allowed.last:
        raise InvalidValue(f"must be in the years {allowed.first} to {allowed.last}",
                           f"年份须在 {allowed.first} 至 {allowed.last} 之间")


def parse_month(raw: Any) -> tuple[int, int]:
    """(year, month) of a month written YYYY-MM within the allowed years; InvalidValue otherwise."""
    if not isinstance(raw, str) or not re.fullmatch(PERIOD_PATTERN, raw):
        raise InvalidValue("must be a month written YYYY-MM", "须为月份，格式 YYYY-MM")
    year, month = int(raw[:4]), int(raw[5:])
    check_year(year)
    return year, month


def check_text(raw: str, limit: int) -> None:
    """Text any database stores and anyone can read back: bounded, without NUL, encodable as UTF-8."""
    if len(raw) > limit:
        raise InvalidValue(f"must be at most {limit} characters long", f"长度不能超过{limit}个字符")
    if "\x00" in raw:  # no database keeps it, and nobody types it
        raise InvalidValue("must not contain a NUL character", "不能包含 NUL 字符")
    if not raw.isascii():
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") from JSON: no UTF-8 text holds it
            raise InvalidValue("contains a character that is not text", "包含无效字符") from None


def _integer(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise InvalidValue("must be a whole number", "必须是整数")
    if isinstance(raw, str) and not _INTEGER.fullmatch(raw.strip()):
        raise InvalidValue("must be a whole number", "必须是整数")
    number = int(raw.strip()) if isinstance(raw, str) else raw
    if not MIN_INTEGER <= number <= MAX_INTEGER:
        raise InvalidValue("is too large a number", "数值过大")
    return number


def _decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InvalidValue("must be a number", "必须是数字")
    if isinstance(raw, str):
        text = raw.strip()
        # Bounded before it is matched or parsed: "1" * 200000 is refused here, cheaply.
        if len(text) > 40 or not _DECIMAL.fullmatch(text):
            raise InvalidValue(
                f"must be a number with at most {DECIMAL_INTEGER_DIGITS} digits before the point and "
                f"{DECIMAL_PLACES} after it, without an exponent",
                f"必须是数字：整数部分最多{DECIMAL_INTEGER_DIGITS}位，小数最多{DECIMAL_PLACES}位，不能使用指数",
            )
        return Decimal(text)
    # A JSON number: repr() is the shortest text that reads back as the same float (1e+16 for 10**16).
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation:
        raise InvalidValue("must be a number", "必须是数字") from None
    if not value.is_finite():
        raise InvalidValue("must be a number", "必须是数字")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if value.adjusted() >= DECIMAL_INTEGER_DIGITS or -exponent > DECIMAL_PLACES:
        raise InvalidValue(
            f"must have at most {DECIMAL_INTEGER_DIGITS} digits before the point and {DECIMAL_PLACES} after it",
            f"整数部分最多{DECIMAL_INTEGER_DIGITS}位，小数最多{DECIMAL_PLACES}位",
        )
    return value


def _text(spec: FieldSpec, raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("must be text", "必须是文本")
    value = raw.strip() if spec.type == "string" else raw
    # The definition's own `max` is checked with the other bounds; this cap holds when it has none.
    check_text(value, MAX_STRING if spec.type == "string" else MAX_TEXT)
    if spec.pattern == PERIOD_PATTERN:
        parse_month(value)
    return value


def _date(raw: Any) -> date:
    try:
        day = date.fromisoformat(raw) if isinstance(raw, str) else _raise()
    except (ValueError, TypeError):
        raise InvalidValue("must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）") from None
    check_year(day.year)
    return day


def _datetime(raw: Any, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else _raise()
    except (ValueError, TypeError):
        raise InvalidValue(
            "must be a date and time (ISO 8601)", "必须是日期时间（ISO 8601）"
        ) from None
    check_year(moment.year)
    # A time without an offset is the organisation's local time: that is what staff type.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _parse(spec: FieldSpec, raw: Any, tz: ZoneInfo) -> Any:
    t = spec.type
    if t in ("string", "text"):
        return _text(spec, raw)
    if t == "integer":
        return _integer(raw)
    if t == "decimal":
        return _decimal(raw)
    if t == "date":
        return _date(raw)
    if t == "datetime":
        return _datetime(raw, tz)
    if t == "enum":
        assert spec.choices is not None
        if not isinstance(raw, str) or raw not in spec.choices:  # a list or an object is no choice (nor hashable)
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
    if t == "file":
        return _file(spec, raw)
    raise AssertionError(f"unknown field type {t}")


def _file(spec: FieldSpec, raw: Any) -> dict[str, Any]:
    """A reference to a stored attachment. Only its shape here: the web layer makes it, from an upload it
    checked or from a file the case already records (workflow/engine/attachments.py), never from the client."""
    if not isinstance(raw, dict) or set(raw) != FILE_KEYS:
        raise InvalidValue("must be a file", "必须是文件")
    sha, name, kind, size = raw["sha256"], raw["name"], raw["type"], raw["size"]
    if not (isinstance(sha, str) and _SHA256.fullmatch(sha) and isinstance(name, str) and 0 < len(name) <= MAX_FILE_NAME
            and isinstance(kind, str) and _MEDIA_TYPE.fullmatch(kind)
            and isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_INTEGER):
        raise InvalidValue("must be a file", "必须是文件")
    check_text(name, MAX_FILE_NAME)
    if spec.accept is not None and kind not in spec.accept:
        raise InvalidValue(f"must be a file of type {', '.join(spec.accept)}, not {kind}",
                           f"文件类型须为 {'、'.join(spec.accept)}，而不是 {kind}")
    return {"sha256": sha, "name": name, "type": kind, "size": size}


def _raise() -> Any:
    raise TypeError


def _bounds(spec: FieldSpec, value: Any) -> None:
    measured = len(value) if spec.type in ("string", "text") else value
    what_en, what_zh = ("length", "长度") if spec.type in ("string", "text") else ("value", "值")
    if spec.type == "file":
        measured, what_en, what_zh = value["size"], "size in bytes", "文件字节数"
    low = coerce_bound(spec, spec.min)
    high = coerce_bound(spec, spec.max)
    if low is not None and measured < low:
        raise InvalidValue(f"{what_en} must be at least {spec.min}", f"{what_zh}不能小于{spec.min}")
    if high is not None and measured > high:
        raise InvalidValue(f"{what_en} must be at most {spec.max}", f"{what_zh}不能大于{spec.max}")


def coerce_bound(spec: FieldSpec, bound: Any) -> Any:
    """A min/max as the type it is compared with (lengths stay integers)."""
    if bound is None or spec.type in ("string", "text", "integer", "file"):
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
