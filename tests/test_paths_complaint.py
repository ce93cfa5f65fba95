"""Customer complaint 客户投诉 (PROCESSES.md §3): every route through the JSON API, and every refusal.

PATHS, the golden paths of workflow/definitions/paths/complaint.yaml, take a founded domestic complaint
through the sales manager's tier (with the negotiation outcome sent back once), an unfounded one through
the joint inspection 会勘, the R&D review and the deputy GM's tier, and a foreign one whose loss the GM
office corrects into the GM's tier.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.models import Evidence

from .conftest import snapshot
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
    timers,
    walk,
    walk_to_the_end,
)
from .paths import reach as reach_along

WORKFLOW = "complaint"

SALES, GM_OFFICE, QUALITY, MANUFACTURING, RND = "sales", "gm_office", "quality_dept", "manufacturing", "rnd"
SALES_MANAGER, DEPUTY_GM, GM = "sales_manager", "deputy_gm", "gm"
EVERY_ROLE = (SALES, GM_OFFICE, QUALITY, MANUFACTURING, RND, SALES_MANAGER, DEPUTY_GM, GM)
APPROVAL_TIERS = {"approve_by_sales_manager": SALES_MANAGER, "approve_by_deputy_gm": DEPUTY_GM,
                  "approve_by_gm": GM}

SMALL = "founded_small_loss_decided_by_the_sales_manager"
FOREIGN_PATH = "foreign_loss_corrected_into_the_gms_tier"
PATHS: dict[str, CasePath] = golden(WORKFLOW)  # workflow/definitions/paths/complaint.yaml

DOMESTIC = PATHS[SMALL].data
FOREIGN = PATHS[FOREIGN_PATH].data
COMPLAINT_FORM = inputs_of(PATHS[SMALL], "submit")
COUNTERMEASURE = inputs_of(PATHS[SMALL], "propose_countermeasure")


def investigated(needs_rnd: bool) -> list[Step]:
    """The founded complaint of SMALL up to the manager's review, flagged for R&D or not."""
    steps = PATHS[SMALL].steps
    steps = steps[:[s.to for s in steps].index("manager_review") + 1]
    return [s._replace(inputs={**s.inputs, "needs_rnd": needs_rnd}) if s.action == "investigate" else s
            for s in steps]


# ---------------------------------------------------------------------------------------------- helpers


def report(api, data: dict[str, Any] = DOMESTIC) -> dict[str, Any]:
    return api.open(SALES, WORKFLOW, data)


def reach(api, path: str, state: str) -> dict[str, Any]:
    """A new case walked along PATHS[path] until it first stands in `state`."""
    return reach_along(api, lambda api: report(api, PATHS[path].data), PATHS[path].steps, state)


def at_approval(api, loss: str) -> dict[str, Any]:
    """A founded domestic complaint waiting for the approval tier of `loss` yuan."""
    case = reach(api, SMALL, "sales_proposal")
    case = api.act(SALES, case, "propose_handling", {"proposed_handling": "Exchange", "loss_amount": loss})
    return api.act(GM_OFFICE, case, "consolidate", {"consolidated_opinion": "See the proposal"})


def closed_complaint(api, path: str = SMALL) -> dict[str, Any]:
    return walk(api, report(api, PATHS[path].data), PATHS[path].steps)


def complaint_count(api) -> int:
    return api.get("auditor", "/api/v1/cases?workflow=complaint").get_json()["total"]


# ---------------------------------------------------------------------------------------------- paths


def test_paths_take_every_transition_and_end_in_every_final_state():
    assert_paths_cover(definition_of(WORKFLOW), PATHS, system_only=set())


@pytest.mark.parametrize("name", PATHS)
def test_path_through_the_api(api, name):
    path = PATHS[name]
    api.user("everyone", *EVERY_ROLE)
    case = report(api, path.data)
    assert (case["state"], case["number"]) == ("reported", None)
    case = walk_to_the_end(api, case, path)
    assert case["number"] == "2611-01"
    assert timers(case) == {}


def test_version_stays_1_and_lock_version_counts_accepted_moves_only(api):
    path = PATHS["unfounded_after_joint_inspection_and_rnd_review"]
    case = report(api, path.data)
    assert_lock_version_counts_moves(api, case, path.steps)


