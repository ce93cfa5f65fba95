"""The appraisal rules of issue 12 (items 1 and 9), with the sources' own numbers:

- 001 §3.3: a sheet scored without a feedback interview still reaches `archived` — HR sends it to the
  supervisor, who records the interview; archived after the 20th, the deadline is marked late;
- 001 §2.3: the forced grade distribution as HR sets it per department (show, reason, block);
- 001 §5.1: the head's pay (coefficient × the head's standard pay, outside the pool), the remainder a
  coefficient below 1 leaves, paid out once a quarter, and the coefficient's bounds;
- 001 §5.4–§5.5 and 奖惩细则 第八条: the yearly view (yearly score, three months below 60 in a row, the year's
  rewards and penalties with their consequences);
- 001 §2.3: a reward on a full sheet is kept (`capped`), not lost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.models import DepartmentHead, DistributionRule

from .test_appraisal import (
    DEPARTMENT,
    GOALS,
    MONTH,
    WORK_DONE,
    hire,
    month_url,
    open_month,
    score,
    score_opened,
    set_coefficient,
)
from .test_paths_appraisal import (
    DEPT_HEAD,
    EMPLOYEE,
    FIRST,
    HR,
    SHEET,
    SUPERVISOR,
    offered,
    people,
    reach,
    refused,
    scored,
    show,
)
from .test_ui import Person, text_of

NO_INTERVIEW = "scored_without_interview_then_recorded"


@pytest.fixture
def api(api):
    people(api)
    return api


def timer_status(case: dict[str, Any], name: str) -> str:
    return next(t["status"] for t in case["timers"] if t["name"] == name)


def without_interview(api) -> dict[str, Any]:
    """zhang's sheet scored 90 with no interview record, approved and confirmed: awaiting archiving."""
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored({"light_workload": 1}))
    case = api.act(DEPT_HEAD, case, "approve")
    case = api.act(EMPLOYEE, case, "confirm")
    assert case["state"] == "awaiting_archive"
    return case


# ------------------------------------------------------------------------------- 1. the feedback interview


def test_a_sheet_scored_without_an_interview_still_reaches_archived(api):
    case = without_interview(api)
    # HR cannot archive it (001 §3.3: the interview record is a condition of a valid appraisal), and is told why
    error = refused(api, HR, case, "archive", status=422, code="guard_failed")
    assert "ask the supervisor for the interview record" in error["message"]
    # ... but has a step: send it to the supervisor, who then holds the sheet
    assert offered(api, case["id"], HR) == ["request_interview"]
    case = api.act(HR, case, "request_interview")
    assert case["state"] == "interview_due"
    assert offered(api, case["id"], SUPERVISOR) == ["record_interview"]
    assert offered(api, case["id"], HR) == []
    case = api.act(SUPERVISOR, case, "record_interview",
                   {"interview_record": "Talked by e-mail, he is on site in Harbin", "interview_by_email": True})
    assert (case["state"], case["data"]["interview_by_email"]) == ("awaiting_archive", True)
    assert offered(api, case["id"], HR) == ["archive"]
    case = api.act(HR, case, "archive")
    assert case["state"] == "archived"
    assert timer_status(case, "archive_due") == "stopped"


def test_the_case_page_tells_hr_what_is_missing(api, app):
    case = without_interview(api)
    api.user("hu", "hr", password="hu-demo-pass")
    hu = Person(app, "hu")
    page = text_of(hu.get(f"/cases/{case['id']}").text)
    # the step HR is offered says what is missing
    assert "Awaiting archiving" in page and "No interview on record: ask the supervisor for it" in page
    # and archiving says why not, in the guard's words
    archive = hu.get(f"/cases/{case['id']}/actions/archive")
    assert archive.status_code == 422
    assert "No feedback interview recorded this month or last month: ask the supervisor" in text_of(archive.text)
    zh = Person(app, "hu", language="zh")
    assert "无绩效面谈记录：退回直接主管补充" in text_of(zh.get(f"/cases/{case['id']}").text)
    assert "本月及上月均无绩效面谈记录：请退回直接主管补充面谈记录" in text_of(
        zh.get(f"/cases/{case['id']}/actions/archive").text)


