"""Replacement-part request 补件申请 (PROCESSES.md §1): every route through the JSON API, and every refusal.

PATHS, the golden paths of workflow/definitions/paths/replacement_part.yaml, walk a request from the
specialist's analysis to closed by each fulfilment route the quality director can choose (produce, ship
from stock, borrow a finished package), with the returns and failed checks on the way. The coverage test
makes a transition added to replacement_part.yaml without a path fail the suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from .paths import (
    CasePath,
    assert_lock_version_counts_moves,
    assert_paths_cover,
    definition_of,
    golden,
    history,
    inputs_of,
    offered,
    refused,
    walk_to_the_end,
)
from .paths import reach as reach_along

WORKFLOW = "replacement_part"

SPECIALIST, LEAD, DIRECTOR = "service_specialist", "service_lead", "quality_director"
WAREHOUSE, FG_QA, SHIPPER = "warehouse", "fg_qa", "parts_shipper"
SALES_CLERK, SALES_FINANCE, LOGISTICS = "sales_clerk", "sales_finance", "logistics"
EVERY_ROLE = (SPECIALIST, LEAD, DIRECTOR, "production", WAREHOUSE, FG_QA, SHIPPER, SALES_CLERK, SALES_FINANCE,
              LOGISTICS)

PRODUCED = "produced_after_returns_and_a_failed_receiving_check"
CHARGED = "charged_part_shipped_from_stock_after_returned_lists"
PATHS: dict[str, CasePath] = golden(WORKFLOW)  # workflow/definitions/paths/replacement_part.yaml

REQUEST = PATHS[PRODUCED].data
FREE_PART = inputs_of(PATHS[PRODUCED], "analyse")
CHARGED_PART = inputs_of(PATHS[CHARGED], "analyse")
PROMISE = inputs_of(PATHS[PRODUCED], "confirm_with_customer")  # 15 days after the request date
RECEIVING_CHECK_PASSED = inputs_of(PATHS[PRODUCED], "receive_part")


# ---------------------------------------------------------------------------------------------- helpers


def open_request(api, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return api.open(SPECIALIST, WORKFLOW, data or REQUEST)


def reach(api, path: str, state: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new case walked along PATHS[path] until it first stands in `state`."""
    return reach_along(api, lambda api: open_request(api, data), PATHS[path].steps, state)


# ---------------------------------------------------------------------------------------------- paths


def test_paths_take_every_transition_and_end_in_every_final_state():
    assert_paths_cover(definition_of(WORKFLOW), PATHS, system_only=set())


@pytest.mark.parametrize("name", PATHS)
def test_path_through_the_api(api, name):
    path = PATHS[name]
    api.user("everyone", *EVERY_ROLE)
    case = open_request(api)
    assert case["state"] == "submitted"
    case = walk_to_the_end(api, case, path)


def test_version_stays_1_and_lock_version_counts_accepted_moves_only(api):
    path = PATHS["produced_after_returns_and_a_failed_receiving_check"]
    case = open_request(api)
    assert_lock_version_counts_moves(api, case, path.steps)


def test_a_rejected_part_moves_lock_version_even_within_the_same_instant(api):
    """reject_part stays in in_production and sets no case field: only the history row shows the move.

    (Regression: it once changed no column of the case row, so no UPDATE stepped lock_version and a
    client holding the old version could still act.)
    """
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "in_production")
    seen_before = case
    case = api.act(WAREHOUSE, case, "reject_part", {"failure_reason": "Label names the wrong customer"})
    assert case["lock_version"] == seen_before["lock_version"] + 1
    refused(api, LEAD, seen_before, "receive_part", RECEIVING_CHECK_PASSED, status=409, code="stale_version")
    case = api.act(WAREHOUSE, case, "reject_part", {"failure_reason": "Still the wrong label"})
    assert case["lock_version"] == seen_before["lock_version"] + 2


# ---------------------------------------------------------------------------------------------- refusals


def test_only_the_specialist_may_open_a_request(api):
    response = api.post(WAREHOUSE, "/api/v1/cases", {"workflow": WORKFLOW, "data": REQUEST})
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert api.get(SPECIALIST, "/api/v1/cases?workflow=replacement_part").get_json()["total"] == 0


@pytest.mark.parametrize("state, user, action, inputs", [
    ("submitted", LEAD, "analyse", FREE_PART),
    ("lead_review", SPECIALIST, "approve", {}),
    ("director_approval", LEAD, "produce", {"supplier": "purchasing"}),
    ("in_production", SHIPPER, "receive_part", RECEIVING_CHECK_PASSED),
    ("shipped", WAREHOUSE, "confirm_delivery", {"delivered_on": "2026-12-01"}),
])
def test_wrong_role_is_refused(api, state, user, action, inputs):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", state)
    refused(api, user, case, action, inputs, status=403, code="role_refused")