# ---------------------------------------------------------------------------------------------- approval tiers


@pytest.mark.parametrize("loss, tier", [
    ("0", "approve_by_sales_manager"),
    ("9999.99", "approve_by_sales_manager"),
    ("10000", "approve_by_deputy_gm"),          # the sales manager's limit is below 10000
    ("10000.00", "approve_by_deputy_gm"),
    ("49999.99", "approve_by_deputy_gm"),
    ("50000", "approve_by_gm"),                 # the deputy GM's limit is below 50000
    ("1250000", "approve_by_gm"),
])
def test_the_approval_tier_follows_the_loss_amount(api, loss, tier):
    case = at_approval(api, loss)
    assert case["state"] == "approval"
    for action, approver in APPROVAL_TIERS.items():
        if action == tier:
            assert offered(api, case["id"], approver) == [action]
        else:
            assert offered(api, case["id"], approver) == []
            error = refused(api, approver, case, action, {"decision": "Exchange", "founded": True},
                            status=422, code="guard_failed")
            assert error["message"]
    case = api.act(APPROVAL_TIERS[tier], case, tier, {"decision": "Exchange", "founded": True})
    assert case["state"] == "customer_negotiation"


def test_the_gm_office_correcting_the_loss_moves_the_tier(api):
    case = reach(api, "foreign_loss_corrected_into_the_gms_tier", "consolidation")
    assert case["data"]["loss_amount"] == "48000"
    case = api.act(GM_OFFICE, case, "consolidate", {"consolidated_opinion": "Freight added", "loss_amount": "50000"})
    assert case["data"]["loss_amount"] == "50000"
    assert offered(api, case["id"], DEPUTY_GM) == []
    assert offered(api, case["id"], GM) == ["approve_by_gm"]


@pytest.mark.parametrize("action, approver", APPROVAL_TIERS.items())
def test_the_gm_office_member_who_consolidated_may_not_approve(api, action, approver):
    loss = {SALES_MANAGER: "500", DEPUTY_GM: "20000", GM: "90000"}[approver]
    api.user("both", GM_OFFICE, approver)
    case = reach(api, SMALL, "sales_proposal")
    case = api.act(SALES, case, "propose_handling", {"proposed_handling": "Exchange", "loss_amount": loss})
    case = api.act("both", case, "consolidate", {"consolidated_opinion": "See the proposal"})
    assert offered(api, case["id"], "both") == []
    refused(api, "both", case, action, {"decision": "Exchange", "founded": True}, status=403, code="four_eyes")
    assert api.act(approver, case, action, {"decision": "Exchange", "founded": True})["state"] == \
        "customer_negotiation"


def test_the_sales_manager_may_not_review_an_outcome_they_recorded(api):
    api.user("chen", SALES, SALES_MANAGER)
    case = reach(api, SMALL, "customer_negotiation")
    case = api.act("chen", case, "record_outcome", {"negotiation_outcome": "Accepted", "customer_accepts": True})
    assert offered(api, case["id"], "chen") == ["return_outcome"]
    refused(api, "chen", case, "review_outcome", status=403, code="four_eyes")
    assert api.act(SALES_MANAGER, case, "review_outcome")["state"] == "final_consolidation"


# ---------------------------------------------------------------------------------------------- R&D review


@pytest.mark.parametrize("needs_rnd, route, other", [
    (True, "refer_to_rnd", "refer_to_gm_office"),
    (False, "refer_to_gm_office", "refer_to_rnd"),
])
def test_rnd_reviews_only_a_complaint_flagged_for_it(api, needs_rnd, route, other):
    case = walk(api, report(api), investigated(needs_rnd))
    assert case["state"] == "manager_review" and case["data"]["needs_rnd"] is needs_rnd
    assert offered(api, case["id"], DEPUTY_GM) == [route]
    refused(api, DEPUTY_GM, case, other, {"manager_comment": "ok"}, status=422, code="guard_failed")
    case = api.act(DEPUTY_GM, case, route, {"manager_comment": "ok"})
    assert case["state"] == ("rnd_review" if needs_rnd else "gm_office_check")


