"""Returned-goods inspection 退货 (PROCESSES.md §2): every route through the JSON API, and every refusal.

PATHS, the golden paths of workflow/definitions/paths/return_inspection.yaml, settle a return without
goods, refuse one, rework one after the customer disputes the record, and credit one after the company
leader sends the credit application back once. `deemed_confirmed` is the timer's own move (actor
`system`), so no path takes it and people are refused it.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    show,
    timers,
    walk_to_the_end,
)
from .paths import reach as reach_along

WORKFLOW = "return_inspection"

LEAD, DIRECTOR, QC_DIRECTOR = "service_lead", "quality_director", "qc_director"
CLERK, FG_QA, LEADER, FINANCE = "returns_clerk", "fg_qa", "company_leader", "finance"
EVERY_ROLE = (LEAD, DIRECTOR, QC_DIRECTOR, CLERK, FG_QA, LEADER, FINANCE)

EXCHANGED = "exchanged_after_the_customer_disputes_the_record"
CREDITED = "credited_after_the_leader_returns_the_application"
PATHS: dict[str, CasePath] = golden(WORKFLOW)  # workflow/definitions/paths/return_inspection.yaml

APPLICATION = PATHS[EXCHANGED].data
OPINIONS = inputs_of(PATHS[EXCHANGED], "collect_opinions")
GOODS_IN_ORDER = inputs_of(PATHS[EXCHANGED], "receive")
INSPECTION = inputs_of(PATHS[EXCHANGED], "record_inspection")


# ---------------------------------------------------------------------------------------------- helpers


def open_return(api) -> dict[str, Any]:
    return api.open(LEAD, WORKFLOW, APPLICATION)


def reach(api, path: str, state: str) -> dict[str, Any]:
    """A new case walked along PATHS[path] until it first stands in `state`."""
    return reach_along(api, open_return, PATHS[path].steps, state)


# ---------------------------------------------------------------------------------------------- paths


def test_paths_take_every_transition_and_end_in_every_final_state():
    assert_paths_cover(definition_of(WORKFLOW), PATHS, system_only={"deemed_confirmed"})


@pytest.mark.parametrize("name", PATHS)
def test_path_through_the_api(api, name):
    path = PATHS[name]
    api.user("everyone", *EVERY_ROLE)
    case = open_return(api)
    assert case["state"] == "requested" and case["number"] == "TH202611-001"
    case = walk_to_the_end(api, case, path)
    assert [t["status"] for t in case["timers"] if t["status"] != "stopped"] == []


def test_version_stays_1_and_lock_version_counts_accepted_moves_only(api):
    path = PATHS[CREDITED]
    case = open_return(api)
    assert_lock_version_counts_moves(api, case, path.steps)


# ---------------------------------------------------------------------------------------------- approval


@pytest.mark.parametrize("approver", [DIRECTOR, QC_DIRECTOR])
def test_the_quality_director_or_the_qc_director_approves(api, approver):
    case = reach(api, EXCHANGED, "awaiting_approval")
    assert offered(api, case["id"], approver) == ["approve", "refuse"]
    case = api.act(approver, case, "approve")
    assert case["state"] == "approved"
    assert history(api, case["id"])[-1]["actor"] == approver


@pytest.mark.parametrize("user", [LEAD, CLERK, FG_QA, LEADER])
def test_no_one_else_approves_a_return(api, user):
    case = reach(api, EXCHANGED, "awaiting_approval")
    assert offered(api, case["id"], user) == []
    refused(api, user, case, "approve", status=403, code="role_refused")


def test_the_lead_who_collected_the_opinions_may_not_approve_the_return(api):
    api.user("both", LEAD, DIRECTOR)
    case = open_return(api)
    case = api.act("both", case, "collect_opinions", OPINIONS)
    assert offered(api, case["id"], "both") == ["refuse"]
    refused(api, "both", case, "approve", status=403, code="four_eyes")
    assert api.act(QC_DIRECTOR, case, "approve")["state"] == "approved"


def test_the_leader_who_requested_the_credit_may_not_approve_it(api):
    api.user("lead_leader", LEAD, LEADER)
    case = reach(api, CREDITED, "confirmed")
    case = api.act("lead_leader", case, "request_credit", {"credit_report": "Credit 8", "credit_amount": "9300"})
    refused(api, "lead_leader", case, "approve_credit", status=403, code="four_eyes")
    assert api.act(LEADER, case, "approve_credit")["state"] == "credit_approved"


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("state, user, action, inputs", [
    ("requested", CLERK, "collect_opinions", OPINIONS),
    ("approved", FG_QA, "receive", GOODS_IN_ORDER),
    ("received", CLERK, "record_inspection", INSPECTION),
    ("inspected", QC_DIRECTOR, "decide", {"disposition": "rework"}),   # only the quality director decides
    ("decided", FG_QA, "send_record", {"sent_via": "email"}),
])
def test_wrong_role_is_refused(api, state, user, action, inputs):
    case = reach(api, EXCHANGED, state)
    refused(api, user, case, action, inputs, status=403, code="role_refused")


def test_only_finance_posts_the_credit(api):
    case = reach(api, CREDITED, "credit_approved")
    refused(api, LEADER, case, "post_credit", {"voucher_no": "PZ-1"}, status=403, code="role_refused")


def test_deemed_confirmation_is_the_timers_move_never_a_persons(api):
    api.user("everyone", *EVERY_ROLE)
    case = reach(api, EXCHANGED, "awaiting_customer")
    assert "deemed_confirmed" not in offered(api, case["id"], "everyone")
    assert set(offered(api, case["id"], "everyone")) == {"customer_confirms", "customer_disputes"}
    error = refused(api, "everyone", case, "deemed_confirmed", status=403, code="role_refused")
    assert "system" in error["message"]


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("requested", LEAD, "settle_without_return", {}, "settlement"),
    ("awaiting_approval", DIRECTOR, "refuse", {}, "refusal_reason"),
    ("approved", CLERK, "receive", {**GOODS_IN_ORDER, "returned_by": ""}, "returned_by"),
    ("inspected", DIRECTOR, "decide", {"decision_note": "later"}, "disposition"),
    ("awaiting_customer", LEAD, "customer_disputes", {}, "dispute_reason"),
])
def test_missing_required_input_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, EXCHANGED, state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert field in error["fields"]


@pytest.mark.parametrize("state, user, action, inputs, field", [
    ("approved", CLERK, "receive", {**GOODS_IN_ORDER, "received_quantity": "twelve"}, "received_quantity"),
    ("approved", CLERK, "receive", {**GOODS_IN_ORDER, "rain_wetted": "no"}, "rain_wetted"),
    ("inspected", DIRECTOR, "decide", {"disposition": "scrap"}, "disposition"),
    ("decided", LEAD, "send_record", {"sent_via": "pigeon"}, "sent_via"),
    ("requested", LEAD, "settle_without_return", {"settlement": "dealer_discount", "replacement_part_case": 7},
     "replacement_part_case"),
])
def test_wrong_input_type_is_refused_and_named(api, state, user, action, inputs, field):
    case = reach(api, EXCHANGED, state)
    error = refused(api, user, case, action, inputs, status=422, code="invalid_inputs")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("goods", [
    {**GOODS_IN_ORDER, "received_quantity": 11},     # short count
    {**GOODS_IN_ORDER, "packaging_intact": False},
    {**GOODS_IN_ORDER, "heavy_damage": True},
    {**GOODS_IN_ORDER, "rain_wetted": True},
])
def test_a_count_or_packaging_problem_must_be_on_the_handover_note(api, goods):
    case = reach(api, EXCHANGED, "approved")
    error = refused(api, CLERK, case, "receive", goods, status=422, code="guard_failed")
    assert list(error["fields"]) == ["handover_note"]
    case = api.act(CLERK, case, "receive", {**goods, "handover_note": "Noted with the driver"})
    assert case["data"]["handover_note"] == "Noted with the driver"


def test_a_credit_goes_through_the_credit_application_and_nothing_else_does(api):
    credit = reach(api, CREDITED, "confirmed")
    assert offered(api, credit["id"], LEAD) == ["request_credit"]
    refused(api, LEAD, credit, "start_final_handling", status=422, code="guard_failed")
    error = refused(api, LEAD, credit, "request_credit", {"credit_report": "x", "credit_amount": "0"},
                    status=422, code="guard_failed")
    assert list(error["fields"]) == ["credit_amount"]

    exchange = reach(api, EXCHANGED, "confirmed")
    assert offered(api, exchange["id"], LEAD) == ["start_final_handling"]
    refused(api, LEAD, exchange, "request_credit", {"credit_report": "x", "credit_amount": "100"},
            status=422, code="guard_failed")


def test_settling_may_link_a_new_replacement_part_request(api):
    api.open("service_specialist", "replacement_part", {
        "customer": "Hengda Furniture", "product": "Wardrobe W-1200", "part": "Door", "quantity": 1,
        "reason": "Replaces the return", "request_date": "2026-11-20",
    })
    case = open_return(api)
    error = refused(api, LEAD, case, "settle_without_return",
                    {"settlement": "replacement_parts", "replacement_part_case": "BJ202611-999"},
                    status=422, code="invalid_inputs")
    assert list(error["fields"]) == ["replacement_part_case"]
    case = api.act(LEAD, case, "settle_without_return",
                   {"settlement": "replacement_parts", "replacement_part_case": "BJ202611-001"})
    assert (case["state"], case["data"]["replacement_part_case"]) == ("settled", "BJ202611-001")


@pytest.mark.parametrize("state, user, action, inputs", [
    ("requested", DIRECTOR, "approve", {}),
    ("awaiting_approval", CLERK, "receive", GOODS_IN_ORDER),
    ("received", DIRECTOR, "decide", {"disposition": "rework"}),
    ("decided", LEAD, "customer_confirms", {}),
    ("closed", LEAD, "collect_opinions", OPINIONS),
])
def test_wrong_state_is_refused(api, state, user, action, inputs):
    case = reach(api, EXCHANGED, state)
    refused(api, user, case, action, inputs, status=409, code="wrong_state")


@pytest.mark.parametrize("offset", [-1, 1])
def test_stale_expected_version_is_refused(api, offset):
    case = reach(api, EXCHANGED, "inspected")
    refused(api, DIRECTOR, case, "decide", {"disposition": "rework"}, status=409, code="stale_version",
            expected_version=case["lock_version"] + offset)


# ---------------------------------------------------------------------------------------------- clocks


def test_inspection_is_due_48_hours_after_arrival(api, frozen_clock):
    case = reach(api, EXCHANGED, "approved")
    frozen_clock.set(datetime(2026, 11, 21, 2, 30, tzinfo=UTC))  # the goods arrive 10:30 in Shanghai
    case = api.act(CLERK, case, "receive", GOODS_IN_ORDER)
    arrival = history(api, case["id"])[-1]["at"]
    assert arrival == "2026-11-21T10:30:00+08:00"
    running = timers(case)
    assert running["inspection"]["started_at"] == arrival
    assert running["inspection"]["due_at"] == "2026-11-23T10:30:00+08:00"
    assert running["inspection"]["warn_at"] == "2026-11-23T02:30:00+08:00"
    assert running["record_to_customer"]["due_at"] == "2026-11-24T10:30:00+08:00"   # 3 days after arrival
    assert running["final_handling"]["due_at"] == "2026-12-06T10:30:00+08:00"       # 15 days after arrival

    frozen_clock.set(datetime(2026, 11, 23, 2, 29, 59, tzinfo=UTC))
    shown = show(api, case["id"])
    assert timers(shown)["inspection"]["due_at"] == "2026-11-23T10:30:00+08:00"
    assert (timers(shown)["inspection"]["status"], shown["overdue"]) == ("warning", False)  # 8h warning window
    frozen_clock.set(datetime(2026, 11, 23, 2, 30, tzinfo=UTC))
    shown = show(api, case["id"])
    assert (timers(shown)["inspection"]["status"], shown["overdue"]) == ("overdue", True)

    case = api.act(FG_QA, shown, "record_inspection", INSPECTION)
    assert "inspection" not in timers(case)
    assert {t["name"]: t["status"] for t in case["timers"]}["inspection"] == "stopped"


def test_the_customer_has_2_days_from_sending_to_reply(api, frozen_clock):
    case = reach(api, EXCHANGED, "decided")
    frozen_clock.advance(hours=5)
    case = api.act(LEAD, case, "send_record", {"sent_via": "email"})
    assert timers(case)["deemed_consent"]["due_at"] == "2026-11-22T22:00:00+08:00"
    assert "record_to_customer" not in timers(case)
    case = api.act(LEAD, case, "customer_disputes", {"dispute_reason": "Wants an exchange"})
    assert "deemed_consent" not in timers(case)


def test_an_unanswered_record_does_not_make_the_case_overdue(api, frozen_clock):
    """Silence is consent, not lateness: deemed_consent has mark_overdue: false.

    (Regression: the case's `overdue` once counted every expired timer, whatever its mark_overdue.)
    """
    case = reach(api, EXCHANGED, "decided")
    case = api.act(LEAD, case, "send_record", {"sent_via": "email"})
    frozen_clock.advance(days=2, minutes=1)
    shown = show(api, case["id"])
    assert shown["state"] == "awaiting_customer"
    assert shown["overdue"] is False
    assert timers(shown)["deemed_consent"]["status"] != "overdue"
