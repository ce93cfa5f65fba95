"""The penalty ledger (workflow/penalties/): loss shares, the sanction thresholds, the monthly cap and its
carry-over, closeout breaches, approval by the roles complaint.yaml names, and the finance CSV.

The numbers are the sources': 400 and 800 yuan and the whole monthly bonus (003 篇1 客户投诉行政处罚准则 (五)),
50 % of the month's bonus at most, the rest in later months (客户投诉经济处罚准则 (三)4), a month's resale
time before a loss is final (行政处罚准则 (一)), 100 yuan per closeout breach (002 §4.5 注).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.operations import set_staff
from workflow.penalties import ledger
from workflow.penalties.models import PenaltyEntry
from workflow.penalties.rules import rules_of, sanction_for, split_loss

from .paths import definition_of, golden, walk

PATHS = golden("complaint")
SMALL = "founded_small_loss_decided_by_the_sales_manager"
RULES = rules_of(definition_of("complaint"))
FINAL = datetime(2026, 12, 19, 16, 0, tzinfo=UTC)  # 20 December in Shanghai: the resale month is over


def closed_complaint(api) -> dict[str, Any]:
    """The golden founded complaint, closed on 20 November 2026 with a responsible loss of 9999.99 yuan."""
    case = api.open("sales", "complaint", PATHS[SMALL].data)
    return walk(api, case, PATHS[SMALL].steps)


def on_register(api, name: str, pay: str = "2000") -> str:
    api.user(name)
    set_staff(db.session, name, "Stamping", "field_service", Decimal(pay), "boss")
    db.session.commit()
    return name


def entries() -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM penalty_entries ORDER BY id"))]


def allocate(api, case_id: int, shares: dict[str, str], user: str = "gm_office", **extra: Any):
    return api.post(user, "/api/v1/penalties/allocations", {
        "case_id": case_id, "shares": [{"person": p, "share": s} for p, s in shares.items()],
        "reason": "Die worn on line 3", **extra})


def decide(api, user: str, entry_id: int, decision: str = "approve"):
    return api.post(user, f"/api/v1/penalties/entries/{entry_id}", {"decision": decision})


def ledger_of(api, person: str, period: str, user: str = "finance") -> dict[str, Any]:
    response = api.get(user, f"/api/v1/penalties/people/{person}/{period}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- the rules, with the sources' numbers ---------------------------------------------------------------


@pytest.mark.parametrize("amount, sanction", [
    ("399", None), ("399.99", None), ("400", "warning"), ("799.99", "warning"), ("800", "minor_demerit"),
    ("1999.99", "minor_demerit"), ("2000", "major_demerit"),    # the whole monthly bonus of 2000
])
def test_the_sanction_follows_the_personal_amount(amount, sanction):
    assert sanction_for(Decimal(amount), Decimal(2000), RULES) == sanction


def test_the_numbers_come_from_the_complaint_definition():
    assert (RULES.warning_amount, RULES.minor_demerit_amount, RULES.monthly_cap_share,
            RULES.closeout_breach_amount, RULES.resale_months) == (400, 800, Decimal("0.5"), 100, 1)
    roles = set(definition_of("complaint").roles)
    assert {RULES.penalty_approver, RULES.penalty_recorder, RULES.report_role, *RULES.report_readers} <= roles
    assert RULES.closeout_breach_approver in definition_of("replacement_part").roles


@pytest.mark.parametrize("shares, parts", [
    ({"li": "100"}, {"li": "9999.99"}),                                  # one person's fault: all theirs
    ({"li": "60", "wang": "40"}, {"li": "5999.99", "wang": "4000.00"}),  # joint fault: by share, to the fen
    ({"li": "33.33", "wang": "33.33", "zhao": "33.34"}, {"li": "3333.00", "wang": "3333.00", "zhao": "3333.99"}),
])
def test_a_loss_is_shared_by_responsibility_and_adds_up(shares, parts):
    split = split_loss(Decimal("9999.99"), {p: Decimal(s) for p, s in shares.items()})
    assert split == {p: Decimal(v) for p, v in parts.items()}
    assert sum(split.values()) == Decimal("9999.99")


# -- sharing a closed complaint's loss ---------------------------------------------------------------------


def test_shares_60_40_are_proposed_for_the_month_the_resale_month_ends(api):
    case = closed_complaint(api)
    on_register(api, "li"), on_register(api, "wang")
    response = allocate(api, case["id"], {"li": "60", "wang": "40"})
    assert response.status_code == 201, response.get_json()
    made = {e["person"]: e for e in response.get_json()["items"]}
    assert {p: (e["amount"], e["share"], e["status"]) for p, e in made.items()} == {
        "li": ("5999.99", "60.00", "proposed"), "wang": ("4000.00", "40.00", "proposed")}
    assert {(e["period"], e["final_on"], e["loss_amount"]) for e in made.values()} == {
        ("2026-12", "2026-12-20", "9999.99")}


@pytest.mark.parametrize("shares, field", [
    ({"li": "60", "wang": "30"}, "shares"),        # 90 %
    ({"li": "60", "wang": "50"}, "shares"),        # 110 %
    ({"li": "100.5"}, "shares"),
    ({"li": "0", "wang": "100"}, "shares"),
    ({"nobody": "100"}, "person"),
])
def test_shares_that_do_not_make_100_percent_are_refused_and_nothing_is_written(api, shares, field):
    case = closed_complaint(api)
    on_register(api, "li"), on_register(api, "wang")
    response = allocate(api, case["id"], shares)
    assert response.status_code in (400, 422), response.get_json()
    assert field in response.get_json()["error"]["fields"] or response.status_code == 400
    assert entries() == []


def test_only_a_complaint_closed_as_founded_has_a_loss_to_share(api):
    case = api.open("sales", "complaint", PATHS[SMALL].data)
    on_register(api, "li")
    response = allocate(api, case["id"], {"li": "100"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "wrong_state")
    assert entries() == []


def test_only_the_gm_office_shares_a_loss(api):
    case = closed_complaint(api)
    on_register(api, "li")
    assert allocate(api, case["id"], {"li": "100"}, user="sales").status_code == 403
    assert allocate(api, case["id"], {"li": "100"}, user="auditor").status_code == 403
    assert entries() == []


def test_a_share_is_approved_by_the_gm_only_after_the_resale_month(api, frozen_clock):
    case = closed_complaint(api)
    on_register(api, "li")
    entry = allocate(api, case["id"], {"li": "100"}).get_json()["items"][0]
    before = entries()
    early = decide(api, "gm", entry["id"])
    assert (early.status_code, early.get_json()["error"]["code"]) == (409, "wrong_state")
    assert "2026-12-20" in early.get_json()["error"]["message"]
    frozen_clock.set(FINAL)
    assert decide(api, "gm_office", entry["id"]).status_code == 403      # records, does not approve
    assert decide(api, "finance", entry["id"]).status_code == 403
    assert entries() == before
    approved = decide(api, "gm", entry["id"])
    assert (approved.status_code, approved.get_json()["status"], approved.get_json()["decided_by"]) == (
        200, "approved", "gm")
    again = decide(api, "gm", entry["id"], "reject")
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "wrong_state")


def test_nobody_approves_a_penalty_they_recorded(api, frozen_clock):
    case = closed_complaint(api)
    on_register(api, "li")
    api.user("both", "gm_office", "gm")
    entry = allocate(api, case["id"], {"li": "100"}, user="both").get_json()["items"][0]
    frozen_clock.set(FINAL)
    assert decide(api, "both", entry["id"]).status_code == 403
    assert decide(api, "gm", entry["id"]).status_code == 200


def test_a_second_allocation_corrects_the_first_which_is_kept_as_superseded(api):
    case = closed_complaint(api)
    on_register(api, "li"), on_register(api, "wang")
    first = allocate(api, case["id"], {"li": "100"}).get_json()["items"]
    second = allocate(api, case["id"], {"li": "50", "wang": "50"}, loss_amount="6000").get_json()["items"]
    assert [(e["person"], e["amount"]) for e in second] == [("li", "3000.00"), ("wang", "3000.00")]
    statuses = {e.id: e.status for e in db.session.scalars(sa.select(PenaltyEntry))}
    assert statuses == {first[0]["id"]: "superseded", second[0]["id"]: "proposed", second[1]["id"]: "proposed"}


# -- the monthly cap and the carry-over -------------------------------------------------------------------


def test_the_cap_holds_back_half_the_bonus_and_carries_the_rest_over_two_months(api, frozen_clock):
    case = closed_complaint(api)
    on_register(api, "li", pay="2000")                       # cap: 50 % of 2000 = 1000 a month
    entry = allocate(api, case["id"], {"li": "100"}, loss_amount="1500").get_json()["items"][0]
    frozen_clock.set(FINAL)
    assert decide(api, "gm", entry["id"]).status_code == 200
    december = ledger_of(api, "li", "2026-12")
    assert (december["cap"], december["capped_due"], december["capped_deducted"], december["carried_out"]) == (
        "1000.00", "1500.00", "1000.00", "500.00")
    january = ledger_of(api, "li", "2027-01")
    assert (january["carried_in"], january["capped_deducted"], january["carried_out"]) == ("500.00", "500.00", "0.00")
    # A warning in January comes on top of what December carried, under the same cap.
    warning = api.post("gm_office", "/api/v1/penalties/entries", {
        "person": "li", "period": "2027-01", "kind": "warning", "reason": "Wrong labels", "amount": "700"})
    assert warning.status_code == 201, warning.get_json()
    assert decide(api, "gm", warning.get_json()["id"]).status_code == 200
    january = ledger_of(api, "li", "2027-01")
    assert (january["carried_in"], january["capped_due"], january["capped_deducted"], january["carried_out"]) == (
        "500.00", "1200.00", "1000.00", "200.00")
    assert ledger_of(api, "li", "2027-02")["capped_deducted"] == "200.00"
    assert ledger.month_entries(db.session, "li", "2027-03").carried_in == 0


def test_a_major_demerit_is_the_whole_monthly_bonus_outside_the_cap(api):
    on_register(api, "li", pay="2000")
    response = api.post("gm_office", "/api/v1/penalties/entries", {
        "person": "li", "period": "2026-11", "kind": "major_demerit", "reason": "Mixed rejects into stock"})
    assert (response.status_code, response.get_json()["amount"]) == (201, "2000.00")
    assert decide(api, "gm", response.get_json()["id"]).status_code == 200
    month = ledger_of(api, "li", "2026-11")
    assert (month["uncapped"], month["capped_deducted"], month["deducted"]) == ("2000.00", "0", "2000.00")


@pytest.mark.parametrize("body, field", [
    ({"kind": "warning", "amount": "1000.01"}, "amount"),     # above the cap of 1000
    ({"kind": "warning", "amount": "399"}, "amount"),         # a warning is 400 yuan or more
    ({"kind": "minor_demerit", "amount": "799"}, "amount"),   # a minor demerit 800 or more
    ({"kind": "minor_demerit", "bases": 2}, "amount"),        # 1600: above the cap of 1000
    ({"kind": "warning", "period": "2026-13"}, "period"),
])
def test_a_penalty_above_the_cap_or_below_its_minimum_is_refused_and_nothing_is_written(api, body, field):
    on_register(api, "li", pay="2000")
    response = api.post("gm_office", "/api/v1/penalties/entries",
                        {"person": "li", "period": "2026-11", "reason": "x", **body})
    assert response.status_code in (400, 422), response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert entries() == []


def test_a_warning_without_an_amount_costs_400_yuan(api):
    on_register(api, "li", pay="2000")
    response = api.post("gm_office", "/api/v1/penalties/entries",
                        {"person": "li", "period": "2026-11", "reason": "Invoice error", "kind": "warning"})
    assert (response.status_code, response.get_json()["amount"]) == (201, "400.00")


def test_someone_off_the_staff_register_has_no_bonus_to_penalise(api):
    api.user("temp")
    response = api.post("gm_office", "/api/v1/penalties/entries",
                        {"person": "temp", "period": "2026-11", "reason": "x", "kind": "warning"})
    assert (response.status_code, list(response.get_json()["error"]["fields"])) == (422, ["person"])
    assert entries() == []


# -- closeout breaches (002 §4.5 注) -----------------------------------------------------------------------


def test_a_closeout_breach_costs_100_yuan_once_per_reference_and_is_approved_by_the_quality_director(api, clock):
    on_register(api, "prod")
    first = ledger.record_closeout_breach(db.session, clock, person="prod", period="2026-11",
                                          reference="closeout-7:BJ202611-001", reason="Part still missing",
                                          recorded_by="system")
    again = ledger.record_closeout_breach(db.session, clock, person="prod", period="2026-11",
                                          reference="closeout-7:BJ202611-001", reason="Part still missing",
                                          recorded_by="system")
    db.session.commit()
    assert first.id == again.id and first.amount == 100 and len(entries()) == 1
    assert decide(api, "gm", first.id).status_code == 403
    assert decide(api, "quality_director", first.id).get_json()["status"] == "approved"
    month = ledger.month_entries(db.session, "prod", "2026-11")
    assert (month.uncapped, month.deducted, [e.id for e in month.entries]) == (100, 100, [first.id])


# -- reading and exporting --------------------------------------------------------------------------------


def test_finance_exports_the_month_as_csv_and_others_see_no_ledger_but_their_own(api, frozen_clock):
    case = closed_complaint(api)
    on_register(api, "li"), on_register(api, "wang")
    for entry in allocate(api, case["id"], {"li": "60", "wang": "40"}).get_json()["items"]:
        frozen_clock.set(FINAL)
        decide(api, "gm", entry["id"])
    response = api.get("finance", "/api/v1/penalties/months/2026-12/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r[0], r[2], r[3], r[4], r[8]) for r in rows[1:]] == [
        ("li", "loss_share", "5999.99", "60.00", "approved"), ("wang", "loss_share", "4000.00", "40.00", "approved")]
    assert [r[10] for r in rows[1:]] == ["1000.00", "1000.00"]       # capped at half of 2000
    assert api.get("sales", "/api/v1/penalties/months/2026-12/export.csv").status_code == 404
    assert api.get("sales", "/api/v1/penalties/people/li/2026-12").status_code == 404
    assert ledger_of(api, "li", "2026-12", user="li")["capped_deducted"] == "1000.00"   # one's own