# ---------------------------------------------------------------------------------------------- numbers


def register(api, case: dict[str, Any]) -> dict[str, Any]:
    case = api.act(SALES, case, "submit", COMPLAINT_FORM)
    assert case["number"] is None  # submitted is not yet registered
    return api.act(GM_OFFICE, case, "register")


def test_the_gm_office_numbers_complaints_yymm_nn_in_order_of_registration(api, frozen_clock):
    first, second, third, fourth, fifth = (report(api) for _ in range(5))
    assert register(api, second)["number"] == "2611-01"
    assert register(api, first)["number"] == "2611-02"
    frozen_clock.set(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC))   # 30 November, 23:59:59 in Shanghai
    assert register(api, third)["number"] == "2611-03"
    frozen_clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))        # 1 December, 00:00 in Shanghai
    assert register(api, fourth)["number"] == "2612-01"
    assert register(api, fifth)["number"] == "2612-02"
    assert show(api, fourth["id"])["number"] == "2612-01"


def test_the_number_is_kept_when_the_case_moves_on(api):
    case = reach(api, SMALL, "countermeasure")
    assert case["number"] == "2611-01"
    case = api.act(MANUFACTURING, case, "propose_countermeasure", COUNTERMEASURE)
    assert case["number"] == "2611-01"


# ---------------------------------------------------------------------------------------------- re-opened complaints


@pytest.mark.parametrize("path", [SMALL, "unfounded_after_joint_inspection_and_rnd_review"])
def test_a_refused_outcome_is_a_new_complaint_linked_to_the_closed_original(api, path):
    original = closed_complaint(api, path)
    assert original["final"] is True
    for reference in (original["number"], str(original["id"])):
        linked = report(api, {**DOMESTIC, "original_complaint": reference})
        assert linked["data"]["original_complaint"] == original["number"]
        assert linked["state"] == "reported"
    assert show(api, original["id"])["state"] == PATHS[path].final


@pytest.mark.parametrize("state", ["reported", "quality_investigation", "final_consolidation"])
def test_a_new_complaint_may_not_link_an_open_one(api, state):
    open_one = reach(api, SMALL, state)
    reference = open_one["number"] or str(open_one["id"])
    before, count = snapshot(open_one["id"]), complaint_count(api)
    response = api.post(SALES, "/api/v1/cases",
                        {"workflow": WORKFLOW, "data": {**DOMESTIC, "original_complaint": reference}})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (422, "invalid_inputs")
    assert list(error["fields"]) == ["original_complaint"]
    assert (snapshot(open_one["id"]), complaint_count(api)) == (before, count)


@pytest.mark.parametrize("reference", ["2611-99", "99", "BJ202611-001"])
def test_a_new_complaint_may_not_link_an_unknown_one(api, reference):
    api.open("service_specialist", "replacement_part", {     # BJ202611-001 exists, but is no complaint
        "customer": "Hengda Furniture", "product": "Wardrobe", "part": "Hinge", "quantity": 1, "reason": "x",
        "request_date": "2026-11-20"})
    response = api.post(SALES, "/api/v1/cases",
                        {"workflow": WORKFLOW, "data": {**DOMESTIC, "original_complaint": reference}})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], list(error["fields"])) == (422, "invalid_inputs",
                                                                            ["original_complaint"])
    assert complaint_count(api) == 0


@pytest.mark.parametrize("reference", ["²", "99999999999999999999", "0"])
def test_a_reference_that_cannot_be_a_case_id_is_refused_as_invalid_input(api, reference):
    """(Regression: '²'.isdigit() is True but int('²') raises, and 20 digits overflow the id column: both were 500s.)"""
    response = api.post(SALES, "/api/v1/cases",
                        {"workflow": WORKFLOW, "data": {**DOMESTIC, "original_complaint": reference}})
    assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["original_complaint"])


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("state, user, action, inputs", [
    ("registered", SALES, "register", {}),
    ("quality_investigation", MANUFACTURING, "investigate",
     {"cause": "x", "responsible_department": "y", "founded": True, "needs_rnd": False}),
    ("manager_review", GM, "refer_to_gm_office", {"manager_comment": "ok"}),
    ("gm_office_check", SALES, "check", {}),
    ("consolidation", SALES, "consolidate", {"consolidated_opinion": "x"}),
    ("final_consolidation", SALES, "consolidate_outcome", {"final_opinion": "x"}),
    ("responsibility", SALES, "close_unfounded", {}),
])
def test_wrong_role_is_refused(api, state, user, action, inputs):
    case = reach(api, SMALL, state)
    refused(api, user, case, action, inputs, status=403, code="role_refused")