def test_an_interview_recorded_after_the_20th_archives_the_sheet_late(api, frozen_clock):
    case = without_interview(api)
    case = api.act(HR, case, "request_interview")
    frozen_clock.set(datetime(2026, 12, 21, 2, 0, tzinfo=UTC))  # 21 December in Shanghai: past the 20th
    shown = show(api, case["id"])
    assert (timer_status(shown, "archive_due"), shown["overdue"]) == ("overdue", True)
    case = api.act(SUPERVISOR, shown, "record_interview", {"interview_record": "Held on the 21st, late"})
    case = api.act(HR, case, "archive")
    assert (case["state"], timer_status(case, "archive_due")) == ("archived", "stopped_late")


def test_the_supervisor_must_write_the_record_and_nobody_else_records_it(api):
    case = api.act(HR, without_interview(api), "request_interview")
    error = refused(api, SUPERVISOR, case, "record_interview", {}, status=422, code="invalid_inputs")
    assert list(error["fields"]) == ["interview_record"]
    refused(api, SUPERVISOR, case, "record_interview", {"interview_record": "x" * 4001},
            status=422, code="invalid_inputs")
    for user in (HR, DEPT_HEAD):
        refused(api, user, case, "record_interview", {"interview_record": "Talked"}, status=403,
                code="role_refused")


def test_a_sheet_with_its_interview_is_not_sent_back(api):
    case = reach(api, FIRST, "awaiting_archive")  # scored with an interview record
    assert offered(api, case["id"], HR) == ["archive"]
    error = refused(api, HR, case, "request_interview", status=422, code="guard_failed")
    assert "archive the sheet" in error["message"]


# ------------------------------------------------------------------------------- 2. forced distribution


def distribution_rule(api, rule: Any, user: str = HR, department: str = DEPARTMENT):
    return api.client.put(f"/api/v1/appraisal/departments/{quote(department)}/distribution-rule",
                          json={"rule": rule}, headers=api.headers(user))


def four_sheets(api, runner) -> dict[str, dict[str, Any]]:
    """Four sheets in the department, zhang's already scored 100 (A): 4 % of 4 allows one A."""
    for name in ("zhao", "qian", "sun"):
        hire(api, runner, name, "1000")
    hire(api, runner, EMPLOYEE, "1500")
    opened = open_month(api)
    ids = {row["employee"]: row["case_id"] for row in opened["opened"]}
    first = score(api, show(api, ids[EMPLOYEE]), scored())
    assert first["data"]["grade"] == "a"
    return {name: show(api, ids[name]) for name in ("zhao", "qian", "sun")}


def to_scoring(api, case: dict[str, Any]) -> dict[str, Any]:
    employee, supervisor = case["data"]["employee"], case["data"]["supervisor"]
    case = api.act(supervisor, case, "agree_goals", GOALS)
    case = api.act(employee, case, "sign_agreement")
    case = api.act(supervisor, case, "countersign_agreement")
    return api.act(employee, case, "self_report", WORK_DONE)


def test_by_default_a_second_a_is_only_shown(api, runner):
    sheets = four_sheets(api, runner)
    case = score(api, sheets["zhao"], scored())
    assert case["data"]["sheet"]["result"]["beyond_distribution"] == {
        "grade": "A", "share": "4", "allowed": 1, "taken": 1, "people": 4, "rule": "show"}
    pay = api.get(HR, f"{month_url()}/pay").get_json()
    assert (pay["rule"], pay["allowed"]) == ("show", {"A": 1, "B": 1, "C": 3, "D": 1, "E": 1})


def test_a_second_a_needs_a_written_reason_where_hr_asks_for_one(api, runner):
    sheets = four_sheets(api, runner)
    assert distribution_rule(api, "reason").get_json() == {"department": DEPARTMENT, "rule": "reason"}
    case = to_scoring(api, sheets["zhao"])
    error = refused(api, SUPERVISOR, case, "score", scored(), status=422, code="invalid_inputs")
    assert list(error["fields"]) == ["distribution_reason"]
    assert "4 % of 4 sheet(s) allows 1" in error["fields"]["distribution_reason"]
    # a C is within its share and needs no reason
    c_grade = scored({"left_post": 1})  # 75
    reason = "Zhao ran the Harbin depot alone for the month"
    case = api.act(SUPERVISOR, case, "score", {**scored(), "distribution_reason": reason})
    assert case["state"] == "dept_review"
    pay = api.get(HR, f"{month_url()}/pay").get_json()
    assert pay["beyond_distribution"] == {"zhao": reason}
    qian = api.act(SUPERVISOR, to_scoring(api, sheets["qian"]), "score", c_grade)
    assert (qian["data"]["grade"], "beyond_distribution" in qian["data"]["sheet"]["result"]) == ("c", False)


