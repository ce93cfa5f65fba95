"""The monthly complaint report (003 篇1 (九)10, (十二)1) and the complaint escalation (000, 003 篇1 (二十六)).

A complaint is on time when it closes within 13 days (domestic) or 17 days (foreign) of its registration, as
complaint.yaml's closure timers say; the report is recomputed from the history and the ledger, so a late
correction changes it, and the GM office's confirmation shows that it changed.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.operations import set_staff
from workflow.models import HistoryEntry, Notification, User
from workflow.penalties import escalation

from .paths import golden, walk

PATHS = golden("complaint")
SMALL = "founded_small_loss_decided_by_the_sales_manager"
FOREIGN = "foreign_loss_corrected_into_the_gms_tier"
NOV_2 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)        # 09:00 in Shanghai
DEC_2 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def complaint(api, frozen_clock, path: str, registered: datetime | None, closed: datetime | None) -> dict[str, Any]:
    """A complaint of `path` registered at `registered` (else now) and walked to its end at `closed`."""
    steps = PATHS[path].steps
    split = [s.action for s in steps].index("register") + 1
    if registered:
        frozen_clock.set(registered)
    case = walk(api, api.open("sales", "complaint", PATHS[path].data), steps[:split])
    if closed:
        frozen_clock.set(closed)
    for step in steps[split:]:  # a late closing adds its inquiry 洽办单 to the history: no row-by-row check
        case = api.act(step.user, case, step.action, step.inputs)
    assert case["state"] == PATHS[path].final
    return case


@pytest.fixture
def november(api, frozen_clock) -> dict[str, dict[str, Any]]:
    """Three complaints closed in November 2026: one on time, one domestic 14 days after its registration
    (late against 13), one foreign 16 days after it (on time against 17)."""
    cases = {
        "late_domestic": complaint(api, frozen_clock, SMALL, NOV_2, NOV_2 + timedelta(days=14)),
        "foreign": complaint(api, frozen_clock, FOREIGN, NOV_2, NOV_2 + timedelta(days=16)),
        "on_time": complaint(api, frozen_clock, SMALL, NOV_2 + timedelta(days=18), None),
    }
    frozen_clock.set(DEC_2)
    return cases


def report(api, period: str = "2026-11", user: str = "gm_office") -> dict[str, Any]:
    response = api.get(user, f"/api/v1/reports/complaints/{period}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def confirmations() -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM complaint_report_confirmations"))]


def test_the_report_judges_each_complaint_against_13_or_17_days(api, november):
    shown = report(api)
    assert (shown["closed"], shown["on_time"], shown["late"]) == (3, 2, 1)
    rows = {r["case_id"]: r for r in shown["rows"]}
    late, foreign, on_time = (rows[november[k]["id"]] for k in ("late_domestic", "foreign", "on_time"))
    assert (late["limit_days"], late["on_time"], late["market"]) == (13, False, "domestic")
    assert (foreign["limit_days"], foreign["on_time"], foreign["market"]) == (17, True, "foreign")
    assert (on_time["limit_days"], on_time["on_time"]) == (13, True)
    assert foreign["responsible_loss"] == "50000" and foreign["penalty_kind"] == "warning"
    assert late["improvement_tracked"] is True and late["responsible_department"] == "Stamping"
    assert shown["departments"] == [{"department": "Stamping", "cases": 3, "late": 1,
                                     "responsible_loss": "69999.98"}]
    assert shown["due_on"] == "2026-12-10"


def test_an_unfounded_complaint_counts_but_has_no_responsibility(api, frozen_clock):
    case = walk(api, api.open("sales", "complaint", PATHS[SMALL].data), [])
    case = walk(api, api.open("sales", "complaint", PATHS["unfounded_after_joint_inspection_and_rnd_review"].data),
                PATHS["unfounded_after_joint_inspection_and_rnd_review"].steps)
    frozen_clock.set(DEC_2)
    shown = report(api)
    assert [(r["case_id"], r["outcome"], r["on_time"]) for r in shown["rows"]] == [
        (case["id"], "closed_unfounded", True)]
    assert shown["departments"] == []


def test_a_month_that_has_not_ended_has_no_report_and_cannot_be_confirmed(api, frozen_clock):
    frozen_clock.set(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))     # 23:59 on 30 November in Shanghai
    for response in (api.get("gm_office", "/api/v1/reports/complaints/2026-11"),
                     api.post("gm_office", "/api/v1/reports/complaints/2026-11/confirmation")):
        error = response.get_json()["error"]
        assert (response.status_code, list(error["fields"])) == (422, ["period"])
        assert "has not ended" in error["message"]
    assert confirmations() == []
    frozen_clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))      # 1 December, 00:00
    assert report(api)["closed"] == 0


@pytest.mark.parametrize("period", ["2026-13", "26-11", "2026-1"])
def test_a_malformed_month_is_refused(api, period):
    response = api.get("gm_office", f"/api/v1/reports/complaints/{period}")
    assert response.status_code in (400, 422) and "period" in response.get_json()["error"]["fields"]


def test_who_reads_the_report_comes_from_the_definition(api, november):
    for reader in ("gm_office", "gm", "finance", "auditor"):
        assert report(api, user=reader)["closed"] == 3
    for other in ("sales", "quality_dept"):
        assert api.get(other, "/api/v1/reports/complaints/2026-11").status_code == 403
    assert api.post("finance", "/api/v1/reports/complaints/2026-11/confirmation").status_code == 403
    assert confirmations() == []


def test_a_late_correction_changes_the_recomputed_report_and_shows_against_the_confirmation(api, november):
    confirmed = api.post("gm_office", "/api/v1/reports/complaints/2026-11/confirmation").get_json()
    assert (confirmed["confirmed_by"], confirmed["changed_since_confirmation"]) == ("gm_office", False)
    again = api.post("gm_office", "/api/v1/reports/complaints/2026-11/confirmation")
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "wrong_state")

    for name in ("li", "wang"):
        api.user(name)
        set_staff(db.session, name, "Stamping", "field_service", Decimal(2000), "boss")
    db.session.commit()
    case_id = november["late_domestic"]["id"]
    response = api.post("gm_office", "/api/v1/penalties/allocations", {
        "case_id": case_id, "reason": "Die worn", "shares": [{"person": "li", "share": "60"},
                                                             {"person": "wang", "share": "40"}]})
    assert response.status_code == 201
    shown = report(api)
    row = next(r for r in shown["rows"] if r["case_id"] == case_id)
    assert [(s["person"], s["share"], s["amount"], s["sanction"]) for s in row["shares"]] == [
        ("li", "60.00", "5999.99", "major_demerit"), ("wang", "40.00", "4000.00", "major_demerit")]
    assert shown["changed_since_confirmation"] is True and shown["digest"] != confirmed["digest"]
    reconfirmed = api.post("gm_office", "/api/v1/reports/complaints/2026-11/confirmation").get_json()
    assert (reconfirmed["changed_since_confirmation"], reconfirmed["digest"]) == (False, shown["digest"])


def test_the_report_as_csv(api, november):
    response = api.get("finance", "/api/v1/reports/complaints/2026-11/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 4
    assert sorted((r[2], r[6], r[7]) for r in rows[1:]) == [
        ("domestic", "13", "late"), ("domestic", "13", "yes"), ("foreign", "17", "yes")]


# -- the GM office is told on the first working day and reminded after the 10th -----------------------------


def notifications_of(name: str, kind: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).join(User, User.id == Notification.user_id).where(
        User.name == name, Notification.kind == kind)))


def test_the_gm_office_is_told_on_the_first_working_day_and_reminded_after_the_10th(api, runner, frozen_clock):
    api.user("gm_office")
    frozen_clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))       # still November: nothing is due
    assert "notified 2026-11" not in runner.invoke(args=["workflow", "complaint-duties"]).output
    frozen_clock.set(DEC_2 - timedelta(days=1))                         # Tuesday 1 December, 09:00
    result = runner.invoke(args=["workflow", "complaint-duties"])
    assert "notified 2026-11" in result.output, result.output
    runner.invoke(args=["workflow", "complaint-duties"])
    november = [n for n in notifications_of("gm_office", "report") if "2026-11" in n.message["en"]]
    assert len(november) == 1                                           # once
    frozen_clock.set(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))          # the 10th: still in time
    assert "reminded" not in runner.invoke(args=["workflow", "complaint-duties"]).output
    frozen_clock.set(datetime(2026, 12, 11, 1, 0, tzinfo=UTC))          # the 11th, unconfirmed
    assert "reminded 2026-11" in runner.invoke(args=["workflow", "complaint-duties"]).output
    assert len([n for n in notifications_of("gm_office", "reminder") if "2026-11" in n.message["en"]]) == 1
    api.post("gm_office", "/api/v1/reports/complaints/2026-11/confirmation")
    frozen_clock.set(datetime(2026, 12, 14, 1, 0, tzinfo=UTC))
    assert "reminded" not in runner.invoke(args=["workflow", "complaint-duties"]).output


# -- escalation ---------------------------------------------------------------------------------------------


def escalations(case_id: int) -> list[dict[str, Any]]:
    return [e.inputs for e in db.session.scalars(sa.select(HistoryEntry).where(
        HistoryEntry.case_id == case_id, HistoryEntry.action == "escalation").order_by(HistoryEntry.seq))]


def test_a_serious_complaint_goes_to_the_deputy_gm_at_once(api):
    api.user("deputy_gm")
    serious = walk(api, api.open("sales", "complaint", PATHS[FOREIGN].data), PATHS[FOREIGN].steps[:1])
    assert serious["data"]["serious"] is True
    assert [n.case_id for n in notifications_of("deputy_gm", "escalation")] == [serious["id"]]
    walk(api, api.open("sales", "complaint", PATHS[SMALL].data), PATHS[SMALL].steps[:1])
    assert len(notifications_of("deputy_gm", "escalation")) == 1          # not serious: no escalation


def test_an_overdue_complaint_escalates_to_quality_then_to_the_president(api, clock, frozen_clock):
    for role in ("quality_dept", "gm"):
        api.user(role)
    case = walk(api, api.open("sales", "complaint", PATHS[SMALL].data), PATHS[SMALL].steps[:2])  # registered
    registered = frozen_clock.now
    frozen_clock.set(registered + timedelta(days=13) - timedelta(seconds=1))
    assert escalation.escalate_overdue(db.session, clock) == 0
    frozen_clock.set(registered + timedelta(days=13))                     # Thursday 3 December: past 13 days
    assert escalation.escalate_overdue(db.session, clock) == 1
    assert escalation.escalate_overdue(db.session, clock) == 0            # once per level
    db.session.commit()
    assert escalations(case["id"]) == [{"level": 2, "addressed_to": ["quality_dept"]}]
    assert len(notifications_of("quality_dept", "escalation")) == 1 and notifications_of("gm", "escalation") == []
    frozen_clock.set(registered + timedelta(days=18))                     # 3 working days later (Tuesday 8th)
    assert escalation.escalate_overdue(db.session, clock) == 1
    db.session.commit()
    assert [e["level"] for e in escalations(case["id"])] == [2, 3]
    assert len(notifications_of("gm", "escalation")) == 1
    audit = api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()
    assert audit["state"] == "quality_investigation"                      # an escalation moves nothing
