"""`number:`: the pattern of case numbers, when the sequence restarts, and which step assigns it."""

from __future__ import annotations

import re

from ..formats.definition import NUMBER_SHAPE
from ..schema import NumberSpec
from .context import Known

_NUMBER_TOKEN = re.compile(r"\{([^{}]*)\}")
_NUMBER_TOKENS = re.compile(r"^(YYYY|YY|MM|DD|seq|seq:\d+)$")


def check_number(k: Known) -> NumberSpec | None:
    c, top = k.c, k.top
    if "number" not in top:
        return None
    nm = c.mapping(top["number"], c.at(top, "number"), "number", NUMBER_SHAPE.allowed, NUMBER_SHAPE.required)
    if nm is None:
        return None
    pattern = nm.get("pattern")
    tokens = _NUMBER_TOKEN.findall(pattern) if isinstance(pattern, str) else []
    bad = [t for t in tokens if not _NUMBER_TOKENS.match(t)]
    if not isinstance(pattern, str) or bad or not any(t.startswith("seq") for t in tokens):
        c.add(c.at(nm, "pattern"), "bad_number_pattern",
              f"number pattern {pattern!r} needs {{seq}} (or {{seq:N}}) and may use only "
              "{YYYY} {YY} {MM} {DD}" + (f"; unknown: {', '.join(bad)}" if bad else ""))
    reset = nm.get("reset", "never")
    if reset not in ("monthly", "yearly", "never"):
        c.add(c.at(nm, "reset"), "bad_value", f"number reset {reset!r} must be monthly, yearly or never")
    assign_on = nm.get("assign_on", "create")
    if assign_on != "create" and assign_on not in k.transitions:
        c.add(c.at(nm, "assign_on"), "unknown_transition", f"number assign_on names unknown transition {assign_on!r}")
    return NumberSpec(str(pattern), reset, assign_on)
