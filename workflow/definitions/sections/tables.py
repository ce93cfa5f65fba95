"""`tables:`: decision tables, a rule written once (the cause decides the charge; the loss amount, the approver)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..formats.definition import RANGE, TABLE
from ..reader import Checker, LList, LMap
from ..schema import TableSpec
from .constants import free_name, scalar
from .context import Known, items_of


def check_tables(k: Known) -> None:
    c, top = k.c, k.top
    if "tables" not in top:
        return
    m = c.named(top["tables"], c.at(top, "tables"), "tables")
    for name, raw in (m or {}).items():
        line = m.key_lines[name]  # type: ignore[union-attr]
        if not free_name(k, name, line, "table"):
            continue
        table = _table(k, name, raw, line)
        if table is not None:
            k.tables[name] = table


def _table(k: Known, name: str, raw: Any, line: int) -> TableSpec | None:
    c, what = k.c, f"table {name!r}"
    tm = c.mapping(raw, line, what, TABLE.allowed, TABLE.required)
    if tm is None or not k.field(tm.get("by"), c.at(tm, "by"), f"{what} by"):
        return None
    by = k.fields[tm["by"]]
    gives = tm.get("gives")
    allowed = None
    if gives is not None:
        if not k.field(gives, c.at(tm, "gives"), f"{what} gives"):
            return None
        allowed = tuple(k.fields[gives].choices or ())
        if not allowed:
            c.add(c.at(tm, "gives"), "bad_value", f"{what} gives {gives!r}, which is not an enum field")
            return None
    if ("rows" in tm) == ("ranges" in tm):
        c.add(tm.line, "missing_key", f"{what} needs exactly one of 'rows' (by an enum or string field) or 'ranges'")
        return None
    if "rows" in tm:
        rows = _rows(k, tm, by.choices, by.type, what, allowed)
        return None if rows is None else TableSpec(name, by.name, rows=rows, gives=gives, line=line)
    ranges = _ranges(c, tm, by.type, what, allowed)
    return None if ranges is None else TableSpec(name, by.name, ranges=ranges, gives=gives, line=line)


def _value(c: Checker, value: Any, line: int, what: str, allowed: tuple[str, ...] | None) -> tuple[bool, Any]:
    ok, typed = scalar(c, value, line, what)
    if ok and allowed is not None and typed not in allowed:
        c.add(line, "bad_value", f"{what} {value!r} is not one of {', '.join(allowed)}")
        return False, None
    return ok, typed


def _rows(
    k: Known, tm: LMap, choices: dict[str, Any] | None, by_type: str, what: str, allowed: tuple[str, ...] | None
) -> tuple[tuple[str, Any], ...] | None:
    c = k.c
    if by_type not in ("enum", "string"):
        c.add(c.at(tm, "rows"), "bad_value", f"{what}: rows look up an enum or string field, not a {by_type} one")
        return None
    raw = c.named(tm["rows"], c.at(tm, "rows"), f"{what} rows")
    if raw is None:
        return None
    rows, ok = [], True
    for key, value in raw.items():
        line = raw.key_lines[key]
        if choices is not None and key not in choices:
            c.add(line, "bad_value", f"{what} has a row for {key!r}, which is not a choice of {tm['by']!r}")
            ok = False
            continue
        good, typed = _value(c, value, line, f"{what} row {key!r}", allowed)
        ok = ok and good
        rows.append((key, typed))
    # A decision table over an enum decides every case: a choice without a row is a gap, not a default.
    for missing in [choice for choice in choices or () if choice not in raw]:
        c.add(c.at(tm, "rows"), "bad_value", f"{what} has no row for {missing!r}, a choice of {tm['by']!r}")
        ok = False
    return tuple(rows) if ok else None


def _ranges(
    c: Checker, tm: LMap, by_type: str, what: str, allowed: tuple[str, ...] | None
) -> tuple[tuple[Decimal, Any], ...] | None:
    if by_type not in ("integer", "decimal"):
        c.add(c.at(tm, "ranges"), "bad_value",
              f"{what}: ranges look up an integer or decimal field, not a {by_type} one")
        return None
    if not isinstance(tm["ranges"], LList) or not tm["ranges"]:
        c.add(c.at(tm, "ranges"), "bad_value", f"{what} ranges must be a non-empty list")
        return None
    ranges: list[tuple[Decimal, Any]] = []
    ok = True
    for raw, line in items_of(tm["ranges"]):
        rm = c.mapping(raw, line, f"a range of {what}", RANGE.allowed, RANGE.required)
        if rm is None or "from" not in rm or "value" not in rm:
            ok = False
            continue
        bound = rm["from"]
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            c.add(c.at(rm, "from"), "bad_value", f"a range of {what}: from must be a number, not {bound!r}")
            ok = False
            continue
        good, typed = _value(c, rm["value"], c.at(rm, "value"), f"a range of {what}: value", allowed)
        if ranges and Decimal(str(bound)) <= ranges[-1][0]:
            c.add(c.at(rm, "from"), "bad_value", f"the ranges of {what} must go from the lowest bound up")
            good = False
        ok = ok and good
        ranges.append((Decimal(str(bound)), typed))
    return tuple(ranges) if ok else None
