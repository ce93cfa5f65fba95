"""The service targets of a month (001 售后服务管理及考核办法 3.2.1–3.2.2, 002 第四篇 三.4, §4.14; 003 篇1 (二十五)):
timeliness ≥ 90 %, satisfaction ≥ 85 %, complaints that are the service's fault < 3 %, on site within 24 hours
within 100 km, every request answered within 24 hours; computed from the history of any ended month."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.models import HistoryEntry

from .paths import golden
from .test_paths_repair_dispatch import CALL, FIXED_ON_SITE
from .test_ui import Person, text_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/reports/service-targets"
CLERK, SUPERVISOR, TECHNICIAN = "service_clerk", "service_supervisor", "technician"


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def call(api, frozen_clock, logged: datetime, arrives: datetime, levels: tuple[int, int, int, int]) -> dict:
    """A town call 35 km out, dispatched an hour after it is logged, fixed on site when the technician
    arrives and rated on the four aspects at once."""
    frozen_clock.set(logged)
    case = api.open(CLERK, "repair_dispatch", {**CALL, "distance_km": 35})
    frozen_clock.set(logged.replace(hour=logged.hour + 1))
    case = api.act(SUPERVISOR, case, "dispatch", {"technician": TECHNICIAN})
    frozen_clock.set(arrives)
    case = api.act(TECHNICIAN, case, "arrive")
    case = api.act(TECHNICIAN, case, "fix_on_site", FIXED_ON_SITE)
    ratings = dict(zip(("rating_attitude", "rating_skill", "rating_arrival", "rating_promises"), levels, strict=True))
    return api.act(CLERK, case, "record_callback", ratings)


@pytest.fixture
def october(api, frozen_clock):
    """Two calls of Monday 12 October 2026, 09:00: one on site at 11:00 and rated 4, 4, 3, 2; one on site
    two days later (after both its 6-working-hour and its 24-hour clock) and rated 1, 2, 3, 4."""
    api.user(TECHNICIAN, TECHNICIAN)
    call(api, frozen_clock, local(2026, 10, 12, 9), local(2026, 10, 12, 11), (4, 4, 3, 2))
    call(api, frozen_clock, local(2026, 10, 12, 9), local(2026, 10, 14, 10), (1, 2, 3, 4))
    frozen_clock.set(local(2026, 11, 2, 9))  # October has ended
    return api


def rows(body: dict) -> dict[str, dict]:
    return {r["key"]: r for r in body["rows"]}


def test_the_months_figures_against_the_sources_targets(october):
    response = october.get(CLERK, f"{URL}/2026-10")
    assert response.status_code == 200, response.get_json()
    got = rows(response.get_json())
    # Clocks: call 1 met its reply, 6-hour and 24-hour clocks; call 2 only its reply: 4 of 6.
    assert (got["timeliness"]["count"], got["timeliness"]["total"], got["timeliness"]["figure_pct"]) == (4, 6, "66.7")
    assert (got["timeliness"]["comparison"], got["timeliness"]["target_pct"], got["timeliness"]["met"]) == (
        ">=", "90", False)
    # 8 aspects rated, 5 at "satisfied" (3) or better: 62.5 % against 85 %.
    assert (got["satisfaction"]["count"], got["satisfaction"]["total"], got["satisfaction"]["figure_pct"]) == (
        5, 8, "62.5")
    assert (got["satisfaction"]["target_pct"], got["satisfaction"]["met"]) == ("85", False)
    # Within 100 km, on site within 24 hours: 1 of 2; every request answered within 24 hours: 2 of 2.
    assert (got["on_site_24h"]["figure_pct"], got["on_site_24h"]["met"]) == ("50.0", False)
    assert (got["reply_24h"]["figure_pct"], got["reply_24h"]["met"]) == ("100.0", True)
    # No founded complaint is the service's fault: 0 of 2 calls, below 3 %.
    assert (got["complaint_rate"]["comparison"], got["complaint_rate"]["target_pct"]) == ("<", "3")
    assert (got["complaint_rate"]["total"], got["complaint_rate"]["figure_pct"], got["complaint_rate"]["met"]) == (
        2, "0.0", True)
    # No dealer phoned a complaint in October: nothing to count, and the target is not judged.
    assert (got["dealer_reply_24h"]["total"], got["dealer_reply_24h"]["met"]) == (0, None)


def test_dealers_phone_complaints_are_answered_within_24_hours(october, frozen_clock):
    # 002 §4.14: a dealer's phone complaint gets the company's measures within 24 hours (complaint.yaml's
    # dealer_reply clock): one answered after 2 hours, one after 30; a customer's complaint runs no such clock.
    opener, data = "sales", next(iter(golden("complaint").values())).data
    frozen_clock.set(local(2026, 10, 13, 9))
    quick = october.open(opener, "complaint", {**data, "dealer_phone": True})
    slow = october.open(opener, "complaint", {**data, "dealer_phone": True})
    plain = october.open(opener, "complaint", data)
    assert [t["name"] for t in quick["timers"] if t["name"] == "dealer_reply"] == ["dealer_reply"]
    assert not [t for t in plain["timers"] if t["name"] == "dealer_reply"]
    frozen_clock.set(local(2026, 10, 13, 11))
    october.act("sales", quick, "request_joint_inspection")
    frozen_clock.set(local(2026, 10, 14, 15))
    october.act("sales", slow, "request_joint_inspection")
    frozen_clock.set(local(2026, 11, 2, 9))
    got = rows(october.get(CLERK, f"{URL}/2026-10").get_json())["dealer_reply_24h"]
    assert (got["count"], got["total"], got["figure_pct"]) == (1, 2, "50.0")
    assert (got["target_pct"], got["met"]) == ("100", False)


def test_the_targets_are_the_definitions_data(october):
    from workflow.definitions import shipped_files

    text = next(p for p in shipped_files() if p.stem == "repair_dispatch").read_text("utf-8")
    for constant in ("target_timeliness_pct: 90", "target_satisfaction_pct: 85", "target_complaint_rate_pct: 3",
                     "service_radius_km: 100"):
        assert constant in text
    assert "duration: 24h" in text


def test_another_month_counts_nothing_of_october(october):
    got = rows(october.get(CLERK, f"{URL}/2026-09").get_json())
    assert all(r["total"] == 0 and r["figure_pct"] is None and r["met"] is None for r in got.values())


@pytest.mark.parametrize("month, status", [
    ("2026-11", 422),  # not ended: the clock stands on 2 November
    ("2026-12", 422),
    ("2026-13", 422),
    ("26-10", 422),
    ("2026-10-01", 422),
])
def test_a_month_that_has_not_ended_or_is_no_month_is_refused_and_nothing_changes(october, month, status):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry))
    response = october.get(CLERK, f"{URL}/{month}")
    assert response.status_code == status, response.get_json()
    assert list(response.get_json()["error"]["fields"]) == ["month"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry)) == before


def test_the_last_day_of_a_month_is_not_its_end(october, frozen_clock):
    frozen_clock.set(local(2026, 10, 31, 23, 59))
    assert october.get(CLERK, f"{URL}/2026-10").status_code == 422
    frozen_clock.set(local(2026, 11, 1, 0, 0))
    assert october.get(CLERK, f"{URL}/2026-10").status_code == 200


def test_only_the_readers_of_every_call_and_auditors_read_the_targets(october):
    october.user("sales", "sales")
    october.user("auditor", "auditor")
    assert october.get("sales", f"{URL}/2026-10").status_code == 403
    assert october.get("auditor", f"{URL}/2026-10").status_code == 200
    assert october.get("sales", f"{URL}/2026-10/export.csv").status_code == 403


def test_the_csv_has_every_target_with_its_figure(october):
    response = october.get(SUPERVISOR, f"{URL}/2026-10/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "service-targets-2026-10.csv" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 7  # the header and six targets
    timeliness = next(line for line in lines if line.startswith("Service timeliness"))
    assert ">= 90" in timeliness and "66.7 %" in timeliness and "no 否" in timeliness


def test_the_printable_page_shows_the_month_and_says_why_a_month_is_refused(app, october, staff):
    staff("clerk2", CLERK)
    page = Person(app, "clerk2").get("/reports/service-targets/2026-10")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Service targets · 2026-10" in shown and "66.7 %" in shown and "62.5 %" in shown
    refused = Person(app, "clerk2").get("/reports/service-targets/2026-11")
    assert refused.status_code == 422 and "has not ended yet" in text_of(refused.text)
    staff("sales2", "sales")
    assert Person(app, "sales2").get("/reports/service-targets/2026-10").status_code == 403


def test_the_page_in_chinese(app, october, staff):
    staff("clerk3", CLERK)
    shown = text_of(Person(app, "clerk3", language="zh")
                    .get("/reports/service-targets/2026-10").text)
    assert "服务目标" in shown and "服务及时率" in shown and "用户满意程度" in shown
