"""`access:`: who reads the cases, beyond the auditors who read everything."""

from __future__ import annotations

from ..formats.definition import ACCESS
from ..schema import AccessSpec
from .context import Known


def check_access(k: Known) -> AccessSpec:
    c, top = k.c, k.top
    if "access" not in top:
        return AccessSpec()
    m = c.mapping(top["access"], c.at(top, "access"), "access", ACCESS.allowed)
    if m is None:
        return AccessSpec()

    def roles(key: str) -> tuple[str, ...]:
        return tuple(k.roles_listed(m, key, f"access {key}"))

    department_field = m.get("department_field")
    if department_field is not None and not k.field(
            department_field, c.at(m, "department_field"), "access department_field"):
        department_field = None
    department_roles = roles("department_roles")
    if department_roles and department_field is None:
        c.add(c.at(m, "department_roles"), "bad_value",
              "access department_roles need a department_field naming the case's department")
    return AccessSpec(
        readers=roles("readers") if "readers" in m else None,
        people=tuple(k.fields_listed(m, "people", "access people")),
        department_field=department_field, department_roles=department_roles, managers=roles("managers"),
    )
