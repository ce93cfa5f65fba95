"""`timers:`: deadlines on part of the process, what starts and stops them, and what happens at expiry."""

from __future__ import annotations

from typing import Any, Literal, cast

from .. import expressions
from ..formats.definition import DEADLINE, EVENT_KINDS, EXPIRY, LATE_STOP, TIMER
from ..reader import LList, LMap
from ..schema import HOLDERS, LATE_HOLDERS, NOTICES, DateDeadline, Deadline, Duration, Event, TimerSpec
from .context import Known, items_of

EventKind = Literal["enter", "leave", "transition"]
# The longest a date-anchored deadline may run past its date: a year (and a day for a leap year).
MAX_DAYS_AFTER = 366


def check_timers(k: Known) -> tuple[TimerSpec, ...]:
    c, top = k.c, k.top
    raw_timers = top.get("timers", LList())
    if not isinstance(raw_timers, LList):
        c.add(c.at(top, "timers"), "bad_value", "timers must be a list")
    timers: list[TimerSpec] = []
    names: set[str] = set()
    for raw, tline in items_of(raw_timers):
        m = c.mapping(raw, tline, "a timer", TIMER.allowed, TIMER.required)
        if m is None or not c.name(m.get("name"), c.at(m, "name"), "timer name"):
            continue
        if m["name"] in names:
            c.add(c.at(m, "name"), "duplicate_name", f"timer {m['name']!r} is declared twice")
            continue
        names.add(m["name"])
        timers.append(_timer(k, m, tline))
    return tuple(timers)


def _timer(k: Known, m: LMap, tline: int) -> TimerSpec:
    c, name = k.c, m["name"]
    what = f"timer {name!r}"
    start, stop = _events(k, m, "start", what), _events(k, m, "stop", what)
    duration, deadline = _length(k, m, what)
    when = _when(k, m, what)
    warn = c.duration(m["warn_before"], c.at(m, "warn_before"), f"{what} warn_before") if "warn_before" in m else None
    expiry = c.mapping(m.get("on_expiry", LMap()), c.at(m, "on_expiry"), f"{what} on_expiry", EXPIRY.allowed) or LMap()
    if not hasattr(expiry, "key_lines"):
        expiry.key_lines, expiry.line = {}, m.line
    notify = _who(k, expiry, f"{what} notify", (HOLDERS,))
    fire = expiry.get("fire")
    if fire is not None and fire not in k.transitions:
        c.add(c.at(expiry, "fire"), "unknown_transition", f"{what} fires unknown transition {fire!r}")
        fire = None
    repeat = c.duration(expiry["repeat"], c.at(expiry, "repeat"), f"{what} repeat") if "repeat" in expiry else None
    notice = _notice(k, expiry, what)
    late = c.mapping(m.get("on_late_stop", LMap()), c.at(m, "on_late_stop"), f"{what} on_late_stop", LATE_STOP.allowed)
    late = late if late is not None else LMap()
    late_notify = _who(k, late, f"{what} on_late_stop notify", (HOLDERS, LATE_HOLDERS))
    return TimerSpec(
        name=name, label=c.label(m.get("label"), c.at(m, "label"), f"{what} label"),
        start=start, stop=stop, duration=duration, deadline=deadline,
        when=when, warn_before=warn, mark_overdue=c.boolean(expiry, "mark_overdue", what, default=True),
        notify=notify, fire=fire, repeat=repeat, notice=notice,
        late_notice=_notice(k, late, f"{what} on_late_stop"), late_notify=late_notify, line=tline,
    )


