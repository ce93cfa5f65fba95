"""Timers at work: due times, overdue marks, warnings, transitions fired by `system`, notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine.worker import fire_due_timers
from workflow.models import Notification, User

RETURN = {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}
RECEIPT = {"received_quantity": 3, "packaging_intact": True, "heavy_damage": False, "rain_wetted": False,
           "returned_by": "王五"}


def tick(clock, now: datetime):
    report = fire_due_timers(lambda: Session(db.engine), clock, now=now)
    db.session.expire_all()
    return report


def timers_of(api, case_id: int, user: str = "service_lead") -> dict[str, dict]:
    body = api.get(user, f"/api/v1/cases/{case_id}").get_json()
    return {t["name"]: t for t in body["timers"]} | {"_case": body}


@pytest.fixture
def received(api, frozen_clock):
    """A return whose goods arrived at T = 2026-11-20 09:00 UTC (17:00 in Shanghai)."""
    case = api.open("service_lead", "return_inspection", RETURN)
    case = api.act("service_lead", case, "collect_opinions", {"application_ref": "RA-1", "opinions": "ok"})
    case = api.act("quality_director", case, "approve")
    return api.act("returns_clerk", case, "receive", RECEIPT), frozen_clock.now


def test_the_48_hour_inspection_window(api, received, frozen_clock, clock):
    case, arrival = received
    frozen_clock.set(arrival + timedelta(hours=47, minutes=59))
    tick(clock, frozen_clock.now)
    timers = timers_of(api, case["id"])
    # still not overdue, but inside its 8-hour warning window: the engine's status says so
    assert timers["inspection"]["status"] == "warning" and timers["_case"]["overdue"] is False
    frozen_clock.set(arrival + timedelta(hours=48))
    tick(clock, frozen_clock.now)
    timers = timers_of(api, case["id"])
    assert timers["inspection"]["status"] == "overdue" and timers["_case"]["overdue"] is True
    assert timers["inspection"]["due_at"] == "2026-11-22T17:00:00+08:00"


def test_the_3_day_and_15_day_deadlines_count_from_arrival(api, received):
    case, _ = received
    timers = timers_of(api, case["id"])
    assert timers["record_to_customer"]["due_at"] == "2026-11-23T17:00:00+08:00"
    assert timers["final_handling"]["due_at"] == "2026-12-05T17:00:00+08:00"
    assert timers["final_handling"]["warn_at"] == "2026-12-03T17:00:00+08:00"


def test_silence_after_sending_the_record_is_consent_exactly_two_days_later(api, received, frozen_clock, clock, runner):
    case, arrival = received
    frozen_clock.advance(hours=5)
    case = api.act("fg_qa", case, "record_inspection", {"inspection_result": "bearing noise confirmed"})
    case = api.act("quality_director", case, "decide", {"disposition": "exchange"})
    frozen_clock.advance(hours=1)
    sent = frozen_clock.now
    case = api.act("service_lead", case, "send_record", {"sent_via": "email"})

    before = (sent + timedelta(days=2) - timedelta(minutes=1)).isoformat()
    assert "0 transition(s) fired" in runner.invoke(args=["workflow", "tick", "--now", before]).output
    assert timers_of(api, case["id"])["_case"]["state"] == "awaiting_customer"

    exactly = (sent + timedelta(days=2)).isoformat()
    result = runner.invoke(args=["workflow", "tick", "--now", exactly])
    assert "1 transition(s) fired" in result.output, result.output
    db.session.expire_all()
    body = timers_of(api, case["id"])["_case"]
    assert body["state"] == "confirmed"
    last = api.get("auditor", f"/api/v1/cases/{case['id']}/history").get_json()["items"][-1]
    assert (last["actor"], last["action"], last["from"], last["to"]) == (
        "system", "deemed_confirmed", "awaiting_customer", "confirmed")
    assert datetime.fromisoformat(last["at"]) == sent + timedelta(days=2)
    assert body["overdue"] is False  # deemed consent is no lateness
    again = runner.invoke(args=["workflow", "tick", "--now", exactly])
    assert "0 transition(s) fired" in again.output  # exactly once


def test_a_reply_in_time_stops_the_consent_timer(api, received, frozen_clock, clock):
    case, _ = received
    case = api.act("fg_qa", case, "record_inspection", {"inspection_result": "ok"})
    case = api.act("quality_director", case, "decide", {"disposition": "rework"})
    case = api.act("service_lead", case, "send_record", {"sent_via": "fax"})
    frozen_clock.advance(days=1)
    case = api.act("service_lead", case, "customer_confirms")
    report = tick(clock, frozen_clock.now + timedelta(days=5))
    assert report.fired == 0
    history = api.get("auditor", f"/api/v1/cases/{case['id']}/history").get_json()["items"]
    assert [h["actor"] for h in history].count("system") == 0


def test_warning_then_overdue_notify_the_named_roles_once(api, received, frozen_clock, clock):
    case, arrival = received
    api.user("lead2", "service_lead")
    api.user("fg_qa")
    tick(clock, arrival + timedelta(hours=40))      # warn_before 8h
    tick(clock, arrival + timedelta(hours=40, minutes=30))
    tick(clock, arrival + timedelta(hours=48))
    tick(clock, arrival + timedelta(hours=49))
    rows = db.session.execute(
        sa.select(User.name, Notification.kind).join(User, User.id == Notification.user_id)
        .where(Notification.case_id == case["id"]).order_by(Notification.id)).all()
    by_kind: dict[str, list[str]] = {}
    for name, kind in rows:
        by_kind.setdefault(kind, []).append(name)
    assert sorted(by_kind["warning"]) == ["fg_qa", "lead2", "service_lead"]
    assert sorted(by_kind["overdue"]) == ["fg_qa", "lead2", "service_lead"]
    assert "returns_clerk" not in {n for n, _ in rows}


def test_notifications_api_lists_and_marks_read(api, received, clock):
    case, arrival = received
    api.user("fg_qa")
    tick(clock, arrival + timedelta(hours=41))
    tick(clock, arrival + timedelta(hours=48))
    body = api.get("fg_qa", "/api/v1/notifications").get_json()
    kinds = [n["kind"] for n in body["items"]]
    assert kinds == ["overdue", "warning"] and body["unread"] == 2
    assert "48" in body["items"][0]["message"]["en"] and body["items"][0]["case_id"] == case["id"]
    first = body["items"][0]["id"]
    assert api.post("fg_qa", f"/api/v1/notifications/{first}/read").status_code == 200
    assert api.get("fg_qa", "/api/v1/notifications").get_json()["unread"] == 1
    assert api.post("returns_clerk", f"/api/v1/notifications/{first}/read").status_code == 404


def test_tick_reads_an_iso_moment_and_rejects_nonsense(runner, api):
    assert runner.invoke(args=["workflow", "tick", "--now", "yesterday"]).exit_code != 0
    result = runner.invoke(args=["workflow", "tick", "--now", "2026-11-21T08:00:00+08:00"])
    assert result.exit_code == 0 and result.output.startswith("0 case(s)")


def test_the_sweep_skips_what_is_not_due(api, received, clock):
    case, arrival = received
    assert tick(clock, arrival + timedelta(hours=1)).cases == 0
    assert tick(clock, arrival + timedelta(hours=40)).cases == 1
    assert tick(clock, arrival + timedelta(hours=41)).cases == 0


def test_times_are_utc_in_the_database_and_local_in_the_api(api, received):
    case, arrival = received
    due = db.session.scalar(sa.text("SELECT due_at FROM timers WHERE name = 'inspection'"))
    stored = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)  # SQLite keeps naive UTC
    assert stored == arrival + timedelta(hours=48)
