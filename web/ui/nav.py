"""Menu entries that the slices add to the header (web/slices.py): each names its page, its label (a
msgid of the slice's catalog) and who sees it — a function of the signed-in user that asks the engine's
policy, so the menu shows exactly the pages the user may open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
