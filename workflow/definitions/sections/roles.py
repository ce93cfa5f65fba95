"""`roles:` and `open_roles:`."""

from __future__ import annotations

from ..reader import LMap
from ..schema import SYSTEM_ROLE
from .context import Known


def check_roles(k: Known) -> None:
    c, top = k.c, k.top
    raw_roles = c.named(top.get("roles", LMap()), c.at(top, "roles"), "roles")
    for role, role_label in (raw_roles or {}).items():
        role_line = raw_roles.key_lines[role]  # type: ignore[union-attr]
        if role == SYSTEM_ROLE:
            c.add(role_line, "bad_value", "'system' is reserved for the timer runtime and cannot be declared")
        elif c.name(role, role_line, "role"):
            k.roles[role] = c.label(role_label, role_line, f"role {role!r}")


def check_open_roles(k: Known) -> tuple[str, ...]:
    """Who may open a case; empty: whoever may take a step out of the initial state."""
    if "open_roles" not in k.top:
        return ()
    return tuple(k.roles_listed(k.top, "open_roles", "open_roles"))