def _events(k: Known, m: LMap, side: str, what: str) -> tuple[Event, ...]:
    """The events under `start` or `stop`: one mapping or a list of them, each naming one kind."""
    c = k.c
    if side not in m:
        return ()
    raw = m[side]
    entries = items_of(raw) if isinstance(raw, LList) else [(raw, c.at(m, side))]
    out = []
    for item, item_line in entries:
        em = c.mapping(item, item_line, f"{what} {side}", set(EVENT_KINDS))
        if em is None:
            continue
        if len(em) != 1:
            c.add(em.line, "bad_value", f"{what} {side} must name exactly one of {', '.join(EVENT_KINDS)}")
            continue
        kind, name = next(iter(em.items()))
        line = c.at(em, kind)
        if kind not in EVENT_KINDS or not c.name(name, line, f"{what} {side}"):
            continue
        if kind == "transition" and name not in k.transitions:
            c.add(line, "unknown_transition", f"{what} {side} names unknown transition {name!r}")
        elif kind == "transition" or k.state(name, line, f"{what} {side}"):
            out.append(Event(cast(EventKind, kind), name))
    return tuple(out)


def _length(k: Known, m: LMap, what: str) -> tuple[Duration | None, Deadline | None]:
    c = k.c
    if ("duration" in m) == ("deadline" in m):
        c.add(m.line, "missing_key", f"{what} needs exactly one of 'duration' or 'deadline'")
        return None, None
    if "duration" in m:
        return c.duration(m["duration"], c.at(m, "duration"), f"{what} duration"), None
    dm = c.mapping(m["deadline"], c.at(m, "deadline"), f"{what} deadline", DEADLINE.allowed, DEADLINE.required)
    if dm is None:
        return None, None
    dfield = dm.get("field")
    if dfield not in k.fields:
        c.add(c.at(dm, "field"), "unknown_field", f"{what} deadline names unknown field {dfield!r}")
    if "days_after" in dm:
        return None, _date_deadline(k, dm, what)
    if "months_after" not in dm or "day" not in dm:
        c.add(dm.line, "missing_key", f"{what} deadline needs 'days_after', or both 'months_after' and 'day'")
        return None, None
    ok = _whole_numbers(k, dm, what, (("months_after", 0, 12), ("day", 1, 28)))
    return None, (Deadline(dfield, dm["months_after"], dm["day"]) if ok and dfield in k.fields else None)


def _whole_numbers(k: Known, dm: LMap, what: str, bounds: tuple[tuple[str, int, int], ...]) -> bool:
    ok = True
    for key, lo, hi in bounds:
        v = dm.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            k.c.add(k.c.at(dm, key), "bad_value", f"{what} deadline {key} must be a whole number {lo}–{hi}")
            ok = False
    return ok


def _date_deadline(k: Known, dm: LMap, what: str) -> DateDeadline | None:
    """`{field: DATE_FIELD, days_after: N}`: due when the day N days after the field's date is over."""
    c, dfield = k.c, dm.get("field")
    ok = _whole_numbers(k, dm, what, (("days_after", 0, MAX_DAYS_AFTER),))
    for key in ("months_after", "day"):
        if key in dm:
            c.add(c.at(dm, key), "bad_value", f"{what} deadline: days_after counts from a date; {key} does not apply")
            ok = False
    spec = k.fields.get(dfield) if isinstance(dfield, str) else None
    if spec is not None and spec.type != "date":
        c.add(c.at(dm, "field"), "bad_value",
              f"{what} deadline days_after needs a date field; {dfield!r} is {spec.type}")
        ok = False
    return DateDeadline(spec.name, days_after=dm["days_after"]) if ok and spec is not None else None


def _when(k: Known, m: LMap, what: str) -> str | None:
    text = m.get("when")
    if text is None:
        return None
    try:
        if not isinstance(text, str):
            raise expressions.ExpressionError("guard_syntax", "must be an expression in text")
        return k.expression(text, context=False)
    except expressions.ExpressionError as exc:
        k.c.add(k.c.at(m, "when"), exc.code, f"{what} when: {exc}")
        return text if isinstance(text, str) else None


def _who(k: Known, m: LMap, what: str, allow: tuple[str, ...]) -> tuple[str, ...]:
    if "notify" not in m:
        return ()
    return tuple(k.roles_listed(m, "notify", what, allow))


def _notice(k: Known, m: LMap, what: str) -> Any:
    value = m.get("notice")
    if value is not None and value not in NOTICES:
        k.c.add(k.c.at(m, "notice"), "bad_value", f"{what} notice {value!r} must be one of {', '.join(NOTICES)}")
        return None
    return value
