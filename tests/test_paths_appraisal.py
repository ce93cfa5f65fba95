"""Monthly appraisal sign-off 月度绩效考核 (PROCESSES.md §4): every route through the JSON API, and every refusal.

The sheet is zhang's (role employee); li is his direct supervisor, wang the department head, hr is HR.
Only the person a sheet names may take the steps assigned to them (`assignee_field`): zhang signs, reports,
confirms or appeals, li agrees the goals, countersigns and scores. The supervisor records only what happened
on the score sheet; the service works out the total, the grade and the pay coefficient.

PATHS, the golden paths of workflow/definitions/paths/appraisal.yaml, take one sheet from goals to
archived without a hitch, and another through a department head's return, an appeal HR upholds (scored
again) and an appeal HR rejects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from web.extensions import db
from workflow.appraisal import set_staff

from .paths import (
    CasePath,
    Step,
    assert_lock_version_counts_moves,
    assert_paths_cover,
    definition_of,
    golden,
    history,
    inputs_of,
    offered,
    refused,
    show,
    take,
    walk_to_the_end,
)
from .paths import reach as reach_along

WORKFLOW = "appraisal"

EMPLOYEE, SUPERVISOR, DEPT_HEAD, HR = "zhang", "li", "wang", "hr"
ROLE_OF = {EMPLOYEE: "employee", SUPERVISOR: "supervisor", DEPT_HEAD: "dept_head", HR: "hr"}
EVERY_ROLE = tuple(ROLE_OF.values())
# Colleagues holding the same roles as zhang and li, but not named on zhang's sheet.
OTHER_EMPLOYEE, OTHER_SUPERVISOR = "zhao", "zhou"

COMPUTED = ("total_score", "grade", "pay_coefficient", "performance_report_required")


def scored(occurrences: dict[str, int] | None = None, *, adjustments: tuple[str, ...] = (),
           interview: str | None = None, **recorded: Any) -> dict[str, Any]:
    """The inputs of `score`: what happened this month on zhang's field-service sheet (and maybe the interview)."""
    inputs: dict[str, Any] = {"sheet": {"occurrences": occurrences or {}, "adjustments": list(adjustments),
                                        **recorded}}
    if interview is not None:
        inputs["interview_record"] = interview
    return inputs


FIRST = "confirmed_at_the_first_scoring"
APPEALED = "returned_then_appeal_upheld_then_appeal_rejected"
# workflow/definitions/paths/appraisal.yaml, with the steps of each role taken by the person named here.
PATHS: dict[str, CasePath] = golden(WORKFLOW, {role: name for name, role in ROLE_OF.items()})

SHEET = {**PATHS[FIRST].data, "employee": EMPLOYEE, "supervisor": SUPERVISOR}  # zhang's sheet, li his supervisor
GOALS = inputs_of(PATHS[FIRST], "agree_goals")
WORK_DONE = inputs_of(PATHS[FIRST], "self_report")
QUIET_MONTH = inputs_of(PATHS[FIRST], "score")["sheet"]["occurrences"]  # a field-service sheet worth 90 (A)


# ---------------------------------------------------------------------------------------------- helpers


def people(api) -> None:
    """zhang, li, wang and hr with their roles, and a colleague of zhang and of li.

    The staff register puts zhang (supervised by li) and wang, the head, in the sheet's department:
    sheets are opened only for people on it, and a head reviews only their own
    department's sheets.
    """
    for name, role in {**ROLE_OF, OTHER_EMPLOYEE: "employee", OTHER_SUPERVISOR: "supervisor"}.items():
        api.user(name, role)
    set_staff(db.session, EMPLOYEE, SHEET["department"], "field_service", Decimal("1500"), SUPERVISOR)
    # The head is on the register of the department they review, appraised above it (no monthly sheet here).
    set_staff(db.session, DEPT_HEAD, SHEET["department"], "field_service", Decimal("2000"), HR, active=False)
    db.session.commit()


@pytest.fixture
def api(api):
    people(api)
    return api


