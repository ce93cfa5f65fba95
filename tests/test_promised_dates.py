"""The customer's promised delivery date (002 §4.1): a replacement-part request records the request date and
the promised date; one clock runs to the promised date, another to 15 days after the *request* date
(not the day the case was entered), and the format's date-anchored deadline behind both."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.definitions import parse
from workflow.engine.worker import fire_due_timers
from workflow.models import Notification, Timer, User

from .helpers import MINIMAL
from .paths import refused, timers
from .test_paths_replacement_part import FREE_PART, REQUEST, SPECIALIST

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def tick(clock, now: datetime) -> None:
    fire_due_timers(lambda: Session(db.engine), clock, now=now.astimezone(UTC))
    db.session.expire_all()


def notified(case_id: int, user: str, kind: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).join(User, User.id == Notification.user_id)
        .where(Notification.case_id == case_id, User.name == user, Notification.kind == kind)) or 0


def confirmed_request(api, request_date: str, promised: str) -> dict:
    case = api.open(SPECIALIST, "replacement_part", {**REQUEST, "request_date": request_date})
    case = api.act(SPECIALIST, case, "analyse", FREE_PART)
    return api.act(SPECIALIST, case, "confirm_with_customer", {"promised_date": promised})


def status(api, case: dict, name: str) -> str:
    return timers(api.get("auditor", f"/api/v1/cases/{case['id']}").get_json())[name]["status"]


def test_a_promised_date_7_days_out_warns_before_day_7_and_marks_the_case_late_after_it(api, frozen_clock, clock):
    api.user("auditor", "auditor")
    frozen_clock.set(local(2026, 11, 2, 9))
    case = confirmed_request(api, "2026-11-02", "2026-11-09")
    clock_of = timers(case)["promised_delivery"]
    # Due when the promised day is over; the warning two days before.
    assert (clock_of["due_at"], clock_of["warn_at"]) == ("2026-11-10T00:00:00+08:00", "2026-11-08T00:00:00+08:00")

    tick(clock, frozen_clock.set(local(2026, 11, 6, 12)))  # day 4: nothing yet
    assert status(api, case, "promised_delivery") == "running"
    assert notified(case["id"], SPECIALIST, "warning") == 0

    tick(clock, frozen_clock.set(local(2026, 11, 8, 9)))  # day 6, before day 7: the warning
    assert status(api, case, "promised_delivery") == "warning"
    assert notified(case["id"], SPECIALIST, "warning") == 1

    tick(clock, frozen_clock.set(local(2026, 11, 9, 23, 59)))  # still the promised day: not late
    assert not api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()["overdue"]

    tick(clock, frozen_clock.set(local(2026, 11, 10, 0, 1)))  # the promised day is over: late
    shown = api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()
    assert shown["overdue"] and timers(shown)["promised_delivery"]["status"] == "overdue"
    assert notified(case["id"], SPECIALIST, "overdue") == 1
    # The 15-day limit from the request date is still running: the promise was the tighter one.
    assert timers(shown)["delivery_limit"]["status"] == "running"


def test_the_15_day_limit_counts_from_the_request_date_not_from_entering_the_case(api, frozen_clock, clock):
    frozen_clock.set(local(2026, 11, 20, 10))
    late_entry = api.open(SPECIALIST, "replacement_part", {**REQUEST, "request_date": "2026-11-10"})
    limit = timers(late_entry)["delivery_limit"]
    # 15 days after 10 November is the 25th; due when the 25th is over, warned two days earlier.
    assert (limit["due_at"], limit["warn_at"]) == ("2026-11-26T00:00:00+08:00", "2026-11-24T00:00:00+08:00")
    tick(clock, frozen_clock.set(local(2026, 11, 24, 8)))
    assert notified(late_entry["id"], SPECIALIST, "warning") == 1


def test_a_request_entered_more_than_15_days_late_is_overdue_at_the_first_sweep(api, frozen_clock, clock):
    api.user("auditor", "auditor")
    frozen_clock.set(local(2026, 11, 20, 10))
    case = api.open(SPECIALIST, "replacement_part", {**REQUEST, "request_date": "2026-11-01"})
    # No warning in the past: the limit already passed when the case was entered.
    assert timers(case)["delivery_limit"]["warn_at"] is None
    tick(clock, frozen_clock.advance(minutes=1))
    assert api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()["overdue"]
    assert notified(case["id"], SPECIALIST, "overdue") == 1


def test_confirming_again_after_a_return_restarts_the_clock_at_the_new_promised_date(api, frozen_clock):
    frozen_clock.set(local(2026, 11, 2, 9))
    case = confirmed_request(api, "2026-11-02", "2026-11-09")
    case = api.act(SPECIALIST, case, "open_request")
    case = api.act("service_lead", case, "return_by_lead", {"return_reason": "Ask again about the date"})
    case = api.act(SPECIALIST, case, "confirm_with_customer", {"promised_date": "2026-11-12"})
    running = db.session.scalars(sa.select(Timer).where(
        Timer.case_id == case["id"], Timer.name == "promised_delivery", Timer.status == "running")).all()
    assert [t.due_at.astimezone(SHANGHAI).isoformat() for t in running] == ["2026-11-13T00:00:00+08:00"]


def test_shipping_stops_both_delivery_clocks(api, frozen_clock):
    frozen_clock.set(local(2026, 11, 2, 9))
    case = confirmed_request(api, "2026-11-02", "2026-11-09")
    assert {"promised_delivery", "delivery_limit"} <= set(timers(case))
    for actor, action, inputs in (
        (SPECIALIST, "open_request", None), ("service_lead", "approve", None),
        ("quality_director", "ship_from_stock", None),
        (SPECIALIST, "issue_fg_loading_list", {"fg_loading_list_no": "CZ-1"}),
        ("quality_director", "approve_fg_loading_list", None),
        ("sales_clerk", "issue_sales_order", {"sales_order_no": "XS-1", "loading_list_no": "ZC-1"}),
        ("sales_finance", "audit_sales_order", None), ("parts_shipper", "ship", {"loading_list_no": "ZC-1"}),
    ):
        case = api.act(actor, case, action, inputs)
    assert case["state"] == "shipped"
    assert {"promised_delivery", "delivery_limit"}.isdisjoint(timers(case))


def test_a_promised_date_past_the_limit_is_refused_and_starts_no_clock(api, frozen_clock):
    frozen_clock.set(local(2026, 11, 2, 9))
    case = api.open(SPECIALIST, "replacement_part", {**REQUEST, "request_date": "2026-11-02"})
    case = api.act(SPECIALIST, case, "analyse", FREE_PART)
    error = refused(api, SPECIALIST, case, "confirm_with_customer", {"promised_date": "2026-11-18"},
                    status=422, code="guard_failed")
    assert list(error["fields"]) == ["promised_date"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
        Timer.case_id == case["id"], Timer.name == "promised_delivery")) == 0


# ------------------------------------------------------------------------------------- the format


def _with_timer(deadline: str) -> str:
    text = MINIMAL.read_text("utf-8")
    due = "  due: {type: date, label: {en: Due, zh: 到期}}\n"
    text = text.replace("  amount: {type: decimal", due + "  amount: {type: decimal")
    return text.replace("    duration: 2wd\n", f"    deadline: {deadline}\n")


def test_a_deadline_may_count_days_from_a_date_field():
    definition, problems = parse(_with_timer("{field: due, days_after: 15}"), "m.yaml", "minimal")
    assert problems == [] and definition is not None
    assert str(definition.timers[0].deadline) == "end of due + 15 day(s)"


@pytest.mark.parametrize("deadline, code", [
    ("{field: amount, days_after: 3}", "bad_value"),  # not a date
    ("{field: due, days_after: -1}", "bad_value"),
    ("{field: due, days_after: 367}", "bad_value"),
    ("{field: due, days_after: 2, day: 10}", "bad_value"),  # two forms at once
    ("{field: due, months_after: 1}", "missing_key"),
    ("{field: nothing, days_after: 1}", "unknown_field"),
])
def test_a_bad_date_deadline_is_reported(deadline, code):
    _, problems = parse(_with_timer(deadline), "m.yaml", "minimal")
    assert code in [p.code for p in problems]
    assert all(len(p.message) > 15 for p in problems)
