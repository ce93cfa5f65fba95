"""What the slices (web/slices.py) add to the core pages: menu entries in the header — each names its page,
its label (a msgid of the slice's catalog) and who sees it, a function of the signed-in user that asks the
engine's policy, so the menu shows exactly the pages the user may open — and panels on the case page (a
template of the slice's and the function that gives it its context, or None to show nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask_babel import gettext
from flask_login import current_user


@dataclass(frozen=True)
class Entry:
    endpoint: str
    label: str
    visible: Callable[[], bool]
    prefix: str  # the endpoints that mark this entry as the current page


ENTRIES: list[Entry] = []


def add(endpoint: str, label: str, visible: Callable[[], bool], prefix: str | None = None) -> None:
    if all(e.endpoint != endpoint for e in ENTRIES):
        ENTRIES.append(Entry(endpoint, label, visible, prefix or endpoint))


def entries() -> list[dict[str, object]]:
    if not current_user.is_authenticated:
        return []
    here = request.endpoint or ""
    return [{"href": url_for(e.endpoint), "label": gettext(e.label), "current": here.startswith(e.prefix)}
            for e in ENTRIES if e.visible()]


CasePanel = Callable[[Any], "dict[str, Any] | None"]
CASE_PANELS: list[tuple[str, CasePanel]] = []


def add_case_panel(template: str, context: CasePanel) -> None:
    if all(t != template for t, _ in CASE_PANELS):
        CASE_PANELS.append((template, context))


def case_panels(case: Any) -> list[tuple[str, dict[str, Any]]]:
    """The panels to show on `case`'s page, each with its context."""
    shown = []
    for template, context in CASE_PANELS:
        values = context(case)
        if values is not None:
            shown.append((template, values))
    return shown
