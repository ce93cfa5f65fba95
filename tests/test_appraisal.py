"""The monthly appraisal beyond its route (issue 4, PROCESSES.md §4): scoring, the department's month,
rules across months, linked evidence, export and the department coefficient — through the API and the CLI.

The people are those of test_paths_appraisal: employee zhang, his supervisor li, department head wang, hr.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal import set_staff
from workflow.appraisal.models import Evidence
from workflow.engine import extensions, policy

from . import test_paths_complaint as complaint
from .paths import definition_of
from .test_paths_appraisal import (
    DEPT_HEAD,
    EMPLOYEE,
    FIRST,
    GOALS,
    HR,
    OTHER_SUPERVISOR,
    SHEET,
    SUPERVISOR,
    WORK_DONE,
    history,
    offered,
    open_sheet,
    people,
    reach,
    refused,
    scored,
    show,
)

DEPARTMENT = "After-sales service"
MONTH = "2026-11"  # the frozen clock's month in Shanghai: complaints closed now count on this month's sheet


@pytest.fixture
def api(api):
    people(api)
    return api


# ---------------------------------------------------------------------------------------------- helpers


def hire(api, runner, name: str, standard_pay: str, template: str = "field_service", *,
         department: str = DEPARTMENT, supervisor: str = SUPERVISOR, inactive: bool = False) -> None:
    """An employee in the staff register, through `flask staff set`."""
    api.user(name, "employee")
    args = ["staff", "set", name, "--department", department, "--template", template,
            "--standard-pay", standard_pay, "--supervisor", supervisor]
    result = runner.invoke(args=args + (["--inactive"] if inactive else []))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{name}: {department}, {template}, standard pay {standard_pay}")


def month_url(department: str = DEPARTMENT, period: str = MONTH) -> str:
    return f"/api/v1/appraisal/departments/{quote(department)}/months/{period}"


def open_month(api, department: str = DEPARTMENT, period: str = MONTH, user: str = HR) -> dict[str, Any]:
    response = api.post(user, "/api/v1/appraisal/months", {"department": department, "period": period})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def department_month(api, department: str = DEPARTMENT, period: str = MONTH, user: str = HR) -> dict[str, Any]:
    response = api.get(user, month_url(department, period))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def set_coefficient(api, coefficient: str, user: str = HR, department: str = DEPARTMENT, period: str = MONTH):
    return api.client.put(f"{month_url(department, period)}/coefficient", json={"coefficient": coefficient},
                          headers=api.headers(user))


def sheets_by_employee(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["employee"]: row for row in view["sheets"]}


def score(api, case: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Walk a sheet from goals to the department review, its supervisor scoring it with `inputs`."""
    employee, supervisor = case["data"]["employee"], case["data"]["supervisor"]
    case = api.act(supervisor, case, "agree_goals", GOALS)
    case = api.act(employee, case, "sign_agreement")
    case = api.act(supervisor, case, "countersign_agreement")
    case = api.act(employee, case, "self_report", WORK_DONE)
    case = api.act(supervisor, case, "score", inputs)
    assert case["state"] == "dept_review"
    return case


