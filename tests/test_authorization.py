"""The authorization matrix, generated from the shipped definitions.

For every workflow, one case is opened; then every role the definition declares, a user with no role of
it, an auditor and an auditor who holds another role too call every endpoint that reads or writes that
case. What each should get is worked out here from the definition's `access:` data by the rules of
docs/definitions.md (not by asking the engine's policy), and the API and the UI must agree with it:
200 for a reader, 404 for anyone else (a case they may not see does not exist for them), and for a step
403 for a reader without a role that takes it, with the case and its history unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bench.routes import ROUTES, STAFF
from web.extensions import db
from workflow.appraisal import set_staff
from workflow.definitions import Definition, load_text, shipped_files

from .conftest import snapshot

DEFINITIONS: dict[str, Definition] = {
    f.stem: load_text(f.read_text("utf-8"), str(f), f.stem) for f in shipped_files()
}
OTHER_DEPARTMENT = "Quality"


def expected_readers(definition: Definition) -> set[str]:
    """The roles that read every case: `access.readers`, else every declared role but the department roles."""
    access = definition.access
    if access.readers is not None:
        return set(access.readers)
    return set(definition.roles) - set(access.department_roles)


def callers(definition: Definition) -> dict[str, tuple[str, ...]]:
    """user name -> roles: one user per role, someone with none of them, an auditor, an auditor who is more."""
    route = ROUTES[definition.key]
    users = {role: (role,) for role in definition.roles}
    users["outsider"] = ("outsider",)
    users["auditor"] = ("auditor",)
    users[f"auditor_{route.opener}"] = ("auditor", route.opener)
    if definition.access.department_roles:  # the same role, in another department
        users.update({f"{role}_elsewhere": (role,) for role in definition.access.department_roles})
    return users


def may_see(definition: Definition, case: dict[str, Any], user: str, roles: tuple[str, ...],
            departments: dict[str, str]) -> bool:
    access = definition.access
    if "auditor" in roles or set(roles) & expected_readers(definition):
        return True
    if any(case["data"].get(f) == user for f in access.people):
        return True
    in_department = access.department_field and departments.get(user) == case["data"].get(access.department_field)
    return bool(set(roles) & set(access.department_roles) and in_department)


def open_world(api, keys: list[str]) -> tuple[dict[str, Any], dict[str, tuple[str, ...]], dict[str, str]]:
    """The callers of these workflows, the staff register, and one case of each opened along its bench route."""
    departments: dict[str, str] = {}
    users: dict[str, tuple[str, ...]] = {}
    for key in keys:
        for name, roles in callers(DEFINITIONS[key]).items():
            users[name] = roles
            api.user(name, *roles)
    for name, department, template, pay, supervisor in STAFF:
        api.user(name)
        set_staff(db.session, name, department, template, Decimal(pay), supervisor)
        departments[name] = department
    for role in DEFINITIONS["appraisal"].access.department_roles:
        api.user(f"{role}_elsewhere", role)
        set_staff(db.session, f"{role}_elsewhere", OTHER_DEPARTMENT, "field_service", Decimal("1000"), "hr")
        departments[f"{role}_elsewhere"] = OTHER_DEPARTMENT
    db.session.commit()
    cases = {key: api.open(ROUTES[key].opener, key, ROUTES[key].opening(0)) for key in keys}
    return cases, users, departments


@pytest.fixture
def world(api):
    return open_world(api, list(DEFINITIONS))


MATRIX = [(key, user) for key, definition in DEFINITIONS.items() for user in callers(definition)]


@pytest.mark.parametrize("key, user", MATRIX)
def test_reading_a_case_follows_the_definitions_access(api, key, user):
    cases, users, departments = open_world(api, [key])
    definition, case = DEFINITIONS[key], cases[key]
    status = 200 if may_see(definition, case, user, users[user], departments) else 404
    base = f"/api/v1/cases/{case['id']}"
    for path in (base, f"{base}/history", f"{base}/diagram.svg"):
        assert api.get(user, path).status_code == status, (path, user)
    listed = {c["id"] for c in api.get(user, f"/api/v1/cases?workflow={key}&per_page=500").get_json()["items"]}
    assert (case["id"] in listed) == (status == 200)
    if key == "appraisal":
        assert api.get(user, f"{base}/evidence").status_code == status


@pytest.mark.parametrize("key, user", MATRIX)
def test_a_step_is_refused_to_all_but_its_roles_and_changes_nothing(api, key, user):
    cases, users, departments = open_world(api, [key])
    definition, case = DEFINITIONS[key], cases[key]
    roles = users[user]
    visible = may_see(definition, case, user, roles, departments)
    for transition in definition.transitions_from(case["state"]):
        if visible and "auditor" not in roles and set(roles) & set(transition.roles):
            continue  # a holder of the role: the path suites walk what happens then
        before = snapshot(case["id"])
        response = api.post(user, f"/api/v1/cases/{case['id']}/actions/{transition.name}",
                            {"inputs": {}, "expected_version": case["lock_version"]})
        assert response.status_code == (403 if visible else 404), (transition.name, response.get_json())
        assert snapshot(case["id"]) == before


def test_an_actionable_list_holds_only_cases_the_caller_may_see(api, world):
    cases, _, _ = world
    sheet = cases["appraisal"]
    api.user("supervisor_other", "supervisor")
    for user, expected in (("supervisor", True), ("supervisor_other", False), ("dept_head", False)):
        items = api.get(user, "/api/v1/cases?actionable=true&workflow=appraisal").get_json()["items"]
        assert (sheet["id"] in {c["id"] for c in items}) == expected, user


def test_a_list_page_is_full_although_hidden_cases_come_first(api, world):
    """Lists filter in SQL: a page of 2 holds 2 visible cases even when newer hidden ones exist."""
    cases, _, _ = world
    for _ in range(3):  # two older visible cases and newer sheets the clerk may not see
        api.open("service_clerk", "repair_dispatch", ROUTES["repair_dispatch"].opening(0))
    page = api.get("service_clerk", "/api/v1/cases?per_page=2").get_json()
    assert len(page["items"]) == 2 and page["total"] >= 4
    assert all(c["workflow"] != "appraisal" for c in page["items"])


# -- the appraisal month and the people on a sheet -----------------------------------------------

MONTH = "/api/v1/appraisal/departments/{department}/months/2026-11"


@pytest.mark.parametrize("user, status", [
    ("hr", 200), ("auditor", 200), ("dept_head", 200), ("dept_head_elsewhere", 403), ("supervisor", 403),
    ("employee", 403), ("outsider", 403),
])
def test_a_department_month_is_for_hr_auditors_and_its_own_head(api, world, user, status):
    response = api.get(user, MONTH.format(department="After-sales service"))
    assert response.status_code == status, response.get_json()


def test_an_auditor_who_is_hr_too_changes_nothing(api, world):
    api.user("hr_auditor", "hr", "auditor")
    url = MONTH.format(department="After-sales service") + "/coefficient"
    response = api.client.put(url, json={"coefficient": "1.2"}, headers=api.headers("hr_auditor"))
    assert response.status_code == 403
    assert api.get("hr", MONTH.format(department="After-sales service")).get_json()["coefficient"] == "1"
    opened = api.post("hr_auditor", "/api/v1/appraisal/months", {"department": "After-sales service",
                                                                  "period": "2026-10"})
    assert opened.status_code == 403


def sheet_for(employee: str, supervisor: str, department: str = "After-sales service") -> dict[str, Any]:
    return {"employee": employee, "supervisor": supervisor, "department": department, "period": "2026-10",
            "template": "field_service"}


@pytest.mark.parametrize("opener, data, field", [
    ("supervisor_other", sheet_for("employee", "supervisor_other"), "supervisor"),  # not the register's
    ("supervisor_other", sheet_for("employee", "supervisor"), "supervisor"),  # for someone else's report
    ("hr", sheet_for("ghost", "supervisor"), "employee"),  # no such user
    ("hr", sheet_for("outsider", "supervisor"), "employee"),  # not an employee on the register
    ("hr", sheet_for("employee", "supervisor", OTHER_DEPARTMENT), "department"),
])
def test_a_sheet_is_opened_only_as_the_staff_register_says(api, world, opener, data, field):
    api.user("supervisor_other", "supervisor")
    response = api.post(opener, "/api/v1/cases", {"workflow": "appraisal", "data": data})
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_hr_may_name_another_supervisor_and_the_history_records_it(api, world):
    api.user("supervisor_other", "supervisor")
    case = api.open("hr", "appraisal", sheet_for("employee", "supervisor_other"))
    [created] = api.get("hr", f"/api/v1/cases/{case['id']}/history").get_json()["items"]
    assert (created["actor"], created["inputs"]["supervisor"]) == ("hr", "supervisor_other")
    assert api.get("supervisor_other", f"/api/v1/cases/{case['id']}").status_code == 200
    assert api.get("supervisor", f"/api/v1/cases/{case['id']}").status_code == 404


# -- repair dispatch binds the technician's steps to the person sent -------------------------------


def dispatched(api, technician: str) -> dict[str, Any]:
    case = api.open("service_clerk", "repair_dispatch", ROUTES["repair_dispatch"].opening(0))
    return api.act("service_supervisor", case, "dispatch", {"technician": technician})


def test_only_a_technician_who_exists_can_be_dispatched(api, world):
    case = api.open("service_clerk", "repair_dispatch", ROUTES["repair_dispatch"].opening(0))
    for name in ("ghost", "service_clerk"):
        before = snapshot(case["id"])
        response = api.post("service_supervisor", f"/api/v1/cases/{case['id']}/actions/dispatch",
                            {"inputs": {"technician": name}, "expected_version": case["lock_version"]})
        assert response.status_code == 422 and "technician" in response.get_json()["error"]["fields"]
        assert snapshot(case["id"]) == before


def test_only_the_dispatched_technician_takes_the_technicians_steps(api, world):
    api.user("technician2", "technician")
    case = dispatched(api, "technician")
    api.act("technician2", case, "arrive", status=403)
    case = api.act("technician", case, "arrive")
    api.act("technician2", case, "fix_on_site", {"work_done": "x", "customer_signed": True, "charged": False},
            status=403)


RATED_4 = dict.fromkeys(("rating_attitude", "rating_skill", "rating_arrival", "rating_promises"), 4)


def test_the_rated_technician_cannot_record_their_own_rating(api, world):
    api.user("clerk_and_technician", "service_clerk", "technician")
    case = dispatched(api, "clerk_and_technician")
    case = api.act("clerk_and_technician", case, "arrive")
    case = api.act("clerk_and_technician", case, "fix_on_site",
                   {"work_done": "Refilled", "customer_signed": True, "charged": False})
    before = snapshot(case["id"])
    api.act("clerk_and_technician", case, "record_callback", RATED_4, status=422)
    assert snapshot(case["id"]) == before
    assert api.act("service_clerk", case, "record_callback", RATED_4)["state"] == "closed"
