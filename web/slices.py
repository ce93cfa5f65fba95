"""The feature slices beside the core pages and API: each is a package `web/<slice>/` whose optional
modules register themselves — `api` (routes on the API blueprint), `ui` (pages on the UI blueprint,
menu entries in web/ui/nav.py), `cli` (`GROUPS`: new command groups; `COMMANDS`: group name → commands
added to a core group). Each slice may have its own Chinese catalog, web/translations/zh/LC_MESSAGES/
<slice>.po (its gettext domain)."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

SLICES = ("appraisal", "penalties", "service", "audit", "workbench", "desk")
DOMAINS = ("messages", *SLICES)


def modules(part: str) -> list[ModuleType]:
    """The `web.<slice>.<part>` modules that exist, imported (which registers them)."""
    found = []
    for name in SLICES:
        dotted = f"web.{name}.{part}"
        if importlib.util.find_spec(dotted) is not None:
            found.append(importlib.import_module(dotted))
    return found