def score_opened(api, opened: dict[str, Any], sheets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Score the sheets a month opened: employee -> score inputs."""
    ids = {row["employee"]: row["case_id"] for row in opened["opened"]}
    return {employee: score(api, show(api, ids[employee]), inputs) for employee, inputs in sheets.items()}


def totals(case: dict[str, Any]) -> tuple[str, str, str]:
    return case["data"]["total_score"], case["data"]["grade"], case["data"]["pay_coefficient"]


# ---------------------------------------------------------------------------------------------- pay: 001 §5.1

# 001 §5.1: four people, standard pay 1500, 1000, 1250, 1000, scores 100, 98, 96, 90. No field-service item
# deducts 2 or 4 points, so 98 and 96 combine an item with the month's reward or penalty.
WORKED_EXAMPLE = {
    "zhang": ("1500", scored()),                                                      # nothing happened: 100
    "zhao": ("1000", scored({"phone_off_occasionally": 1}, adjustments=("commendation",))),  # −3 +1 = 98
    "qian": ("1250", scored({"phone_off_occasionally": 1}, adjustments=("warning",))),       # −3 −1 = 96
    "sun": ("1000", scored({"light_workload": 1})),                                          # −10 = 90
}


def worked_example(api, runner) -> dict[str, dict[str, Any]]:
    for name, (pay, _) in WORKED_EXAMPLE.items():
        hire(api, runner, name, pay)
    opened = open_month(api)
    cases = score_opened(api, opened, {name: inputs for name, (_, inputs) in WORKED_EXAMPLE.items()})
    assert set_coefficient(api, "1.0").status_code == 200
    return cases


def test_the_worked_pay_example_of_001_5_1_in_the_department_view(api, runner):
    cases = worked_example(api, runner)
    assert {name: totals(case) for name, case in cases.items()} == {
        "zhang": ("100", "a", "1.0"), "zhao": ("98", "a", "1.0"), "qian": ("96", "a", "1.0"), "sun": ("90", "a", "1.0"),
    }
    view = department_month(api)
    assert Decimal(view["coefficient"]) == Decimal("1.0")
    shown = {name: (Decimal(row["standard_pay"]), Decimal(row["total"]), row["grade"], Decimal(row["performance_pay"]))
             for name, row in sheets_by_employee(view).items()}
    assert shown == {
        "zhang": (1500, 100, "A", 1556), "zhao": (1000, 98, "A", 1016),
        "qian": (1250, 96, "A", 1245), "sun": (1000, 90, "A", 933),
    }


def test_the_cli_export_prints_the_same_pay(api, runner):
    worked_example(api, runner)
    result = runner.invoke(args=["appraisal", "export", "--department", DEPARTMENT, "--period", MONTH])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert Decimal(lines[0].rsplit(" ", 1)[1].rstrip(")")) == Decimal("1.0")
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in lines[1:]}
    assert rows == {"zhang": ["100", "A", "1556", "dept_review"], "zhao": ["98", "A", "1016", "dept_review"],
                    "qian": ["96", "A", "1245", "dept_review"], "sun": ["90", "A", "933", "dept_review"]}


def test_the_csv_export_has_a_header_and_one_row_per_sheet_with_the_performance_pay(api, runner):
    worked_example(api, runner)
    hire(api, runner, "wu", "800")
    open_month(api)  # wu's sheet is opened but not scored yet: a row without pay
    response = api.get(HR, f"{month_url()}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith(quote(f"appraisal-{DEPARTMENT}-{MONTH}.csv"))
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese header as UTF-8
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header == ["员工 employee", "案件 case", "状态 state", "总分 total", "等级 grade", "绩效系数 coefficient",
                      "标准绩效工资 standard pay", "绩效工资 performance pay", "须述职 report required"]
    pay = {row[0]: (row[3], row[4], Decimal(row[7]) if row[7] else None) for row in rows}
    assert pay == {"zhang": ("100", "A", 1556), "zhao": ("98", "A", 1016), "qian": ("96", "A", 1245),
                   "sun": ("90", "A", 933), "wu": ("", "", None)}
    assert len(rows) == len(department_month(api)["sheets"]) == 5


def test_a_sheet_scored_0_exports_a_total_of_0(api, runner):
    hire(api, runner, EMPLOYEE, "1000")
    opened = open_month(api)
    everything = {"left_post": 1, "parts_damaged_or_lost": 2, "needed_support": 2, "verified_complaint": 1,
                  "quality_database_neglected": 2}
    case = score_opened(api, opened, {EMPLOYEE: scored(everything)})[EMPLOYEE]
    assert totals(case) == ("0", "e", "0.6")
    text = api.get(HR, f"{month_url()}/export.csv").get_data(as_text=True).lstrip("\ufeff")
    _, row = list(csv.reader(io.StringIO(text)))
    assert row[3] == "0"


def test_only_hr_sets_the_department_coefficient(api, runner):
    worked_example(api, runner)
    for user in (SUPERVISOR, DEPT_HEAD, EMPLOYEE):
        response = set_coefficient(api, "0.9", user=user)
        assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert Decimal(department_month(api)["coefficient"]) == Decimal("1.0")
    response = set_coefficient(api, "0", user=HR)
    assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["coefficient"])

    response = set_coefficient(api, "0.9", user=HR)
    assert response.status_code == 200
    view = response.get_json()
    assert Decimal(view["coefficient"]) == Decimal("0.9")
    pays = {row["employee"]: Decimal(row["performance_pay"]) for row in view["sheets"]}
    # The pool is 0.9 × (1500 + 1000 + 1250 + 1000) = 4275, shared as before.
    assert pays == {"zhang": 1400, "zhao": 915, "qian": 1120, "sun": 840}
    assert department_month(api)["sheets"] == view["sheets"]


def test_the_department_view_is_not_for_employees(api, runner):
    hire(api, runner, EMPLOYEE, "1000")
    open_month(api)
    response = api.get(EMPLOYEE, month_url())
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert api.get(EMPLOYEE, f"{month_url()}/export.csv").status_code == 403


# ---------------------------------------------------------------------------------------------- grades


# (template, what the supervisor records, total, grade shown in the department view, pay coefficient)
BOUNDARIES = [
    ("field_service", scored({"light_workload": 1}), "90", "A", "1.0"),
    # technical support: goals 30 + 20 + 20 = 70; complaint response 2.5 late (range 2–4), website 8 (range 6–10)
    ("technical_support", scored(goal_scores={"goal_1": 100, "goal_2": 100, "goal_3": 100},
                                 bands={"complaint_response": {"band": "days_2_to_3", "points": "2.5"},
                                        "website_k3_response": {"band": "days_3_plus", "points": 8},
                                        "records_upkeep": "orderly"}), "89.5", "B", "0.9"),
    ("field_service", scored({"shirked_assignment": 1}), "80", "B", "0.9"),
    # technical support: daily work 30 in full; goal 1 missed, goal 2 met, goal 3 half met (49.5 % of 20 = 9.9)
    ("technical_support", scored(goal_scores={"goal_1": 0, "goal_2": 100, "goal_3": "49.5"},
                                 bands={"complaint_response": "within_1_day", "website_k3_response": "within_1_day",
                                        "records_upkeep": "orderly"}), "59.9", "E", "0.6"),
]


@pytest.mark.parametrize("template, inputs, total, grade, coefficient", BOUNDARIES,
                         ids=[total for _, _, total, _, _ in BOUNDARIES])
def test_boundary_grades_through_real_scoring(api, runner, template, inputs, total, grade, coefficient):
    hire(api, runner, EMPLOYEE, "1000", template)
    case = score_opened(api, open_month(api), {EMPLOYEE: inputs})[EMPLOYEE]
    assert Decimal(case["data"]["total_score"]) == Decimal(total)
    assert (case["data"]["grade"], Decimal(case["data"]["pay_coefficient"])) == (grade.lower(), Decimal(coefficient))
    row = sheets_by_employee(department_month(api))[EMPLOYEE]
    assert (Decimal(row["total"]), row["grade"], Decimal(row["pay_coefficient"])) == (
        Decimal(total), grade, Decimal(coefficient))


def test_a_sections_deductions_beyond_its_maximum_stop_at_0(api):
    case = reach(api, FIRST, "scoring")
    # Customer communication is worth 10: two verified complaints and an unreported written one deduct 25.
    case = api.act(SUPERVISOR, case, "score", scored({"verified_complaint": 2, "written_complaint_not_reported": 1}))
    sections = case["data"]["sheet"]["result"]["sections"]
    assert sections == {"work_assignment": "25", "parts": "20", "fault_handling": "25", "customer_communication": "0",
                        "information": "20"}
    assert totals(case) == ("90", "a", "1.0")  # not 75: the other sections keep their points


@pytest.mark.parametrize("occurrences, adjustments, total", [
    ({"light_workload": 1}, ("commendation",), "91"),
    ({"light_workload": 1}, ("merit", "warning"), "92"),
    ({"light_workload": 1}, ("major_merit",), "99"),
    ({"light_workload": 1}, ("demerit",), "87"),
    ({"light_workload": 1}, ("major_demerit", "warning"), "80"),
    ({}, ("major_merit",), "100"),                       # a reward does not lift a month above 100
    ({"left_post": 1, "needed_support": 1, "verified_complaint": 1, "quality_database_neglected": 2,
      "parts_damaged_or_lost": 2}, ("major_demerit",), "0"),   # 5 left, −9: a month stops at 0
])
def test_rewards_and_penalties_of_the_month_adjust_the_total(api, occurrences, adjustments, total):
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored(occurrences, adjustments=adjustments))
    assert case["data"]["total_score"] == total
    expected = sum({"commendation": 1, "merit": 3, "major_merit": 9, "warning": -1, "demerit": -3,
                    "major_demerit": -9}[a] for a in adjustments)
    assert Decimal(case["data"]["sheet"]["result"]["adjustment"]) == expected


# ---------------------------------------------------------------------------------------------- the route


def test_the_full_route_with_an_appeal_upheld_and_one_rejected(api):
    case = reach(api, "returned_then_appeal_upheld_then_appeal_rejected", "confirmation")
    assert totals(case) == ("72", "c", "0.8")
    case = api.act(EMPLOYEE, case, "appeal", {"appeal_reason": "I had permission to leave the site"})
    assert offered(api, case["id"], HR) == ["uphold_appeal", "reject_appeal"]
    case = api.act(HR, case, "uphold_appeal", {"appeal_outcome": "Leave was granted by phone; score again"})
    assert case["state"] == "scoring"
    case = api.act(SUPERVISOR, case, "score", scored({"shirked_assignment": 1}, interview="Talked it over"))
    assert totals(case) == ("80", "b", "0.9")  # the upheld appeal changed the score
    case = api.act(DEPT_HEAD, case, "approve")
    case = api.act(EMPLOYEE, case, "appeal", {"appeal_reason": "I want an A"})
    case = api.act(HR, case, "reject_appeal", {"appeal_outcome": "The shirked assignment is documented"})
    assert (case["state"], totals(case)) == ("confirmation", ("80", "b", "0.9"))  # the rejected one did not
    assert case["data"]["appeal_outcome"] == "The shirked assignment is documented"
    case = api.act(EMPLOYEE, case, "confirm")
    case = api.act(HR, case, "archive")
    assert (case["state"], case["final"]) == ("archived", True)
    actions = [(row["action"], row["actor"]) for row in history(api, case["id"])[1:]]
    assert actions == [
        ("agree_goals", SUPERVISOR), ("sign_agreement", EMPLOYEE), ("countersign_agreement", SUPERVISOR),
        ("self_report", EMPLOYEE), ("score", SUPERVISOR), ("return_to_scoring", DEPT_HEAD), ("score", SUPERVISOR),
        ("approve", DEPT_HEAD), ("appeal", EMPLOYEE), ("uphold_appeal", HR), ("score", SUPERVISOR),
        ("approve", DEPT_HEAD), ("appeal", EMPLOYEE), ("reject_appeal", HR), ("confirm", EMPLOYEE), ("archive", HR),
    ]


def test_the_department_head_cannot_approve_a_sheet_they_scored_as_supervisor(api, runner):
    api.user("liu", "supervisor", "dept_head")
    hire(api, runner, "liu", "2000", supervisor=HR, inactive=True)  # heads this department, appraised above it
    hire(api, runner, EMPLOYEE, "1000", supervisor="liu")
    case = score_opened(api, open_month(api), {EMPLOYEE: scored()})[EMPLOYEE]
    assert history(api, case["id"])[-1]["actor"] == "liu"
    error = refused(api, "liu", case, "approve", status=403, code="four_eyes")
    assert "someone else" in error["message"]
    assert api.act(DEPT_HEAD, case, "approve")["state"] == "confirmation"


# ---------------------------------------------------------------------------------------------- across months

BELOW_60 = scored({"left_post": 1, "needed_support": 1})            # 55
AT_60 = scored({"left_post": 1, "fault_fix_incomplete": 1})          # 60


@pytest.mark.parametrize("months, flagged", [
    ((BELOW_60, BELOW_60, BELOW_60), True),
    ((BELOW_60, BELOW_60, AT_60), False),
    ((AT_60, BELOW_60, BELOW_60), False),
    ((BELOW_60, AT_60, BELOW_60), False),
], ids=["55-55-55", "55-55-60", "60-55-55", "55-60-55"])
def test_the_third_month_below_60_in_a_row_calls_for_a_performance_report(api, runner, months, flagged):
    hire(api, runner, EMPLOYEE, "1000")
    cases = []
    for period, inputs in zip(("2026-09", "2026-10", "2026-11"), months, strict=True):
        opened = open_month(api, period=period)
        cases.append(score_opened(api, opened, {EMPLOYEE: inputs})[EMPLOYEE])
    assert [case["data"]["total_score"] for case in cases] == [
        "55" if inputs is BELOW_60 else "60" for inputs in months]
    assert [bool(case["data"].get("performance_report_required")) for case in cases] == [False, False, flagged]
    for period, expected in (("2026-09", False), ("2026-10", False), ("2026-11", flagged)):
        row = sheets_by_employee(department_month(api, period=period))[EMPLOYEE]
        assert row["performance_report_required"] is expected, period


def archivable(api, period: str, interview: str | None) -> dict[str, Any]:
    """zhang's sheet of `period`, confirmed and waiting for HR, with or without an interview record."""
    case = open_sheet(api, {**SHEET, "period": period})
    case = score(api, case, scored({"light_workload": 1}, interview=interview))
    case = api.act(DEPT_HEAD, case, "approve")
    return api.act(EMPLOYEE, case, "confirm")


def test_archiving_needs_an_interview_record_this_month_or_last(api):
    november = archivable(api, "2026-11", interview=None)  # no October sheet at all
    # HR's one step is to ask the supervisor for the record (test_appraisal_rules.py follows it to archived)
    assert offered(api, november["id"], HR) == ["request_interview"]
    error = refused(api, HR, november, "archive", status=422, code="guard_failed")
    assert list(error["fields"]) == ["interview_record"]


def test_archiving_is_refused_when_neither_this_nor_last_month_has_an_interview(api):
    archivable(api, "2026-10", interview=None)
    november = archivable(api, "2026-11", interview=None)
    refused(api, HR, november, "archive", status=422, code="guard_failed")


def test_last_months_interview_record_lets_hr_archive_this_month(api):
    october = archivable(api, "2026-10", interview="Feedback interview on 28 October")
    november = archivable(api, "2026-11", interview=None)
    assert offered(api, november["id"], HR) == ["archive"]
    assert api.act(HR, november, "archive")["state"] == "archived"
    # October was recorded, November was not: the interview lapses in December (every second month).
    december = archivable(api, "2026-12", interview=None)
    refused(api, HR, december, "archive", status=422, code="guard_failed")
    assert october["data"]["interview_record"] == "Feedback interview on 28 October"


def test_the_department_view_shows_whether_an_interview_was_recorded(api, runner):
    hire(api, runner, EMPLOYEE, "1000")
    hire(api, runner, "zhao", "1000")
    opened = open_month(api)
    score_opened(api, opened, {EMPLOYEE: scored(interview="Talked on 25 November"), "zhao": scored()})
    rows = sheets_by_employee(department_month(api))
    assert (rows[EMPLOYEE]["interview_recorded"], rows["zhao"]["interview_recorded"]) == (True, False)


# ---------------------------------------------------------------------------------------------- opening a month


def test_opening_a_month_opens_one_sheet_per_active_employee_with_their_template(api, runner):
    hire(api, runner, EMPLOYEE, "1500", "field_service")
    hire(api, runner, "zhao", "1000", "repair")
    api.user("liu", "supervisor")
    hire(api, runner, "qian", "1250", "technical_support", supervisor="liu")
    hire(api, runner, "sun", "1000", "field_service", inactive=True)              # left the department
    hire(api, runner, "wu", "900", "regional_supervisor", department="Sales")    # another department

    result = open_month(api)
    assert result["skipped"] == []
    opened = {row["employee"]: show(api, row["case_id"]) for row in result["opened"]}
    assert {name: (case["state"], case["data"]["template"], case["data"]["supervisor"])
            for name, case in opened.items()} == {
        EMPLOYEE: ("goals", "field_service", SUPERVISOR), "zhao": ("goals", "repair", SUPERVISOR),
        "qian": ("goals", "technical_support", "liu"),
    }
    assert {(case["data"]["department"], case["data"]["period"]) for case in opened.values()} == {(DEPARTMENT, MONTH)}
    assert offered(api, opened["qian"]["id"], "liu") == ["agree_goals"]
    assert api.get(SUPERVISOR, f"/api/v1/cases/{opened['qian']['id']}").status_code == 404  # not li's report

    again = open_month(api)
    assert again["opened"] == []
    assert sorted(row["employee"] for row in again["skipped"]) == ["qian", EMPLOYEE, "zhao"]
    assert all(row["why"] == "a sheet for this month exists already" for row in again["skipped"])
    assert len(department_month(api)["sheets"]) == 3


def test_opening_a_month_from_the_cli(api, runner):
    hire(api, runner, EMPLOYEE, "1500")
    hire(api, runner, "zhao", "1000", "repair")
    args = ["appraisal", "open-month", "--department", DEPARTMENT, "--period", "2026-12", "--by", HR]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert [line.split(" for ")[1] for line in first.output.splitlines()] == [EMPLOYEE, "zhao"]
    again = runner.invoke(args=args)
    assert again.output.splitlines() == [f"skipped {EMPLOYEE}: a sheet for this month exists already",
                                         "skipped zhao: a sheet for this month exists already"]
    assert len(department_month(api, period="2026-12")["sheets"]) == 2


def test_who_may_open_a_month_and_for_what(api, runner):
    hire(api, runner, EMPLOYEE, "1500")
    for user in (EMPLOYEE, SUPERVISOR):  # HR opens a department's month; a supervisor opens single sheets
        response = api.post(user, "/api/v1/appraisal/months", {"department": DEPARTMENT, "period": MONTH})
        assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert open_month(api)["opened"][0]["employee"] == EMPLOYEE
    response = api.post(HR, "/api/v1/appraisal/months", {"department": "Nobody works here", "period": MONTH})
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found")
    for period in ("2026-13", "2026-1", "November"):
        response = api.post(HR, "/api/v1/appraisal/months", {"department": DEPARTMENT, "period": period})
        assert response.status_code == 400, period
    assert len(department_month(api)["sheets"]) == 1


# ---------------------------------------------------------------------------------------------- linked evidence


def close_complaint_against(api, person: str | None) -> dict[str, Any]:
    """A founded complaint walked along test_paths_complaint's small-loss path, closed holding `person` responsible."""
    path = complaint.PATHS[complaint.SMALL]
    definition = definition_of("complaint")
    case = api.open(complaint.SALES, "complaint", path.data)
    for step in path.steps:
        inputs = step.inputs
        # The step that names the responsible person, whichever the definition makes it (with a penalty that
        # needs a person named, where the step asks for one).
        names = {i.name for i in definition.transitions[step.action].inputs}
        if "responsible_person" in names and person is not None:
            inputs = {**inputs, "responsible_person": person}
            if inputs.get("penalty_kind") == "none":
                inputs["penalty_kind"] = "warning"
        case = api.act(step.user, case, step.action, inputs)
        assert case["state"] == step.to, step
    assert case["state"] == "closed"
    return case


def proposals(api, sheet: dict[str, Any], user: str = SUPERVISOR) -> list[dict[str, Any]]:
    response = api.get(user, f"/api/v1/cases/{sheet['id']}/evidence")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def decide(api, sheet: dict[str, Any], evidence_id: int, decision: str, item: str | None = None,
           user: str = SUPERVISOR):
    return api.post(user, f"/api/v1/cases/{sheet['id']}/evidence/{evidence_id}", {"decision": decision, "item": item})


def test_a_complaint_closed_against_zhang_shows_on_his_open_sheet_as_a_proposed_deduction(api):
    sheet = reach(api, FIRST, "scoring")
    assert proposals(api, sheet) == []
    source = close_complaint_against(api, EMPLOYEE)
    [proposal] = proposals(api, sheet)
    assert {k: proposal[k] for k in ("person", "period", "source_case_id", "source_action", "status", "item")} == {
        "person": EMPLOYEE, "period": MONTH, "source_case_id": source["id"],
        "source_action": history(api, source["id"])[-1]["action"],  # the step that closed it (结案)
        "status": "proposed", "item": None,
    }
    assert proposal["reason"]["en"] == "A customer complaint closed with you held responsible"


def test_a_complaint_closed_without_a_responsible_person_proposes_nothing(api):
    sheet = reach(api, FIRST, "scoring")
    close_complaint_against(api, None)
    assert proposals(api, sheet) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0


def test_the_supervisor_accepts_a_proposal_naming_a_sheet_item_and_it_is_deducted_when_scored(api):
    sheet = reach(api, FIRST, "scoring")
    source = close_complaint_against(api, EMPLOYEE)
    [proposal] = proposals(api, sheet)

    response = decide(api, sheet, proposal["id"], "accept", "verified_complaint")
    assert response.status_code == 200, response.get_json()
    assert {k: response.get_json()[k] for k in ("status", "item", "decided_by")} == {
        "status": "accepted", "item": "verified_complaint", "decided_by": SUPERVISOR}
    # The link: the evidence row points at the sheet, and the sheet's history says where the deduction came from.
    row = db.session.get(Evidence, proposal["id"])
    assert (row.sheet_case_id, row.source_case_id, row.status) == (sheet["id"], source["id"], "accepted")
    notice = history(api, sheet["id"])[-1]
    assert (notice["kind"], notice["action"], notice["actor"], notice["from"], notice["to"]) == (
        "notice", "evidence_accepted", SUPERVISOR, "scoring", "scoring")
    assert notice["inputs"] == {"evidence": proposal["id"], "source_case": source["number"],
                                "item": "verified_complaint"}
    assert show(api, sheet["id"])["state"] == "scoring"

    # li records nothing else: the accepted complaint alone deducts customer communication's 10.
    case = api.act(SUPERVISOR, show(api, sheet["id"]), "score", scored(interview="Went through the complaint"))
    assert case["data"]["sheet"]["from_evidence"] == {"verified_complaint": 1}
    assert case["data"]["sheet"]["result"]["sections"]["customer_communication"] == "0"
    assert totals(case) == ("90", "a", "1.0")


def test_a_deduction_accepted_after_scoring_is_not_lost(api):
    sheet = reach(api, FIRST, "awaiting_archive")
    assert sheet["data"]["total_score"] == "90"
    close_complaint_against(api, EMPLOYEE)
    [proposal] = proposals(api, sheet)
    response = decide(api, sheet, proposal["id"], "accept", "verified_complaint")
    # Either the late proposal is refused, or accepting it takes the complaint's 10 points off the total.
    if response.status_code == 200:
        assert show(api, sheet["id"])["data"]["total_score"] == "80"
    else:
        assert response.get_json()["error"]["code"] == "wrong_state"
        assert proposals(api, sheet)[0]["status"] == "proposed"


def test_a_rejected_proposal_is_not_deducted(api):
    sheet = reach(api, FIRST, "scoring")
    close_complaint_against(api, EMPLOYEE)
    [proposal] = proposals(api, sheet)
    response = decide(api, sheet, proposal["id"], "reject")
    assert (response.status_code, response.get_json()["status"], response.get_json()["item"]) == (
        200, "rejected", None)
    assert db.session.get(Evidence, proposal["id"]).sheet_case_id == sheet["id"]
    assert history(api, sheet["id"])[-1]["action"] == "evidence_rejected"
    case = api.act(SUPERVISOR, show(api, sheet["id"]), "score", scored())
    assert "from_evidence" not in case["data"]["sheet"]
    assert totals(case) == ("100", "a", "1.0")


def test_only_the_sheets_supervisor_decides_a_proposal_and_only_once(api):
    api.user("liu", "supervisor", "dept_head")
    sheet = reach(api, FIRST, "scoring")
    close_complaint_against(api, EMPLOYEE)
    [proposal] = proposals(api, sheet)
    before = len(history(api, sheet["id"]))
    for user, status, code in ((OTHER_SUPERVISOR, 404, "not_found"), ("liu", 404, "not_found"),
                               (DEPT_HEAD, 403, "role_refused"), (HR, 403, "role_refused"),
                               (EMPLOYEE, 403, "role_refused")):
        response = decide(api, sheet, proposal["id"], "accept", "verified_complaint", user=user)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), user
    assert proposals(api, sheet)[0]["status"] == "proposed"
    assert len(history(api, sheet["id"])) == before

    response = decide(api, sheet, proposal["id"], "accept", "attitude")         # a repair-sheet scale
    assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["item"])
    response = decide(api, sheet, proposal["id"], "accept", None)
    assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["item"])
    assert decide(api, sheet, proposal["id"], "maybe").status_code == 400
    assert decide(api, sheet, proposal["id"], "accept", "verified_complaint").status_code == 200
    response = decide(api, sheet, proposal["id"], "reject")
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "wrong_state")