def test_only_rnd_gives_the_rnd_opinion(api):
    case = reach(api, "unfounded_after_joint_inspection_and_rnd_review", "rnd_review")
    refused(api, QUALITY, case, "give_rnd_opinion", {"rnd_opinion": "x"}, status=403, code="role_refused")


def test_only_sales_opens_a_complaint(api):
    response = api.post(GM_OFFICE, "/api/v1/cases", {"workflow": WORKFLOW, "data": DOMESTIC})
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert complaint_count(api) == 0


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "quantity": None}, "quantity"),
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "sample_attached": None}, "sample_attached"),
    ("quality_investigation", QUALITY, "investigate", {"cause": "x", "responsible_department": "y",
                                                       "needs_rnd": False}, "founded"),
    ("sales_proposal", SALES, "propose_handling", {"proposed_handling": "Exchange"}, "loss_amount"),
    ("negotiation_review", SALES_MANAGER, "return_outcome", {}, "reason"),
    ("final_consolidation", GM_OFFICE, "consolidate_outcome", {}, "final_opinion"),
    ("final_approval", SALES_MANAGER, "sign_off_by_sales_manager", {}, "final_decision"),
])
def test_missing_required_input_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, SMALL, state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert field in error["fields"]


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "quantity": "many"}, "quantity"),
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "ship_date": "last week"}, "ship_date"),
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "sample_attached": "yes"}, "sample_attached"),
    ("reported", SALES, "submit", {**COMPLAINT_FORM, "customer_demand": "refund_twice"}, "customer_demand"),
    ("sales_proposal", SALES, "propose_handling", {"proposed_handling": "x", "loss_amount": "ten thousand"},
     "loss_amount"),
    ("sales_proposal", SALES, "propose_handling", {"proposed_handling": "x", "loss_amount": "-1"}, "loss_amount"),
])
def test_wrong_input_type_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, SMALL, state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("form, field", [
    ({**COMPLAINT_FORM, "defective_quantity": 501}, "defective_quantity"),
    ({**COMPLAINT_FORM, "customer_demand": "return_goods", "demand_quantity": None}, "demand_quantity"),
])
def test_an_inconsistent_complaint_form_is_refused(api, form, field):
    case = report(api)
    error = refused(api, SALES, case, "submit", form, status=422, code="guard_failed")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("path, wrong_close, inputs", [
    (SMALL, "close_unfounded", {}),
    ("unfounded_after_joint_inspection_and_rnd_review", "record_responsibility",
     inputs_of(PATHS[SMALL], "record_responsibility")),
])
def test_the_closing_follows_the_decision_on_founded(api, path, wrong_close, inputs):
    case = reach(api, path, "responsibility")
    right = next(s.action for s in PATHS[path].steps if s.to in ("responsibility_approval", "closed_unfounded"))
    assert offered(api, case["id"], GM_OFFICE) == [right]
    before = snapshot(case["id"])
    refused(api, GM_OFFICE, case, wrong_close, inputs, status=422, code="guard_failed")
    assert snapshot(case["id"]) == before


@pytest.mark.parametrize("state, user, action, inputs", [
    ("reported", GM_OFFICE, "register", {}),
    ("registered", QUALITY, "report_joint_inspection", {"joint_inspection_report": "x"}),
    ("consolidation", GM, "approve_by_gm", {"decision": "x", "founded": True}),
    ("negotiation_review", GM_OFFICE, "consolidate_outcome", {"final_opinion": "x"}),
    ("final_consolidation", SALES_MANAGER, "sign_off_by_sales_manager", {"final_decision": "x"}),
    ("closed", SALES, "submit", COMPLAINT_FORM),
])
def test_wrong_state_is_refused(api, state, user, action, inputs):
    case = reach(api, SMALL, state)
    refused(api, user, case, action, inputs, status=409, code="wrong_state")


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_expected_version_is_refused(api, offset):
    case = reach(api, SMALL, "quality_investigation")
    refused(api, QUALITY, case, "investigate", PATHS[SMALL].steps[2].inputs, status=409, code="stale_version",
            expected_version=case["lock_version"] + offset)


