"""The clocks of the shipped workflows: complaint reminders and inquiries, appraisal deadlines,
repair dispatch in working hours, company closures and the monthly SLA figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine.worker import fire_due_timers
from workflow.models import HistoryEntry, Notification, User

from .test_paths_complaint import DOMESTIC, FOREIGN, PATHS, SMALL

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def tick(clock, now: datetime):
    report = fire_due_timers(lambda: Session(db.engine), clock, now=now.astimezone(UTC))
    db.session.expire_all()
    return report


def registered_complaint(api, data):
    steps = PATHS[SMALL].steps
    case = api.open("sales", "complaint", data)
    for step in steps[:2]:  # submit, register
        case = api.act(step.user, case, step.action, step.inputs)
    return case


def notices(case_id: int, action: str) -> list[HistoryEntry]:
    return list(db.session.scalars(sa.select(HistoryEntry).where(
        HistoryEntry.case_id == case_id, HistoryEntry.kind == "notice", HistoryEntry.action == action
    ).order_by(HistoryEntry.seq)))


def test_complaint_closure_clock_starts_at_registration_13_days_domestic_17_foreign(api, frozen_clock):
    frozen_clock.set(local(2026, 9, 18, 10))  # a Friday
    domestic = registered_complaint(api, DOMESTIC)
    foreign = registered_complaint(api, FOREIGN)
    assert [t["due_at"] for t in domestic["timers"]] == ["2026-10-01T10:00:00+08:00"]
    assert [t["name"] for t in domestic["timers"]] == ["closure_domestic"]
    assert [t["due_at"] for t in foreign["timers"]] == ["2026-10-05T10:00:00+08:00"]
    assert domestic["number"] == "2609-01" and foreign["number"] == "2609-02"


def test_overdue_complaint_gets_a_reminder_each_working_day_and_none_on_holidays(api, frozen_clock, clock):
    frozen_clock.set(local(2026, 9, 18, 10))
    case = registered_complaint(api, DOMESTIC)
    api.user("quality2", "quality_dept")
    api.user("quality_dept")
    for day in range(1, 14):  # 1 to 13 October, an evening sweep each day
        tick(clock, local(2026, 10, day, 18))
    reminders = notices(case["id"], "reminder")
    days = [h.at.astimezone(SHANGHAI).date() for h in reminders]
    # 1–7 October are the National Day holidays; Saturday the 10th is a make-up working day; the 11th a Sunday.
    assert days == [date(2026, 10, d) for d in (8, 9, 10, 12, 13)]
    assert all(clock.calendar.is_working_day(d) for d in days)
    first = reminders[0]
    assert (first.actor, first.from_state, first.to_state) == (
        "system", "quality_investigation", "quality_investigation")
    assert first.inputs["addressed_to"] == ["quality_dept"] and first.comment.startswith("催办单")
    people = db.session.execute(sa.select(User.name).join(Notification, Notification.user_id == User.id)
                                .where(Notification.kind == "reminder").distinct()).scalars().all()
    assert sorted(people) == ["quality2", "quality_dept"]
    # the case did not move: the reminder leaves state and lock_version alone
    frozen_clock.set(local(2026, 10, 13, 18))
    body = api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()
    assert (body["state"], body["lock_version"], body["overdue"]) == (
        "quality_investigation", case["lock_version"], True)


def test_a_reminder_goes_to_whoever_holds_the_case_then(api, frozen_clock, clock):
    frozen_clock.set(local(2026, 9, 18, 10))
    case = registered_complaint(api, DOMESTIC)
    tick(clock, local(2026, 10, 8, 18))
    frozen_clock.set(local(2026, 10, 9, 9))
    step = PATHS[SMALL].steps[2]
    case = api.act(step.user, case, step.action, step.inputs)  # to countermeasure: manufacturing holds it
    tick(clock, local(2026, 10, 9, 18))
    addressed = [h.inputs["addressed_to"] for h in notices(case["id"], "reminder")]
    assert addressed == [["quality_dept"], ["manufacturing"]]


def test_a_complaint_closed_late_carries_the_inquiry(api, frozen_clock, clock, runner):
    frozen_clock.set(local(2026, 9, 18, 10))
    case = registered_complaint(api, DOMESTIC)
    tick(clock, local(2026, 10, 8, 18))
    frozen_clock.set(local(2026, 10, 9, 9))
    for step in PATHS[SMALL].steps[2:]:
        case = api.act(step.user, case, step.action, step.inputs)
    assert case["state"] == "closed"
    inquiries = notices(case["id"], "inquiry")
    assert len(inquiries) == 1 and inquiries[0].comment.startswith("洽办单")
    # quality_dept held the case when it ran late, and everyone after it until closure
    assert {"quality_dept", "manufacturing", "gm_office", "sales"} <= set(inquiries[0].inputs["addressed_to"])
    assert "closure_domestic" == inquiries[0].inputs["timer"]
    timers = {t["name"]: t for t in case["timers"]}
    assert timers["closure_domestic"]["status"] == "stopped_late"
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    figures = api.get("auditor", "/api/v1/sla?workflow=complaint&month=2026-10").get_json()
    assert figures["cases"] == {"on_time": 0, "late": 1}
    assert figures["timers"]["late"] == 1 and figures["late_by_state"] == {"quality_investigation": 1}
    assert figures["late"][0]["number"] == "2609-01"


def test_a_complaint_closed_in_time_has_no_inquiry(api, frozen_clock, clock):
    frozen_clock.set(local(2026, 11, 2, 10))
    case = registered_complaint(api, DOMESTIC)
    for step in PATHS[SMALL].steps[2:]:
        case = api.act(step.user, case, step.action, step.inputs)
    tick(clock, local(2026, 12, 1, 10))
    assert notices(case["id"], "inquiry") == [] and notices(case["id"], "reminder") == []
    figures = api.get("auditor", "/api/v1/sla?workflow=complaint&month=2026-11").get_json()
    assert figures["cases"] == {"on_time": 1, "late": 0}


def test_appraisal_deadlines_are_the_10th_and_the_20th_of_the_next_month(api, frozen_clock):
    from .test_paths_appraisal import PATHS as APPRAISAL_PATHS  # noqa: PLC0415
    from .test_paths_appraisal import SHEET, SUPERVISOR, people  # noqa: PLC0415

    people(api)  # zhang, li, wang and hr, each with the role the sheet needs
    path = next(iter(APPRAISAL_PATHS.values()))
    case = api.open(SUPERVISOR, "appraisal", SHEET)
    for step in path.steps:
        case = api.act(step.user, case, step.action, step.inputs)
        timers = {t["name"]: t["due_at"] for t in case["timers"]}
        if "dept_review_due" in timers:
            assert timers["dept_review_due"].endswith("T00:00:00+08:00")
        if "archive_due" in timers:
            assert timers["archive_due"].endswith("T00:00:00+08:00")
    period = case["data"]["period"]
    year, month = (int(p) for p in period.split("-"))
    nxt = date(year + month // 12, month % 12 + 1, 1)
    all_timers = {t["name"]: t["due_at"] for t in case["timers"]}
    assert all_timers["dept_review_due"] == f"{nxt.replace(day=11).isoformat()}T00:00:00+08:00"
    assert all_timers["archive_due"] == f"{nxt.replace(day=21).isoformat()}T00:00:00+08:00"


REPAIR = {"customer": "城东酒店", "address": "城东路 1 号", "phone": "0571-0000", "product_model": "KX-9",
          "fault": "不制冷", "area": "town"}


def test_repair_dispatch_needs_a_technician_on_site_within_6_working_hours_in_town(api, frozen_clock):
    frozen_clock.set(local(2026, 2, 13, 16))  # Friday before the Spring Festival
    town = api.open("service_clerk", "repair_dispatch", REPAIR)
    suburb = api.open("service_clerk", "repair_dispatch", {**REPAIR, "area": "suburb"})
    # Beside the arrival clock, the 24-hour answer to the call (001 3.2.2) runs on the wall clock.
    assert {t["name"]: t["due_at"] for t in town["timers"]} == {
        "arrival_town": "2026-02-14T13:00:00+08:00", "reply_24h": "2026-02-14T16:00:00+08:00"}
    assert {t["name"]: t["due_at"] for t in suburb["timers"]} == {
        "arrival_suburb": "2026-02-14T14:00:00+08:00", "reply_24h": "2026-02-14T16:00:00+08:00"}
    api.user("technician")  # only a user holding the technician role can be dispatched
    town = api.act("service_supervisor", town, "dispatch", {"technician": "technician"})
    frozen_clock.set(local(2026, 2, 14, 12, 59))
    town = api.act("technician", town, "arrive")
    arrival = next(t for t in town["timers"] if t["name"] == "arrival_town")
    assert arrival["status"] == "stopped" and town["overdue"] is False


RATED_4 = dict.fromkeys(("rating_attitude", "rating_skill", "rating_arrival", "rating_promises"), 4)


def test_repair_dispatch_walks_to_both_ends(api, frozen_clock):
    api.user("technician")
    case = api.open("service_clerk", "repair_dispatch", REPAIR)
    case = api.act("service_supervisor", case, "dispatch", {"technician": "technician"})
    case = api.act("technician", case, "arrive")
    fixed = api.act("technician", case, "fix_on_site",
                    {"work_done": "补充冷媒", "customer_signed": True, "charged": True, "fee": "120"})
    assert fixed["state"] == "fixed_on_site"
    assert api.act("service_clerk", fixed, "record_callback", RATED_4)["state"] == "closed"

    case = api.open("service_clerk", "repair_dispatch", REPAIR)
    case = api.act("service_supervisor", case, "dispatch", {"technician": "technician"})
    case = api.act("technician", case, "arrive")
    api.act("technician", case, "take_back", {"goods_receipt_no": "R-1", "customer_signed": False}, status=422)
    case = api.act("technician", case, "take_back", {"goods_receipt_no": "R-1", "customer_signed": True})
    assert [t["name"] for t in case["timers"] if t["status"] == "running"] == ["workshop_repair"]
    case = api.act("technician", case, "finish_repair", {"repair_hours": "3.5"})
    api.user("supervisor2", "service_supervisor")
    case = api.act("supervisor2", case, "reject_repair", {"reason": "仍有异响"})
    case = api.act("technician", case, "finish_repair", {"repair_hours": "1"})
    case = api.act("service_supervisor", case, "approve_repair")
    case = api.act("technician", case, "return_goods", {"charged": False, "receipt_recovered": True})
    assert case["state"] == "returned" and case["available_actions"] == []  # the technician is done
    case = api.act("service_clerk", case, "record_callback")  # a customer who cannot be reached: no rating
    assert case["state"] == "closed" and not any(k.startswith("rating_") for k in case["data"])


def test_a_company_closure_moves_working_time_deadlines(api, frozen_clock, runner, clock):
    assert runner.invoke(args=["calendar", "close", "2026-11-23", "--reason", "年度盘点"]).exit_code == 0
    assert "2026-11-23  年度盘点" in runner.invoke(args=["calendar", "list"]).output
    tick(clock, frozen_clock.now)  # a sweep loads the closures into the calendar
    frozen_clock.set(local(2026, 11, 20, 16))  # Friday
    case = api.open("service_clerk", "repair_dispatch", REPAIR)
    assert case["timers"][0]["due_at"] == "2026-11-24T13:00:00+08:00"  # Monday the 23rd is closed
    assert runner.invoke(args=["calendar", "reopen", "2026-11-23"]).exit_code == 0