def test_a_proposal_for_someone_else_is_not_on_zhangs_sheet(api):
    api.user("zhao", "employee")
    set_staff(db.session, "zhao", DEPARTMENT, "field_service", Decimal("1000"), SUPERVISOR)
    db.session.commit()
    zhangs = reach(api, FIRST, "scoring")
    zhaos = open_sheet(api, {**SHEET, "employee": "zhao"})
    close_complaint_against(api, "zhao")
    assert proposals(api, zhangs) == []
    [proposal] = proposals(api, zhaos)
    response = decide(api, zhangs, proposal["id"], "accept", "verified_complaint")
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found")


REPAIR = {"customer": "城东酒店", "address": "城东路 1 号", "phone": "0571-0000", "product_model": "KX-9",
          "fault": "不制冷", "area": "town"}


RATING_ASPECTS = ("rating_attitude", "rating_skill", "rating_arrival", "rating_promises")


def callback(api, case: dict[str, Any], rating: int | None) -> dict[str, Any]:
    """The service desk calls the customer back and records their rating (003 篇1 (二十三)): `rating` on one
    of the four aspects (二十五), the best level (4) on the others."""
    inputs = {} if rating is None else {**dict.fromkeys(RATING_ASPECTS, 4), "rating_skill": rating}
    return api.act("service_clerk", case, "record_callback", inputs)