def timer_states(case: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (status, due_at) of the latest run of each timer."""
    return {t["name"]: (t["status"], t["due_at"]) for t in case["timers"]}


def as_named_on(case: dict[str, Any], step: Step) -> Step:
    """The step taken by the person the case names: zhang's and li's steps go to its employee and supervisor."""
    named = {EMPLOYEE: case["data"]["employee"], SUPERVISOR: case["data"]["supervisor"]}
    return step._replace(user=named.get(step.user, step.user))


def open_sheet(api, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sheet opened by the supervisor it names (a supervisor opens sheets only for their own people)."""
    data = data or SHEET
    return api.open(data["supervisor"], WORKFLOW, data)


def reach(api, path: str, state: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new case walked along PATHS[path] until it first stands in `state`."""
    return reach_along(api, lambda api: open_sheet(api, data), PATHS[path].steps, state, as_taken=as_named_on)


# ---------------------------------------------------------------------------------------------- paths


def test_paths_take_every_transition_and_end_in_every_final_state():
    assert_paths_cover(definition_of(WORKFLOW), PATHS, system_only=set(), role_of=ROLE_OF)


def test_every_step_of_zhang_or_li_is_assigned_to_the_person_the_sheet_names():
    d = definition_of(WORKFLOW)
    assigned = {t.name: t.assignee_field for t in d.transitions.values()}
    for path in PATHS.values():
        for step in path.steps:
            expected = {EMPLOYEE: "employee", SUPERVISOR: "supervisor"}.get(step.user)
            assert assigned[step.action] == expected, step


@pytest.mark.parametrize("name", PATHS)
def test_path_through_the_api(api, name):
    path = PATHS[name]
    api.user("everyone", *EVERY_ROLE)
    case = open_sheet(api)
    assert case["state"] == "goals"
    case = walk_to_the_end(api, case, path)
    assert {status for status, _ in timer_states(case).values()} == {"stopped"}


def test_each_score_replaces_the_total_grade_and_pay_coefficient(api):
    """Along the appealed path: 55 E, returned, 72 C, appeal upheld, 80 B; the rejected appeal keeps 80 B."""
    case = open_sheet(api)
    seen = []
    for step in PATHS[APPEALED].steps:
        case = take(api, case, step)
        if step.action in ("score", "reject_appeal"):
            seen.append((case["data"]["total_score"], case["data"]["grade"], case["data"]["pay_coefficient"]))
    assert seen == [("55", "e", "0.6"), ("72", "c", "0.8"), ("80", "b", "0.9"), ("80", "b", "0.9")]


def test_version_stays_1_and_lock_version_counts_accepted_moves_only(api):
    path = PATHS[APPEALED]
    case = open_sheet(api)
    assert_lock_version_counts_moves(api, case, path.steps)


# ---------------------------------------------------------------------------------------------- four eyes


def test_a_dept_head_may_not_approve_a_sheet_they_scored_as_supervisor(api):
    api.user("liu", "supervisor", "dept_head")
    set_staff(db.session, EMPLOYEE, SHEET["department"], "field_service", Decimal("1500"), "liu")
    set_staff(db.session, "liu", SHEET["department"], "field_service", Decimal("2000"), HR, active=False)
    db.session.commit()
    case = reach(api, FIRST, "scoring", {**SHEET, "supervisor": "liu"})
    case = api.act("liu", case, "score", scored())
    assert (case["data"]["total_score"], case["data"]["grade"]) == ("100", "a")
    assert offered(api, case["id"], "liu") == ["return_to_scoring"]
    error = refused(api, "liu", case, "approve", status=403, code="four_eyes")
    assert "someone else" in error["message"]
    assert offered(api, case["id"], DEPT_HEAD) == ["approve", "return_to_scoring"]
    assert api.act(DEPT_HEAD, case, "approve")["state"] == "confirmation"


def test_a_sheet_naming_the_employee_as_their_own_supervisor_is_refused(api):
    api.user("sun", "employee", "supervisor")
    # On the register of the sheet's department, so that the only rule broken is supervising oneself.
    set_staff(db.session, "sun", SHEET["department"], "field_service", Decimal("1500"), SUPERVISOR)
    db.session.commit()
    response = api.post(SUPERVISOR, "/api/v1/cases",
                        {"workflow": WORKFLOW, "data": {**SHEET, "employee": "sun", "supervisor": "sun"}})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["fields"].keys() == {"supervisor"}


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("state, user, action, inputs", [
    ("goals", EMPLOYEE, "agree_goals", GOALS),
    ("agreement", SUPERVISOR, "sign_agreement", {}),
    ("in_progress", SUPERVISOR, "self_report", WORK_DONE),
    ("scoring", EMPLOYEE, "score", scored()),        # no one scores their own sheet
    ("dept_review", SUPERVISOR, "approve", {}),
    ("confirmation", SUPERVISOR, "confirm", {}),
    ("awaiting_archive", DEPT_HEAD, "archive", {}),
])
def test_wrong_role_is_refused(api, state, user, action, inputs):
    case = reach(api, FIRST, state)
    refused(api, user, case, action, inputs, status=403, code="role_refused")


@pytest.mark.parametrize("path, state, user, action, inputs, assignee", [
    (FIRST, "goals", OTHER_SUPERVISOR, "agree_goals", GOALS, SUPERVISOR),
    (FIRST, "agreement", OTHER_EMPLOYEE, "sign_agreement", {}, EMPLOYEE),
    (FIRST, "countersignature", OTHER_SUPERVISOR, "countersign_agreement", {}, SUPERVISOR),
    (FIRST, "in_progress", OTHER_EMPLOYEE, "self_report", WORK_DONE, EMPLOYEE),
    (FIRST, "scoring", OTHER_SUPERVISOR, "score", scored(), SUPERVISOR),
    (FIRST, "confirmation", OTHER_EMPLOYEE, "confirm", {}, EMPLOYEE),
    (APPEALED, "confirmation", OTHER_EMPLOYEE, "appeal", {"appeal_reason": "Not my sheet"}, EMPLOYEE),
])
def test_only_the_person_the_sheet_names_takes_their_step(api, path, state, user, action, inputs, assignee):
    case = reach(api, path, state)
    # A colleague with the same role is not named on the sheet, so for them it does not exist.
    refused(api, user, case, action, inputs, status=404, code="not_found")
    assert action in offered(api, case["id"], assignee)


def test_only_hr_decides_an_appeal(api):
    case = reach(api, APPEALED, "appeal")
    for user in (DEPT_HEAD, SUPERVISOR, EMPLOYEE):
        refused(api, user, case, "uphold_appeal", {"appeal_outcome": "x"}, status=403, code="role_refused")


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("goals", SUPERVISOR, "agree_goals", {}, "goals"),
    ("in_progress", EMPLOYEE, "self_report", {}, "work_summary"),
    ("scoring", SUPERVISOR, "score", {"interview_record": "Talked"}, "sheet"),
    ("dept_review", DEPT_HEAD, "return_to_scoring", {"reason": ""}, "reason"),
    ("confirmation", EMPLOYEE, "appeal", {}, "appeal_reason"),
])
def test_missing_required_input_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, FIRST, state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert list(error["fields"]) == [field]


def test_hr_records_the_outcome_of_an_appeal(api):
    case = reach(api, APPEALED, "appeal")
    for action in ("uphold_appeal", "reject_appeal"):
        error = refused(api, HR, case, action, {}, status=422, code="invalid_inputs")
        assert list(error["fields"]) == ["appeal_outcome"]


@pytest.mark.parametrize("field, value", [
    ("total_score", "100"), ("grade", "a"), ("pay_coefficient", "1.0"), ("performance_report_required", False),
])
def test_total_grade_and_pay_coefficient_cannot_be_typed(api, field, value):
    """They are computed from the sheet: a score step does not ask for them, nor does opening a sheet."""
    case = reach(api, FIRST, "scoring")
    error = refused(api, SUPERVISOR, case, "score", {**scored(QUIET_MONTH), field: value},
                    status=422, code="invalid_inputs")
    assert error["fields"] == {field: "is not asked for here"}
    open_refused(api, {**SHEET, "period": "2026-12", field: value}, field)


@pytest.mark.parametrize("inputs, field", [
    ({"sheet": "ninety"}, "sheet"),
    ({"sheet": {"total": 95}}, "sheet"),                                       # only what happened, no total
    (scored({"no_such_item": 1}), "sheet"),
    (scored({"left_post": -1}), "sheet"),
    (scored({"left_post": "once"}), "sheet"),
    (scored(adjustments=("bonus",)), "sheet"),
    (scored(bands={"attitude": "as_required"}), "sheet"),                       # a repair-sheet scale
    (scored(goal_scores={"goal_1": 100}), "sheet"),                             # field service has no goals
    ({**scored(QUIET_MONTH), "interview_record": 95}, "interview_record"),
])
def test_a_sheet_that_does_not_fit_its_template_is_refused_and_named(api, inputs, field):
    case = reach(api, FIRST, "scoring")
    error = refused(api, SUPERVISOR, case, "score", inputs, status=422, code="invalid_inputs")
    assert list(error["fields"]) == [field]


def test_a_goal_sheet_with_a_goal_or_scale_left_unscored_is_refused(api):
    case = reach(api, FIRST, "scoring", {**SHEET, "template": "technical_support"})
    incomplete = scored(goal_scores={"goal_1": 100, "goal_2": 100},
                        bands={"complaint_response": "within_1_day", "website_k3_response": "within_1_day"})
    error = refused(api, SUPERVISOR, case, "score", incomplete, status=422, code="invalid_inputs")
    assert error["fields"]["sheet"] == "still to score: «How well documents and records are kept», «Goal 3»"


def open_refused(api, data: dict[str, Any], field: str) -> None:
    before = api.get("auditor", "/api/v1/cases?workflow=appraisal").get_json()["total"]
    response = api.post(SUPERVISOR, "/api/v1/cases", {"workflow": WORKFLOW, "data": data})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], list(error["fields"])) == (422, "invalid_inputs", [field])
    assert api.get("auditor", "/api/v1/cases?workflow=appraisal").get_json()["total"] == before


@pytest.mark.parametrize("data, field", [
    ({**SHEET, "period": "2026-1"}, "period"),
    ({**SHEET, "period": "2026-011"}, "period"),
    ({**SHEET, "template": "sales_staff"}, "template"),
    ({key: value for key, value in SHEET.items() if key != "employee"}, "employee"),
    ({key: value for key, value in SHEET.items() if key != "supervisor"}, "supervisor"),
    ({**SHEET, "sheet": scored()["sheet"]}, "sheet"),                  # scored by li at `score`, not at opening
])
def test_a_sheet_needs_employee_supervisor_department_period_and_template(api, data, field):
    open_refused(api, data, field)


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "abcdefg"])
def test_a_period_that_is_no_month_is_refused(api, period):
    open_refused(api, {**SHEET, "period": period}, field="period")


def test_a_second_sheet_for_the_same_employee_and_month_is_refused(api):
    first = open_sheet(api)
    response = api.post(HR, "/api/v1/cases", {"workflow": WORKFLOW, "data": {**SHEET, "template": "repair"}})
    error = response.get_json()["error"]
    assert error["code"] == "duplicate_case"
    assert f"employee {EMPLOYEE}, period 2026-11" in error["message"]
    cases = api.get("auditor", "/api/v1/cases?workflow=appraisal").get_json()
    assert [c["id"] for c in cases["items"]] == [first["id"]]
    # Another month of zhang's, or another employee's November, are sheets of their own.
    assert open_sheet(api, {**SHEET, "period": "2026-12"})["state"] == "goals"
    set_staff(db.session, OTHER_EMPLOYEE, SHEET["department"], "field_service", Decimal("1500"), SUPERVISOR)
    db.session.commit()
    assert open_sheet(api, {**SHEET, "employee": OTHER_EMPLOYEE})["state"] == "goals"


def test_a_second_sheet_for_the_same_employee_and_month_is_a_conflict(api):
    open_sheet(api)
    response = api.post(SUPERVISOR, "/api/v1/cases", {"workflow": WORKFLOW, "data": SHEET})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "duplicate_case")


@pytest.mark.parametrize("state, user, action, inputs", [
    ("in_progress", SUPERVISOR, "score", scored(QUIET_MONTH)),
    ("scoring", DEPT_HEAD, "approve", {}),
    ("awaiting_archive", EMPLOYEE, "appeal", {"appeal_reason": "too late"}),
    ("confirmation", HR, "archive", {}),
    ("archived", SUPERVISOR, "agree_goals", GOALS),
])
def test_wrong_state_is_refused(api, state, user, action, inputs):
    case = reach(api, FIRST, state)
    refused(api, user, case, action, inputs, status=409, code="wrong_state")


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_expected_version_is_refused(api, offset):
    case = reach(api, FIRST, "scoring")
    refused(api, SUPERVISOR, case, "score", scored(QUIET_MONTH), status=409, code="stale_version",
            expected_version=case["lock_version"] + offset)


def test_the_score_step_keeps_what_happened_and_what_the_service_worked_out(api):
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored(QUIET_MONTH, adjustments=("warning",)))
    sheet = case["data"]["sheet"]
    assert (sheet["occurrences"], sheet["adjustments"], sheet["template"]) == (QUIET_MONTH, ["warning"],
                                                                                "field_service")
    assert sheet["result"]["sections"]["fault_handling"] == "15"
    assert (sheet["result"]["total"], sheet["result"]["grade"], sheet["result"]["adjustment"]) == ("89", "B", "-1")
    assert (case["data"]["total_score"], case["data"]["grade"], case["data"]["pay_coefficient"]) == ("89", "b", "0.9")
    assert history(api, case["id"])[-1]["inputs"]["sheet"] == sheet


# ---------------------------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("period, review_due, archive_due", [
    ("2026-11", "2026-12-11T00:00:00+08:00", "2026-12-21T00:00:00+08:00"),
    ("2026-12", "2027-01-11T00:00:00+08:00", "2027-01-21T00:00:00+08:00"),   # into the next year
])
def test_dept_review_by_the_10th_and_archive_by_the_20th_of_the_next_month(api, period, review_due, archive_due):
    case = reach(api, FIRST, "in_progress", {**SHEET, "period": period})
    assert case["timers"] == []
    case = api.act(EMPLOYEE, case, "self_report", WORK_DONE)
    assert timer_states(case) == {"dept_review_due": ("running", review_due)}
    case = api.act(SUPERVISOR, case, "score", scored(QUIET_MONTH, interview="Monthly talk"))
    assert timer_states(case) == {"dept_review_due": ("running", review_due)}
    case = api.act(DEPT_HEAD, case, "approve")
    assert timer_states(case) == {"dept_review_due": ("stopped", review_due), "archive_due": ("running", archive_due)}
    case = api.act(EMPLOYEE, case, "confirm")
    case = api.act(HR, case, "archive")
    assert timer_states(case) == {"dept_review_due": ("stopped", review_due), "archive_due": ("stopped", archive_due)}


def test_the_10th_counts_until_it_is_over_in_shanghai(api, frozen_clock):
    case = reach(api, FIRST, "dept_review")
    frozen_clock.set(datetime(2026, 12, 10, 15, 59, 59, tzinfo=UTC))   # 10 December, 23:59:59 in Shanghai
    shown = show(api, case["id"])
    assert (shown["timers"][0]["status"], shown["overdue"]) == ("running", False)
    frozen_clock.set(datetime(2026, 12, 10, 16, 0, tzinfo=UTC))        # 11 December, 00:00
    shown = show(api, case["id"])
    assert (shown["timers"][0]["status"], shown["overdue"]) == ("overdue", True)
    case = api.act(DEPT_HEAD, shown, "approve")
    assert case["overdue"] is False


def test_the_20th_counts_until_it_is_over_in_shanghai(api, frozen_clock):
    case = reach(api, FIRST, "awaiting_archive")
    frozen_clock.set(datetime(2026, 12, 20, 15, 59, 59, tzinfo=UTC))   # 20 December, 23:59:59 in Shanghai
    assert show(api, case["id"])["overdue"] is False
    frozen_clock.set(datetime(2026, 12, 20, 16, 0, tzinfo=UTC))        # 21 December, 00:00
    shown = show(api, case["id"])
    assert timer_states(shown)["archive_due"] == ("overdue", "2026-12-21T00:00:00+08:00")
    assert api.act(HR, shown, "archive")["overdue"] is False


def test_an_upheld_appeal_restarts_the_review_deadline_and_keeps_the_archive_deadline(api):
    case = reach(api, APPEALED, "appeal")
    case = api.act(HR, case, "uphold_appeal", {"appeal_outcome": "Score again"})
    running = [(t["name"], t["due_at"]) for t in case["timers"] if t["status"] == "running"]
    assert sorted(running) == [("archive_due", "2026-12-21T00:00:00+08:00"),
                               ("dept_review_due", "2026-12-11T00:00:00+08:00")]