def test_a_second_a_is_refused_where_hr_blocks_it(api, runner):
    sheets = four_sheets(api, runner)
    assert distribution_rule(api, "block").status_code == 200
    case = to_scoring(api, sheets["zhao"])
    error = refused(api, SUPERVISOR, case, "score", {**scored(), "distribution_reason": "Good month"},
                    status=422, code="invalid_inputs")
    assert list(error["fields"]) == ["sheet"] and "refuse" in error["fields"]["sheet"]
    case = api.act(SUPERVISOR, case, "score", scored({"shirked_assignment": 1}))  # 80: B, within its share
    assert case["data"]["grade"] == "b"


def test_only_hr_sets_the_rule_and_only_to_a_known_one(api, runner):
    for user in (SUPERVISOR, DEPT_HEAD, EMPLOYEE):
        response = distribution_rule(api, "block", user=user)
        assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    for bad in ("forbid", "", None, 3, "show" * 1000):
        response = distribution_rule(api, bad)
        assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["rule"])
    assert distribution_rule(api, "reason", department="x" * 101).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRule)) == 0
    result = runner.invoke(args=["appraisal", "distribution-rule", "--department", DEPARTMENT, "--rule", "block",
                                 "--by", HR])
    assert result.exit_code == 0, result.output
    assert db.session.get(DistributionRule, DEPARTMENT).rule == "block"


# ------------------------------------------------------------------------------- 3. the head's pay, the remainder


def set_head(api, head: str, standard_pay: Any, user: str = HR):
    return api.client.put(f"/api/v1/appraisal/departments/{quote(DEPARTMENT)}/head",
                          json={"head": head, "standard_pay": standard_pay}, headers=api.headers(user))


def the_example_without_its_head(api, runner) -> None:
    """001 §5.1's department: 甲 (the head, S 1500), 乙 1000 (98), 丙 1250 (96), 丁 1000 (90)."""
    hire(api, runner, "zhao", "1000")
    hire(api, runner, "qian", "1250")
    hire(api, runner, "sun", "1000")
    opened = open_month(api)
    score_opened(api, opened, {
        "zhao": scored({"phone_off_occasionally": 1}, adjustments=("commendation",)),
        "qian": scored({"phone_off_occasionally": 1}, adjustments=("warning",)),
        "sun": scored({"light_workload": 1}),
    })


def test_the_head_is_paid_the_coefficient_times_their_standard_pay_outside_the_pool(api, runner):
    the_example_without_its_head(api, runner)
    response = set_head(api, DEPT_HEAD, "1500")
    assert response.get_json() == {"head": DEPT_HEAD, "standard_pay": "1500.00", "pay": "1500"}
    assert set_coefficient(api, "0.9").status_code == 200
    pay = api.get(HR, f"{month_url()}/pay").get_json()
    # 001 §5.1: 0.9 × 1500 = 1350 for the head; the staff's pool 0.9 × (1000 + 1250 + 1000) = 2925
    assert pay["head"] == {"head": DEPT_HEAD, "standard_pay": "1500.00", "pay": "1350"}
    assert (Decimal(pay["pool"]), Decimal(pay["remainder"])) == (Decimal("2925"), Decimal("325"))
    month = api.get(HR, month_url()).get_json()
    pays = {r["employee"]: Decimal(r["performance_pay"]) for r in month["sheets"] if r["performance_pay"]}
    assert pays == {"zhao": 931, "qian": 1140, "sun": 855}  # 2925 shared by S·f, each rounded to the yuan


def test_the_quarter_adds_up_the_remainders_for_the_head_to_pay_out(api, runner):
    the_example_without_its_head(api, runner)
    assert set_coefficient(api, "0.9").status_code == 200                 # November: 325 left
    url = f"/api/v1/appraisal/departments/{quote(DEPARTMENT)}/quarters/2026/4"
    quarter = api.get(HR, url).get_json()
    assert [(m["period"], Decimal(m["remainder"])) for m in quarter["months"]] == [
        ("2026-10", 0), ("2026-11", 325), ("2026-12", 0)]
    assert Decimal(quarter["remainder"]) == 325
    assert set_coefficient(api, "0.8").status_code == 200                 # 0.2 × 3250 = 650
    assert Decimal(api.get(HR, url).get_json()["remainder"]) == 650
    assert api.get(EMPLOYEE, url).status_code == 403
    assert api.get(HR, f"/api/v1/appraisal/departments/{quote(DEPARTMENT)}/quarters/2026/5").status_code == 422
    result = runner.invoke(args=["appraisal", "quarter", "--department", DEPARTMENT, "--year", "2026",
                                 "--quarter", "4"])
    assert result.exit_code == 0 and result.output.splitlines()[-1] == "2026-Q4\t\t\t650.00"