def repaired_on_site(api, technician: str, rating: int | None) -> dict[str, Any]:
    api.user(technician, "employee", "technician")
    case = api.open("service_clerk", "repair_dispatch", REPAIR)
    case = api.act("service_supervisor", case, "dispatch", {"technician": technician})
    case = api.act(technician, case, "arrive")
    case = api.act(technician, case, "fix_on_site",
                   {"work_done": "Refilled the refrigerant", "customer_signed": True, "charged": False})
    return callback(api, case, rating)


def repaired_in_the_workshop(api, technician: str, rating: int) -> dict[str, Any]:
    api.user(technician, "employee", "technician")
    case = api.open("service_clerk", "repair_dispatch", REPAIR)
    case = api.act("service_supervisor", case, "dispatch", {"technician": technician})
    case = api.act(technician, case, "arrive")
    case = api.act(technician, case, "take_back", {"goods_receipt_no": "R-1", "customer_signed": True})
    case = api.act(technician, case, "finish_repair", {"repair_hours": "2"})
    case = api.act("service_supervisor", case, "approve_repair")
    case = api.act(technician, case, "return_goods", {"charged": False, "receipt_recovered": True})
    return callback(api, case, rating)


@pytest.mark.parametrize("rating, proposed", [(1, True), (2, False), (4, False), (None, False)])
def test_a_poor_customer_rating_of_a_technician_is_proposed_on_their_sheet(api, rating, proposed):
    api.user("chen", "employee", "technician")
    set_staff(db.session, "chen", DEPARTMENT, "repair", Decimal("1200"), SUPERVISOR)
    db.session.commit()
    sheet = open_sheet(api, {**SHEET, "employee": "chen", "template": "repair"})
    source = repaired_on_site(api, "chen", rating)
    found = [(p["source_case_id"], p["source_action"], p["status"]) for p in proposals(api, sheet)]
    assert found == ([(source["id"], "record_callback", "proposed")] if proposed else [])