# ---------------------------------------------------------------------------------------------- clocks


@pytest.mark.parametrize("data, timer, due", [
    (DOMESTIC, "closure_domestic", "2026-12-03T18:00:00+08:00"),   # 13 days after registration
    (FOREIGN, "closure_foreign", "2026-12-07T18:00:00+08:00"),     # 17 days after registration
])
def test_the_closure_clock_starts_at_registration(api, frozen_clock, data, timer, due):
    case = api.act(SALES, report(api, data), "submit", COMPLAINT_FORM)
    assert timers(case) == {}
    frozen_clock.advance(hours=1)  # registered 18:00 in Shanghai
    case = api.act(GM_OFFICE, case, "register")
    assert set(timers(case)) == {timer}
    assert timers(case)[timer]["started_at"] == "2026-11-20T18:00:00+08:00"
    assert timers(case)[timer]["due_at"] == due

    frozen_clock.set(datetime.fromisoformat(due) - timedelta(seconds=1))
    shown = show(api, case["id"])
    assert set(timers(shown)) == {timer}
    assert timers(shown)[timer]["due_at"] == due
    assert (timers(shown)[timer]["status"], shown["overdue"]) == ("running", False)
    frozen_clock.set(datetime.fromisoformat(due))
    shown = show(api, case["id"])
    assert (timers(shown)[timer]["status"], shown["overdue"]) == ("overdue", True)


def test_the_closure_clock_stops_when_the_complaint_closes(api):
    case = closed_complaint(api)
    stopped = {t["name"]: t for t in case["timers"]}
    assert stopped["closure_domestic"]["status"] == "stopped"
    assert "closure_foreign" not in stopped
    assert case["overdue"] is False


def test_the_gm_office_consolidates_within_1_day(api, frozen_clock):
    case = reach(api, SMALL, "sales_proposal")
    frozen_clock.advance(hours=2)
    case = api.act(SALES, case, "propose_handling", {"proposed_handling": "Exchange", "loss_amount": "100"})
    assert timers(case)["consolidation_due"]["due_at"] == "2026-11-21T19:00:00+08:00"
    case = api.act(GM_OFFICE, case, "consolidate", {"consolidated_opinion": "ok"})
    assert "consolidation_due" not in timers(case)


# ---------------------------------------------------------------------------------------------- second sign-off


SIGN_OFFS = {"sign_off_by_sales_manager": SALES_MANAGER, "sign_off_by_deputy_gm": DEPUTY_GM, "sign_off_by_gm": GM}
TIERS = [("500", "approve_by_sales_manager", "sign_off_by_sales_manager"),
         ("20000", "approve_by_deputy_gm", "sign_off_by_deputy_gm"),
         ("90000", "approve_by_gm", "sign_off_by_gm")]


def at_final_approval(api, loss: str, first: str, consolidator: str = GM_OFFICE) -> dict[str, Any]:
    """A founded complaint of `loss` yuan approved by `first`, negotiated, and consolidated again."""
    case = at_approval(api, loss)
    case = api.act(APPROVAL_TIERS[first], case, first, {"decision": "Exchange", "founded": True})
    case = api.act(SALES, case, "record_outcome", {"negotiation_outcome": "Accepted", "customer_accepts": True})
    case = api.act(SALES_MANAGER, case, "review_outcome")
    return api.act(consolidator, case, "consolidate_outcome", {"final_opinion": "Exchange 40 hinges"})


