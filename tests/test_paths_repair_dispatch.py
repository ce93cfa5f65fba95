"""Repair dispatch 报修派工 (PROCESSES.md §5): every route through the JSON API, and every refusal.

PATHS, the golden paths of workflow/definitions/paths/repair_dispatch.yaml, take a repair back to the
workshop, through the supervisor's check that sends it back once, to the customer and a good rating; and
a repair fixed on site that the customer rates poorly, which proposes a deduction on the monthly sheet of
the technician who was sent. The technician is the user `technician`, who is also an employee on the
staff register (the appraisal's sheets are opened only for people on it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from web.extensions import db
from workflow.appraisal import set_staff
from workflow.engine.users import disable_user, user_by_name

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

WORKFLOW = "repair_dispatch"

CLERK, SUPERVISOR, TECHNICIAN = "service_clerk", "service_supervisor", "technician"
EVERY_ROLE = (CLERK, SUPERVISOR, TECHNICIAN)
DEPARTMENT = "After-sales service"

WORKSHOP = "workshop_repair_sent_back_once_then_rated_well"
ON_SITE = "fixed_on_site_then_rated_poorly"
PATHS: dict[str, CasePath] = golden(WORKFLOW)  # workflow/definitions/paths/repair_dispatch.yaml

CALL = PATHS[WORKSHOP].data
FIXED_ON_SITE = inputs_of(PATHS[ON_SITE], "fix_on_site")
FINISHED = inputs_of(PATHS[WORKSHOP], "finish_repair")
RETURNED = inputs_of(PATHS[WORKSHOP], "return_goods")
# 003 篇1 (二十五): attitude, skill, arrival time, promises kept; each 1 (dissatisfied) to 4 (very satisfied).
ASPECTS = ("rating_attitude", "rating_skill", "rating_arrival", "rating_promises")
VERY_SATISFIED = dict.fromkeys(ASPECTS, 4)


# ---------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def api(api):
    # The technician sent is an employee too: a poor rating is proposed on their monthly sheet.
    api.user(TECHNICIAN, TECHNICIAN, "employee")
    return api


def log_call(api, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return api.open(CLERK, WORKFLOW, data or CALL)


def reach(api, path: str, state: str) -> dict[str, Any]:
    """A new case walked along PATHS[path] until it first stands in `state`."""
    return reach_along(api, log_call, PATHS[path].steps, state)


def dispatched_to(api, technician: str) -> dict[str, Any]:
    """A new call with `technician` sent."""
    return api.act(SUPERVISOR, log_call(api), "dispatch", {"technician": technician})


def technicians_sheet(api) -> dict[str, Any]:
    """This month's sheet of the technician, opened by their supervisor (the frozen clock's month)."""
    api.user("supervisor")
    set_staff(db.session, TECHNICIAN, DEPARTMENT, "repair", Decimal("1200"), "supervisor")
    db.session.commit()
    return api.open("supervisor", "appraisal", {"employee": TECHNICIAN, "supervisor": "supervisor",
                                                "department": DEPARTMENT, "period": "2026-11", "template": "repair"})


def proposals(api, sheet: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.get("supervisor", f"/api/v1/cases/{sheet['id']}/evidence")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


# ---------------------------------------------------------------------------------------------- paths


def test_paths_take_every_transition_and_end_in_every_final_state():
    assert_paths_cover(definition_of(WORKFLOW), PATHS, system_only=set(),
                       role_of={role: role for role in EVERY_ROLE})


@pytest.mark.parametrize("name", PATHS)
def test_path_through_the_api(api, name):
    path = PATHS[name]
    api.user("everyone", *EVERY_ROLE)
    case = log_call(api)
    assert (case["state"], case["number"]) == ("call_logged", "BX261120-001")
    case = walk_to_the_end(api, case, path)
    assert timers(case) == {}


def test_version_stays_1_and_lock_version_counts_accepted_moves_only(api):
    assert_lock_version_counts_moves(api, log_call(api), PATHS[WORKSHOP].steps)


# ---------------------------------------------------------------------------------------------- the workshop


def test_the_supervisor_sends_a_repair_back_with_its_reason_and_the_workshop_clock_runs_on(api):
    case = reach(api, WORKSHOP, "supervisor_check")
    assert offered(api, case["id"], SUPERVISOR) == ["approve_repair", "reject_repair"]
    started = timers(case)["workshop_repair"]
    case = api.act(SUPERVISOR, case, "reject_repair", {"reason": "Still hums at full load"})
    assert case["state"] == "in_workshop"
    assert history(api, case["id"])[-1]["inputs"] == {"reason": "Still hums at full load"}
    assert offered(api, case["id"], TECHNICIAN) == ["finish_repair"]
    assert timers(case)["workshop_repair"] == started  # ten working days from taking back, not from the return
    case = api.act(TECHNICIAN, case, "finish_repair", FINISHED)
    case = api.act(SUPERVISOR, case, "approve_repair")
    case = api.act(TECHNICIAN, case, "return_goods", RETURNED)
    assert "workshop_repair" not in timers(case)


def test_the_supervisor_may_not_pass_a_repair_they_finished(api):
    api.user("fang", TECHNICIAN, SUPERVISOR)
    case = dispatched_to(api, "fang")
    case = api.act("fang", case, "arrive")
    case = api.act("fang", case, "take_back", {"goods_receipt_no": "SJ-0002", "customer_signed": True})
    case = api.act("fang", case, "finish_repair", FINISHED)
    assert "approve_repair" not in offered(api, case["id"], "fang")
    refused(api, "fang", case, "approve_repair", status=403, code="four_eyes")
    assert api.act(SUPERVISOR, case, "approve_repair")["state"] == "ready_for_return"


@pytest.mark.parametrize("inputs, field", [
    ({**RETURNED, "receipt_recovered": False}, "receipt_recovered"),   # the customer's receipt comes back
    ({**RETURNED, "fee": None}, "fee"),                                # a charged repair needs its fee
])
def test_the_goods_go_back_only_against_the_receipt_and_a_charged_repair_with_its_fee(api, inputs, field):
    case = reach(api, WORKSHOP, "ready_for_return")
    error = refused(api, TECHNICIAN, case, "return_goods", inputs, status=422, code="guard_failed")
    assert list(error["fields"]) == [field]


# ---------------------------------------------------------------------------------------------- who acts


def test_only_a_technician_can_be_sent(api):
    case = log_call(api)
    error = refused(api, SUPERVISOR, case, "dispatch", {"technician": CLERK}, status=422, code="invalid_inputs")
    assert list(error["fields"]) == ["technician"]


def test_a_disabled_technician_cannot_be_sent(api, clock):
    case = log_call(api)
    api.user(TECHNICIAN, "technician")
    disable_user(db.session, user_by_name(db.session, TECHNICIAN), clock.now())
    db.session.commit()
    error = refused(api, SUPERVISOR, case, "dispatch", {"technician": TECHNICIAN}, status=422, code="invalid_inputs")
    assert "no active user" in error["fields"]["technician"]


def test_only_the_technician_sent_takes_the_technicians_steps(api):
    api.user("other_technician", TECHNICIAN)
    case = reach(api, WORKSHOP, "dispatched")
    refused(api, "other_technician", case, "arrive", status=403, code="role_refused")
    assert offered(api, case["id"], "other_technician") == []
    assert api.act(TECHNICIAN, case, "arrive")["state"] == "on_site"


@pytest.mark.parametrize("state, user, action", [
    ("call_logged", CLERK, "dispatch"),
    ("dispatched", SUPERVISOR, "arrive"),
    ("supervisor_check", TECHNICIAN, "approve_repair"),
    ("returned", TECHNICIAN, "record_callback"),
])
def test_wrong_role_is_refused(api, state, user, action):
    case = reach(api, WORKSHOP, state)
    refused(api, user, case, action, inputs_of(PATHS[WORKSHOP], action), status=403, code="role_refused")


@pytest.mark.parametrize("state, user, action", [
    ("call_logged", TECHNICIAN, "arrive"),
    ("on_site", TECHNICIAN, "finish_repair"),
    ("in_workshop", SUPERVISOR, "approve_repair"),
    ("closed", CLERK, "record_callback"),
])
def test_wrong_state_is_refused(api, state, user, action):
    case = reach(api, WORKSHOP, state)
    refused(api, user, case, action, inputs_of(PATHS[WORKSHOP], action), status=409, code="wrong_state")


# ---------------------------------------------------------------------------------------------- the callback


def test_a_poor_rating_proposes_a_deduction_on_the_sheet_of_the_technician_sent(api):
    sheet = technicians_sheet(api)
    case = reach(api, ON_SITE, "closed")
    assert case["data"]["rating_skill"] == 1  # "dissatisfied" with one aspect of four
    [proposal] = proposals(api, sheet)
    assert (proposal["person"], proposal["source_case_id"], proposal["source_action"], proposal["status"]) == (
        TECHNICIAN, case["id"], "record_callback", "proposed")
    assert proposal["reason"]["en"] == "A poor customer rating of your service"


def test_a_good_rating_proposes_nothing(api):
    sheet = technicians_sheet(api)
    case = reach(api, WORKSHOP, "closed")
    assert [case["data"][a] for a in ASPECTS] == [4, 3, 4, 4]
    assert proposals(api, sheet) == []


def test_the_technician_who_did_the_work_does_not_record_its_rating(api):
    api.user("wei", TECHNICIAN, CLERK)
    case = dispatched_to(api, "wei")
    case = api.act("wei", case, "arrive")
    case = api.act("wei", case, "fix_on_site", FIXED_ON_SITE)
    error = refused(api, "wei", case, "record_callback", VERY_SATISFIED, status=422, code="guard_failed")
    assert list(error["fields"]) == ["rating_attitude"]
    assert api.act(CLERK, case, "record_callback", VERY_SATISFIED)["state"] == "closed"


def test_a_customer_who_cannot_be_reached_leaves_no_rating_and_the_call_closes(api):
    sheet = technicians_sheet(api)
    case = reach(api, ON_SITE, "fixed_on_site")
    case = api.act(CLERK, case, "record_callback", {})
    assert (case["state"], [case["data"].get(a) for a in ASPECTS]) == ("closed", [None] * 4)
    assert proposals(api, sheet) == []


# 003 篇1 (二十五): four aspects, each on four levels; anything else is refused and changes nothing.
@pytest.mark.parametrize("rating, field, code", [
    ({**VERY_SATISFIED, "rating_skill": 5}, "rating_skill", "invalid_inputs"),  # a fifth level
    ({**VERY_SATISFIED, "rating_arrival": 0}, "rating_arrival", "invalid_inputs"),
    ({**VERY_SATISFIED, "rating_promises": "good"}, "rating_promises", "invalid_inputs"),
    ({**VERY_SATISFIED, "rating_attitude": 2.5}, "rating_attitude", "invalid_inputs"),
    ({**VERY_SATISFIED, "rating_price": 4}, "rating_price", "invalid_inputs"),  # a fifth aspect
    ({"rating_attitude": 4, "rating_skill": 4, "rating_arrival": 4}, "rating_attitude", "guard_failed"),  # 3 of 4
    ({"customer_rating": 5}, "customer_rating", "invalid_inputs"),  # the old single 1–5 number
])
def test_a_rating_outside_four_aspects_by_four_levels_is_refused_and_nothing_changes(api, rating, field, code):
    case = reach(api, ON_SITE, "fixed_on_site")
    # refused() also checks that the case's row, history and clocks are unchanged to the byte.
    error = refused(api, CLERK, case, "record_callback", rating, status=422, code=code)
    assert field in error["fields"]
    assert show(api, case["id"])["state"] == "fixed_on_site"


@pytest.mark.parametrize("levels, proposed", [
    ((2, 2, 2, 2), False),  # every aspect fair: not poor
    ((4, 4, 4, 1), True),  # one aspect dissatisfied: poor
    ((1, 1, 1, 1), True),
])
def test_one_dissatisfied_aspect_is_a_poor_rating(api, levels, proposed):
    sheet = technicians_sheet(api)
    case = reach(api, ON_SITE, "fixed_on_site")
    api.act(CLERK, case, "record_callback", dict(zip(ASPECTS, levels, strict=True)))
    assert len(proposals(api, sheet)) == int(proposed)


# ---------------------------------------------------------------------------------------------- 24 hours


def test_within_100_km_the_technician_is_on_site_within_24_hours_and_every_call_is_answered_within_24(api):
    case = api.open(CLERK, WORKFLOW, {**CALL, "distance_km": 100})
    on_site, reply = timers(case)["on_site_24h"], timers(case)["reply_24h"]
    assert on_site["due_at"] == reply["due_at"] == "2026-11-21T17:00:00+08:00"  # opened 20 Nov 17:00
    far = api.open(CLERK, WORKFLOW, {**CALL, "distance_km": 101})
    assert "on_site_24h" not in timers(far) and "reply_24h" in timers(far)
    unknown = api.open(CLERK, WORKFLOW, {k: v for k, v in CALL.items() if k != "distance_km"})
    assert "on_site_24h" not in timers(unknown)
    case = api.act(SUPERVISOR, case, "dispatch", {"technician": TECHNICIAN})
    assert "reply_24h" not in timers(case) and "on_site_24h" in timers(case)
    case = api.act(TECHNICIAN, case, "arrive")
    assert "on_site_24h" not in timers(case)