def test_the_lead_may_not_approve_a_request_form_they_opened(api):
    api.user("li", SPECIALIST, LEAD)
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "confirmed")
    case = api.act("li", case, "open_request")
    assert "approve" not in offered(api, case["id"], "li")
    refused(api, "li", case, "approve", status=403, code="four_eyes")
    assert api.act(LEAD, case, "approve")["state"] == "director_approval"


@pytest.mark.parametrize("route, inputs", [
    ("produce", {"supplier": "purchasing"}), ("ship_from_stock", {}), ("borrow", {"supplier": "purchasing"}),
])
def test_the_director_may_not_choose_the_route_for_a_form_they_approved_as_lead(api, route, inputs):
    api.user("wang", LEAD, DIRECTOR)
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "lead_review")
    case = api.act("wang", case, "approve")
    refused(api, "wang", case, route, inputs, status=403, code="four_eyes")
    assert api.act(DIRECTOR, case, route, inputs)["state"] != "director_approval"


@pytest.mark.parametrize("state, issuer, issue, inputs, checker, check", [
    ("awaiting_fg_loading_list", SPECIALIST, "issue_fg_loading_list", {"fg_loading_list_no": "CZ-0009"},
     DIRECTOR, "approve_fg_loading_list"),
    ("awaiting_sales_order", SALES_CLERK, "issue_sales_order", {"sales_order_no": "XS-9", "loading_list_no": "ZC-9"},
     SALES_FINANCE, "audit_sales_order"),
])
def test_no_one_passes_a_list_or_order_they_issued(api, state, issuer, issue, inputs, checker, check):
    api.user("zhao", issuer, checker)
    case = reach(api, "charged_part_shipped_from_stock_after_returned_lists", state)
    case = api.act("zhao", case, issue, inputs)
    assert check not in offered(api, case["id"], "zhao")
    refused(api, "zhao", case, check, status=403, code="four_eyes")
    assert api.act(checker, case, check)["state"] in ("awaiting_sales_order", "in_stock")


@pytest.mark.parametrize("state, action, inputs, field", [
    ("analysed", "confirm_with_customer", {"call_note": "no date agreed"}, "promised_date"),
    ("submitted", "analyse", {"charge": "free"}, "cause"),
    ("lead_review", "return_by_lead", {}, "return_reason"),
    ("director_approval", "produce", {}, "supplier"),
    ("in_production", "reject_part", {"failure_reason": "  "}, "failure_reason"),
    ("in_stock", "ship", {}, "loading_list_no"),
])
def test_missing_required_input_is_refused_and_named(api, state, action, inputs, field):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", state)
    user = {"lead_review": LEAD, "director_approval": DIRECTOR, "in_production": WAREHOUSE,
            "in_stock": SHIPPER}.get(state, SPECIALIST)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert field in error["fields"]


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("analysed", SPECIALIST, "confirm_with_customer", {"promised_date": "5 December"}, "promised_date"),
    ("submitted", SPECIALIST, "analyse", {**CHARGED_PART, "charge_amount": "a lot"}, "charge_amount"),
    ("submitted", SPECIALIST, "analyse", {"cause": "bad_weather", "charge": "free"}, "cause"),
    ("submitted", SPECIALIST, "analyse", {**CHARGED_PART, "charge_amount": "-5"}, "charge_amount"),
    ("in_production", WAREHOUSE, "receive_part", {**RECEIVING_CHECK_PASSED, "packaging_intact": "yes"},
     "packaging_intact"),
    ("submitted", SPECIALIST, "analyse", {**FREE_PART, "colour": "red"}, "colour"),
])
def test_wrong_input_type_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert list(error["fields"]) == [field]


def test_a_charged_part_needs_its_charge_amount(api):
    case = open_request(api)
    error = refused(api, SPECIALIST, case, "analyse", {"cause": "out_of_warranty", "charge": "charged"},
                    status=422, code="guard_failed")
    assert list(error["fields"]) == ["charge_amount"]
    refused(api, SPECIALIST, case, "analyse", {**CHARGED_PART, "charge_amount": "0"},
            status=422, code="guard_failed")
    case = api.act(SPECIALIST, case, "analyse", CHARGED_PART)
    assert case["data"]["charge_amount"] == "350.00"


