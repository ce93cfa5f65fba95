"""The parts closeout every 15 days (002 §4.5, 注): the service lead lists every part still owed, the quality
director approves the list and instructs a person of production with at most 3 days' grace, and a part still
missing after the grace is a breach: 100 yuan proposed on that person's penalty ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.closeout.models import CloseoutLine, CloseoutList
from workflow.models import HistoryEntry
from workflow.penalties.models import PenaltyEntry

from .test_paths_replacement_part import PRODUCED, RECEIVING_CHECK_PASSED, REQUEST, WAREHOUSE, reach
from .test_ui import Person, text_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/closeouts"
LEAD, DIRECTOR, PRODUCTION = "service_lead", "quality_director", "prod_wang"


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def owed(api, frozen_clock):
    """Two requests whose parts production owes (ordered on 20 November), and one still being analysed."""
    api.user(PRODUCTION, "production")
    frozen_clock.set(local(2026, 11, 20, 10))
    first = reach(api, PRODUCED, "in_production")
    second = reach(api, PRODUCED, "in_production")
    api.open("service_specialist", "replacement_part", REQUEST)
    frozen_clock.set(local(2026, 12, 1, 9))
    return api, first, second


def lists() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(CloseoutList)) or 0


def test_the_lead_lists_every_part_still_owed(owed):
    api, first, second = owed
    response = api.post(LEAD, URL)
    assert response.status_code == 201, response.get_json()
    drawn = response.get_json()
    assert (drawn["drawn_by"], drawn["approved_at"]) == (LEAD, None)
    assert [(line["case_id"], line["number"], line["part"], line["outcome"]) for line in drawn["lines"]] == [
        (first["id"], first["number"], "Left door hinge", "owed"), (second["id"], second["number"], "Left door hinge",
                                                                     "owed")]


def test_one_list_per_15_day_cycle(owed, frozen_clock):
    api, *_ = owed
    assert api.post(LEAD, URL).status_code == 201
    frozen_clock.advance(days=14, hours=23)
    again = api.post(LEAD, URL)
    assert again.status_code == 409 and "15 days" in again.get_json()["error"]["message"]
    assert lists() == 1
    frozen_clock.advance(hours=1)
    assert api.post(LEAD, URL).status_code == 201


def approve(api, list_id: int, instructed: str = PRODUCTION, user: str = DIRECTOR):
    return api.post(user, f"{URL}/{list_id}/approve", {"instructed": instructed})


def test_the_quality_director_approves_and_production_gets_3_days_grace(owed):
    api, first, second = owed
    list_id = api.post(LEAD, URL).get_json()["id"]
    response = approve(api, list_id)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["approved_by"], body["instructed"]) == (DIRECTOR, PRODUCTION)
    assert (body["approved_at"], body["grace_until"]) == ("2026-12-01T09:00:00+08:00", "2026-12-04T09:00:00+08:00")
    # Each request's own history says it is on the approved list, and until when.
    for case in (first, second):
        note = db.session.scalars(sa.select(HistoryEntry).where(
            HistoryEntry.case_id == case["id"], HistoryEntry.kind == "note")).one()
        assert (note.action, note.inputs["closeout_list"], note.inputs["instructed"]) == (
            "closeout", list_id, PRODUCTION)
    assert approve(api, list_id).status_code == 409  # once


@pytest.mark.parametrize("instructed", ["warehouse_li", "nobody", "", "x" * 81])
def test_the_instruction_goes_to_an_active_person_of_production_or_nothing_changes(owed, instructed):
    api, *_ = owed
    api.user("warehouse_li", WAREHOUSE)
    list_id = api.post(LEAD, URL).get_json()["id"]
    response = approve(api, list_id, instructed)
    assert response.status_code in (400, 422)
    assert "instructed" in response.get_json()["error"]["fields"]
    drawn = db.session.get(CloseoutList, list_id)
    db.session.refresh(drawn)
    assert (drawn.approved_at, drawn.approved_by, drawn.instructed, drawn.grace_until) == (None, None, None, None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry).where(
        HistoryEntry.kind == "note")) == 0


def test_who_may_list_approve_and_read(owed):
    api, *_ = owed
    api.user("lead_and_director", LEAD, DIRECTOR)
    api.user("auditor", "auditor")
    api.user("sales", "sales")
    assert api.post("service_specialist", URL).status_code == 403
    assert api.post("auditor", URL).status_code == 403
    assert lists() == 0
    list_id = api.post("lead_and_director", URL).get_json()["id"]
    # Four-eyes: whoever drew the list up does not approve it, whatever roles they hold.
    assert approve(api, list_id, user="lead_and_director").status_code == 403
    assert approve(api, list_id, user=LEAD).status_code == 403
    assert api.get("sales", URL).status_code == 403
    assert api.get("sales", f"{URL}/{list_id}").status_code == 403
    assert [d["id"] for d in api.get("auditor", URL).get_json()["items"]] == [list_id]
    assert api.get("auditor", f"{URL}/{list_id + 1}").status_code == 404


def test_a_part_still_missing_after_the_grace_costs_100_yuan_on_the_instructed_ledger(owed, frozen_clock, runner):
    api, first, second = owed
    list_id = api.post(LEAD, URL).get_json()["id"]
    approve(api, list_id)
    frozen_clock.set(local(2026, 12, 3, 10))  # within the grace the first part arrives
    api.act(WAREHOUSE, first, "receive_part", RECEIVING_CHECK_PASSED)
    result = runner.invoke(args=["closeout", "settle"])
    assert result.exit_code == 0 and "closeout list" not in result.output  # the grace is not over yet
    frozen_clock.set(local(2026, 12, 4, 9, 1))
    result = runner.invoke(args=["closeout", "settle"])
    assert result.exit_code == 0, result.output
    assert f"closeout list {list_id}: 1 breach(es) of 2 part(s)" in result.output
    db.session.expire_all()
    outcomes = {case_id: outcome for case_id, outcome in db.session.execute(
        sa.select(CloseoutLine.case_id, CloseoutLine.outcome))}
    assert outcomes == {first["id"]: "arrived", second["id"]: "breached"}
    [entry] = db.session.scalars(sa.select(PenaltyEntry)).all()
    assert (entry.person, entry.period, entry.kind, entry.amount, entry.status, entry.case_id) == (
        PRODUCTION, "2026-12", "closeout_breach", Decimal("100.00"), "proposed", second["id"])
    # Settling again records nothing twice.
    runner.invoke(args=["closeout", "settle"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PenaltyEntry)) == 1
    shown = api.get(LEAD, f"{URL}/{list_id}").get_json()
    assert [line["penalty_id"] for line in shown["lines"]] == [None, entry.id]
    assert shown["settled_at"] == "2026-12-04T09:01:00+08:00"


def test_a_list_not_approved_is_never_settled(owed, frozen_clock, runner):
    api, *_ = owed
    api.post(LEAD, URL)
    frozen_clock.advance(days=30)
    runner.invoke(args=["closeout", "settle"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PenaltyEntry)) == 0


def test_the_closeout_page_lists_and_approves_without_javascript(app, owed, staff):
    api, first, _ = owed
    staff("lead_zhao", LEAD)
    staff("director_qian", DIRECTOR)
    lead = Person(app, "lead_zhao")
    page = lead.get("/closeouts")
    assert page.status_code == 200 and "Parts owed now: 2" in text_of(page.text)
    assert lead.post("/closeouts").status_code == 302
    shown = text_of(lead.get("/closeouts").text)
    assert "List 1" in shown and first["number"] in shown and "Approve and send" not in shown
    director = Person(app, "director_qian", language="zh")
    assert director.get("/closeouts").status_code == 200
    assert director.post("/closeouts/1/approve", {"instructed": PRODUCTION}).status_code == 302
    shown = text_of(director.get("/closeouts").text)
    assert "补件收尾" in shown and f"收尾指令下达给 {PRODUCTION}" in shown
    staff("sales_sun", "sales")
    assert Person(app, "sales_sun").get("/closeouts").status_code == 403


def test_the_grace_is_the_definitions_3_days(owed):
    api, *_ = owed
    list_id = api.post(LEAD, URL).get_json()["id"]
    body = approve(api, list_id).get_json()
    approved = datetime.fromisoformat(body["approved_at"])
    assert datetime.fromisoformat(body["grace_until"]) - approved == timedelta(days=3)