@pytest.mark.parametrize("coefficient", ["0.4", "0.499", "1.501", "2"])
def test_a_coefficient_outside_its_bounds_is_refused_and_nothing_changes(api, runner, coefficient):
    hire(api, runner, EMPLOYEE, "1500")
    assert set_coefficient(api, "0.9").status_code == 200
    response = set_coefficient(api, coefficient)
    error = response.get_json()["error"]
    assert (response.status_code, list(error["fields"])) == (422, ["coefficient"])
    assert "from 0.5 to 1.5" in error["message"]
    assert api.get(HR, month_url()).get_json()["coefficient"] == "0.900"


@pytest.mark.parametrize("head, standard_pay, status", [
    ("nobody", "1500", 404), (DEPT_HEAD, "-1", 422), (DEPT_HEAD, "1500.001", 422), (DEPT_HEAD, "1e12", 422),
    ("x" * 81, "1500", 422),
])
def test_a_head_that_is_no_user_or_a_pay_that_is_no_amount_is_refused(api, head, standard_pay, status):
    response = set_head(api, head, standard_pay)
    assert response.status_code == status, response.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartmentHead)) == 0


def test_only_hr_names_the_head(api, runner):
    response = set_head(api, DEPT_HEAD, "1500", user=DEPT_HEAD)
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    command = ["appraisal", "set-head", "--department", DEPARTMENT, "--head", DEPT_HEAD, "--standard-pay", "1500"]
    assert runner.invoke(args=[*command, "--by", DEPT_HEAD]).exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartmentHead)) == 0
    result = runner.invoke(args=[*command, "--by", HR])
    assert result.exit_code == 0, result.output
    assert db.session.get(DepartmentHead, DEPARTMENT).standard_pay == 1500


# ------------------------------------------------------------------------------- 4. the year


def scored_month(api, period: str, inputs: dict[str, Any]) -> dict[str, Any]:
    case = api.open(SUPERVISOR, "appraisal", {**SHEET, "period": period})
    return score(api, case, inputs)


def test_the_yearly_view_shows_three_months_below_60_and_the_demerits(api, runner):
    # 55 each month (−25 −20), with a demerit each month: 52 — three in a row below 60 (001 §5.4), and three
    # demerits in the year make a major demerit (第八条 (二))
    for period in ("2026-08", "2026-09", "2026-10"):
        case = scored_month(api, period, scored({"left_post": 1, "needed_support": 1}, adjustments=("demerit",)))
        assert case["data"]["total_score"] == "52"
    scored_month(api, "2026-11", scored(adjustments=("merit",)))  # 100, a merit kept though capped
    url = f"/api/v1/appraisal/departments/{quote(DEPARTMENT)}/years/2026"
    year = api.get(HR, url).get_json()
    (person,) = year["people"]
    assert person["employee"] == EMPLOYEE
    assert person["totals"] == {"2026-08": "52", "2026-09": "52", "2026-10": "52", "2026-11": "100"}
    assert (person["yearly_score"], person["three_below_in_a_row"]) == ("64.00", True)
    # the merit offsets one demerit (第八条 (三)); the two left make no major demerit
    assert person["tally"]["recorded"]["demerit"] == 3 and person["tally"]["recorded"]["merit"] == 1
    assert (person["tally"]["net"]["demerit"], person["tally"]["net"]["major_demerit"]) == (2, 0)
    assert [c["en"].split(":")[0] for c in person["consequences"]] == ["Three monthly scores below 60 in a row"]
    assert api.get(EMPLOYEE, url).status_code == 403
    assert api.get(HR, f"/api/v1/appraisal/departments/{quote(DEPARTMENT)}/years/1999").status_code == 422
    result = runner.invoke(args=["appraisal", "year", "--department", DEPARTMENT, "--year", "2026"])
    assert result.exit_code == 0 and result.output.startswith(f"{EMPLOYEE}\t64.00\t4\tThree monthly scores")


def test_a_reward_on_a_full_sheet_is_kept_beside_the_capped_total(api):
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored(adjustments=("merit",), interview="Monthly talk"))
    result = case["data"]["sheet"]["result"]
    assert (result["total"], result["adjustment"], result["capped"]) == ("100", "3", "3")
    assert api.get(HR, f"{month_url()}/pay").get_json()["capped"] == {EMPLOYEE: "3"}
    assert MONTH == case["data"]["period"]