@pytest.mark.parametrize("analysis, field", [
    ({"cause": "customer_damage", "charge": "free"}, "charge"),            # a customer cause is charged
    ({"cause": "discounted_product", "charge": "free"}, "charge"),
    ({"cause": "development", "charge": "charged", "charge_amount": "80"}, "charge"),  # a quality cause is free
    ({"cause": "material", "charge": "free", "charge_amount": "80"}, "charge_amount"),
])
def test_the_charge_follows_the_cause(api, analysis, field):
    case = open_request(api)
    error = refused(api, SPECIALIST, case, "analyse", analysis, status=422, code="guard_failed")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("promised, accepted", [
    ("2026-11-20", True),    # the request date itself
    ("2026-12-05", True),    # 15 days after the request date
    ("2026-12-06", False),   # 16 days
    ("2026-11-19", False),   # before the request date
])
def test_the_promised_date_is_at_most_15_days_after_the_request_date(api, promised, accepted):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "analysed")
    if accepted:
        case = api.act(SPECIALIST, case, "confirm_with_customer", {"promised_date": promised})
        assert (case["state"], case["data"]["promised_date"]) == ("confirmed", promised)
    else:
        error = refused(api, SPECIALIST, case, "confirm_with_customer", {"promised_date": promised},
                        status=422, code="guard_failed")
        assert list(error["fields"]) == ["promised_date"]
        assert "request date" in error["message"] and "request date" in error["fields"]["promised_date"]


@pytest.mark.parametrize("failed_check", ["packaging_intact", "labels_correct", "inspection_passed"])
def test_a_failed_receiving_check_is_not_received_but_returned_to_production(api, failed_check):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "in_production")
    error = refused(api, WAREHOUSE, case, "receive_part", {**RECEIVING_CHECK_PASSED, failed_check: False},
                    status=422, code="guard_failed")
    assert list(error["fields"]) == [failed_check]
    case = api.act(LEAD, case, "reject_part", {"failure_reason": f"{failed_check} failed"})
    assert case["state"] == "in_production"
    assert history(api, case["id"])[-1]["inputs"] == {"failure_reason": f"{failed_check} failed"}


def test_a_borrowed_package_stays_owed_until_fg_qa_passes_it(api):
    case = reach(api, "borrowed_package_returned_after_a_failed_fg_check", "shipped")
    assert offered(api, case["id"], SPECIALIST) == ["confirm_delivery_on_loan"]
    refused(api, SPECIALIST, case, "confirm_delivery", {"delivered_on": "2026-11-23"},
            status=422, code="guard_failed")
    case = api.act(SPECIALIST, case, "confirm_delivery_on_loan", {"delivered_on": "2026-11-23"})
    assert case["state"] == "package_owed" and case["final"] is False
    case = api.act(WAREHOUSE, case, "return_package")
    error = refused(api, FG_QA, case, "pass_returned_package", {"ledger_signed": False},
                    status=422, code="guard_failed")
    assert list(error["fields"]) == ["ledger_signed"]


def test_a_request_without_a_borrowed_package_closes_on_plain_receipt(api):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "shipped")
    assert offered(api, case["id"], SPECIALIST) == ["confirm_delivery"]
    refused(api, SPECIALIST, case, "confirm_delivery_on_loan", {"delivered_on": "2026-12-03"},
            status=422, code="guard_failed")


@pytest.mark.parametrize("state, user, action, inputs", [
    ("submitted", SHIPPER, "ship", {"loading_list_no": "BZ-0001"}),
    ("analysed", LEAD, "approve", {}),
    ("in_stock", WAREHOUSE, "receive_part", RECEIVING_CHECK_PASSED),
    ("closed", SPECIALIST, "analyse", FREE_PART),
])
def test_wrong_state_is_refused(api, state, user, action, inputs):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", state)
    refused(api, user, case, action, inputs, status=409, code="wrong_state")


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_expected_version_is_refused(api, offset):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "analysed")
    refused(api, SPECIALIST, case, "confirm_with_customer", PROMISE, status=409, code="stale_version",
            expected_version=case["lock_version"] + offset)


# ---------------------------------------------------------------------------------------------- clocks


def test_production_cycle_is_12_days_from_the_order_with_a_warning_at_10(api, frozen_clock):
    case = reach(api, "produced_after_returns_and_a_failed_receiving_check", "director_approval")
    frozen_clock.advance(hours=3)  # 2026-11-20 20:00 in Shanghai
    case = api.act(DIRECTOR, case, "produce", {"supplier": "replenishment_group"})
    timers = {t["name"]: t for t in case["timers"] if t["status"] == "running"}
    assert timers["production_cycle"]["started_at"] == "2026-11-20T20:00:00+08:00"
    assert timers["production_cycle"]["due_at"] == "2026-12-02T20:00:00+08:00"
    assert timers["production_cycle"]["warn_at"] == "2026-11-30T20:00:00+08:00"
    # 15 days from the request date (20 November): due when 5 December is over.
    assert timers["delivery_limit"]["due_at"] == "2026-12-06T00:00:00+08:00"
    case = api.act(WAREHOUSE, case, "receive_part", RECEIVING_CHECK_PASSED)
    assert {t["name"]: t["status"] for t in case["timers"]}["production_cycle"] == "stopped"