@pytest.mark.parametrize("loss, first, second", TIERS)
def test_the_tier_that_approved_first_signs_again_after_the_negotiation(api, loss, first, second):
    case = at_final_approval(api, loss, first)
    assert case["state"] == "final_approval"
    for action, approver in SIGN_OFFS.items():
        if action == second:
            assert offered(api, case["id"], approver) == [action]
        else:
            assert offered(api, case["id"], approver) == []
            refused(api, approver, case, action, {"final_decision": "x"}, status=422, code="guard_failed")
    case = api.act(SIGN_OFFS[second], case, second, {"final_decision": "Exchange as agreed"})
    assert case["state"] == "responsibility"
    signers = [h["actor"] for h in history(api, case["id"]) if h["action"] in (first, second)]
    assert signers == [APPROVAL_TIERS[first], SIGN_OFFS[second]] and len(set(signers)) == 1


@pytest.mark.parametrize("loss, first, second", TIERS)
def test_the_gm_office_member_who_consolidated_the_outcome_may_not_sign_it_off(api, loss, first, second):
    api.user("both", GM_OFFICE, SIGN_OFFS[second])
    case = at_final_approval(api, loss, first, consolidator="both")
    assert offered(api, case["id"], "both") == []
    refused(api, "both", case, second, {"final_decision": "x"}, status=403, code="four_eyes")


def test_final_consolidation_is_due_within_1_day_of_the_negotiated_outcome(api, frozen_clock):
    case = reach(api, SMALL, "negotiation_review")
    frozen_clock.advance(hours=3)
    case = api.act(SALES_MANAGER, case, "review_outcome")
    assert timers(case)["final_consolidation_due"]["due_at"] == "2026-11-21T20:00:00+08:00"
    case = api.act(GM_OFFICE, case, "consolidate_outcome", {"final_opinion": "ok"})
    assert "final_consolidation_due" not in timers(case)


# ---------------------------------------------------------------------------------------------- responsibility


RESPONSIBILITY = inputs_of(PATHS[SMALL], "record_responsibility")


def test_only_the_head_the_gm_office_names_approves(api):
    api.user("other_head", "dept_head")
    case = reach(api, SMALL, "responsibility")
    case = api.act(GM_OFFICE, case, "record_responsibility", {**RESPONSIBILITY, "responsible_head": "dept_head"})
    assert offered(api, case["id"], "other_head") == []
    refused(api, "other_head", case, "approve_responsibility", status=422, code="guard_failed")
    assert offered(api, case["id"], "dept_head") == ["approve_responsibility", "return_responsibility"]
    assert api.act("dept_head", case, "approve_responsibility")["state"] == "closed"


def test_without_a_named_head_any_department_head_approves_but_not_the_gm_office(api):
    api.user("other_head", "dept_head")
    case = reach(api, SMALL, "responsibility_approval")
    assert case["data"].get("responsible_head") is None
    refused(api, GM_OFFICE, case, "approve_responsibility", status=403, code="role_refused")
    assert api.act("other_head", case, "approve_responsibility")["state"] == "closed"


@pytest.mark.parametrize("inputs, field", [
    ({**RESPONSIBILITY, "penalty_kind": "warning"}, "responsible_person"),   # a penalty names its person
    ({**RESPONSIBILITY, "responsible_loss": "-1"}, "responsible_loss"),
    ({**RESPONSIBILITY, "penalty_kind": "dismissal"}, "penalty_kind"),
    ({k: v for k, v in RESPONSIBILITY.items() if k != "responsible_loss"}, "responsible_loss"),
])
def test_an_incomplete_responsibility_decision_is_refused(api, inputs, field):
    case = reach(api, SMALL, "responsibility")
    response = api.post(GM_OFFICE, f"/api/v1/cases/{case['id']}/actions/record_responsibility",
                        {"inputs": inputs, "expected_version": case["lock_version"]})
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    assert show(api, case["id"])["state"] == "responsibility"


def test_a_person_held_responsible_gets_a_proposed_deduction_when_the_head_approves(api):
    case = closed_complaint(api, FOREIGN_PATH)
    assert (case["data"]["penalty_kind"], case["data"]["responsible_person"]) == ("warning", "manufacturing")
    rows = db.session.scalars(sa.select(Evidence).where(Evidence.source_case_id == case["id"])).all()
    assert [(e.person, e.source_action) for e in rows] == [("manufacturing", "approve_responsibility")]