def test_a_poor_rating_when_the_goods_come_back_from_the_workshop_is_proposed_too(api):
    api.user("chen", "employee", "technician")
    set_staff(db.session, "chen", DEPARTMENT, "repair", Decimal("1200"), SUPERVISOR)
    db.session.commit()
    sheet = open_sheet(api, {**SHEET, "employee": "chen", "template": "repair"})
    source = repaired_in_the_workshop(api, "chen", rating=1)
    [proposal] = proposals(api, sheet)
    assert (proposal["person"], proposal["source_case_id"], proposal["source_action"]) == (
        "chen", source["id"], "record_callback")
    assert proposal["reason"]["en"] == "A poor customer rating of your service"
    assert decide(api, sheet, proposal["id"], "accept", "perfunctory_work").status_code == 200


# ---------------------------------------------------------------------------------------------- distribution


def test_the_distribution_shows_counts_against_the_guideline(api, runner):
    grades = {
        EMPLOYEE: scored({"light_workload": 1}),                             # 90 A
        "zhao": scored({"left_post": 1, "light_workload": 1}),               # 65 D
        "qian": scored({"shirked_assignment": 1, "light_workload": 1}),      # 70 C
        "sun": scored({"late_modification": 2, "light_workload": 1}),        # 70 C
        "wu": scored(BELOW_60["sheet"]["occurrences"]),                      # 55 E
    }
    for name in (*grades, "zheng"):
        hire(api, runner, name, "1000")
    cases = score_opened(api, open_month(api), grades)   # zheng's sheet stays unscored: not counted
    assert sorted(case["data"]["grade"] for case in cases.values()) == ["a", "c", "c", "d", "e"]
    distribution = department_month(api)["distribution"]
    assert {grade: {key: value if key == "count" else Decimal(value) for key, value in share.items()}
            for grade, share in distribution.items()} == {
        "A": {"count": 1, "share": 20, "guideline": 4, "deviation": 16, "expected": Decimal("0.2")},
        "B": {"count": 0, "share": 0, "guideline": 6, "deviation": -6, "expected": Decimal("0.3")},
        "C": {"count": 2, "share": 40, "guideline": 60, "deviation": -20, "expected": 3},
        "D": {"count": 1, "share": 20, "guideline": 20, "deviation": 0, "expected": 1},
        "E": {"count": 1, "share": 20, "guideline": 10, "deviation": 10, "expected": Decimal("0.5")},
    }


