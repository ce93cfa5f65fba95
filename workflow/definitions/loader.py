"""Reading and validating workflow definitions (the format is described in docs/definitions.md).

`parse()` never raises on bad input: it returns every problem it finds, each with the file, the line
and a reason, so a process owner can fix a file in one pass. A definition with any problem is not built.

Each section of the format has its checker in `sections/`; this module runs them in the order in which
they depend on each other (a transition names states, a timer names transitions) and builds the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .formats.definition import TOP
from .reader import Checker, DefinitionInvalid, Problem, read_checked
from .schema import Definition, Label
from .sections.access import check_access
from .sections.constants import check_constants
from .sections.context import Known
from .sections.fields import check_field_references, check_fields, check_user_roles
from .sections.guards import check_guards
from .sections.lists import check_series, check_summary, check_unique
from .sections.numbering import check_number
from .sections.roles import check_open_roles, check_roles
from .sections.states import check_states
from .sections.tables import check_tables
from .sections.timers import check_timers
from .sections.transitions import check_transitions

SHIPPED_DIR = Path(__file__).parent

__all__ = ["DefinitionInvalid", "Problem", "load_text", "parse", "shipped_files", "validate_path"]


def _header(k: Known, expected_key: str | None) -> Label:
    """`key`, `source` and the `title`, which it returns."""
    c, top = k.c, k.top
    key = top.get("key")
    if "key" in top and c.name(key, c.at(top, "key"), "key") and expected_key and key != expected_key:
        c.add(c.at(top, "key"), "key_mismatch", f"key {key!r} differs from the file name {expected_key!r}")
    title = c.label(top.get("title"), c.at(top, "title"), "title")
    if "source" in top and not isinstance(top["source"], str):
        c.add(c.at(top, "source"), "bad_value", "source must be text")
    return title


def _parse(c: Checker, doc: Any, expected_key: str | None) -> Definition | None:
    top = c.mapping(doc, 1, "the definition", TOP.allowed, TOP.required)
    if top is None:
        return None
    k = Known(c, top)
    title = _header(k, expected_key)
    check_roles(k)
    check_fields(k)
    check_constants(k)
    check_tables(k)
    series = check_series(k)
    check_field_references(k)
    open_guards = check_guards(k, top.get("open_guards"), "opening a case", set())
    summary, unique = check_summary(k), check_unique(k)
    check_states(k)
    check_transitions(k)
    timers = check_timers(k)
    open_roles = check_open_roles(k)
    number = check_number(k)
    access = check_access(k)
    check_user_roles(k)
    if c.problems or not isinstance(top.get("key"), str):
        return None
    return Definition(
        key=top["key"], title=title, roles=k.roles, fields=k.fields, states=k.states, transitions=k.transitions,
        timers=timers, number=number, source=top.get("source"), open_roles=open_roles, unique=unique,
        series=series, open_guards=tuple(open_guards), access=access, summary=summary, constants=k.constants,
        tables=k.tables,
    )


def parse(
    text: str, filename: str = "<text>", expected_key: str | None = None
) -> tuple[Definition | None, list[Problem]]:
    """Parse and validate one definition. Returns (definition, []) or (None, problems)."""
    return read_checked(text, filename, lambda c, doc: _parse(c, doc, expected_key))


def load_text(text: str, filename: str = "<text>", expected_key: str | None = None) -> Definition:
    definition, problems = parse(text, filename, expected_key)
    if problems:
        raise DefinitionInvalid(problems)
    assert definition is not None
    return definition


def validate_path(path: Path) -> list[Problem]:
    """Validate a file, or every *.yaml file in a folder."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    problems: list[Problem] = []
    for f in files:
        problems += parse(f.read_text(encoding="utf-8"), str(f), expected_key=f.stem)[1]
    return problems


def shipped_files() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.yaml"))