# ------------------------------------------------------------------------------ the slice's extension points


def test_the_staff_register_is_where_the_engine_finds_departments_and_unplugged_nobody_has_one(api, monkeypatch):
    sheet = open_sheet(api)
    assert policy.department_of(db.session, DEPT_HEAD) == SHEET["department"]
    assert api.get(DEPT_HEAD, f"/api/v1/cases/{sheet['id']}").status_code == 200
    # Without the slice's handler the engine fails closed: a department role sees none of its department's cases.
    monkeypatch.setattr(extensions, "_registry", dataclasses.replace(extensions._registry, departments=None))
    db.session.commit()  # a user's department is read once per transaction (policy.department_of)
    assert policy.department_of(db.session, DEPT_HEAD) is None
    assert api.get(DEPT_HEAD, f"/api/v1/cases/{sheet['id']}").status_code == 404
    assert api.get(HR, f"/api/v1/cases/{sheet['id']}").status_code == 200  # a reader of every case still reads it


def test_the_engine_hands_a_score_sheet_to_the_completer_the_slice_registered_for_its_field_type(api, monkeypatch):
    sheet = reach(api, FIRST, "scoring")
    registered, seen = extensions._registry.field_types["scoresheet"], []

    def watched(session, definition, typed_inputs, data):
        seen.append(sorted(typed_inputs))
        registered(session, definition, typed_inputs, data)

    monkeypatch.setitem(extensions._registry.field_types, "scoresheet", watched)
    case = api.act(SUPERVISOR, sheet, "score", scored(interview="talked it over"))
    assert seen == [["interview_record", "sheet"]]
    assert Decimal(case["data"]["total_score"]) == 100
