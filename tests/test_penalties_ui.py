"""The pages of the penalties slice, without JavaScript: the printable monthly complaint report with its
confirmation, and the month's penalty ledger with its approve/reject forms."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal.operations import set_staff
from workflow.penalties.models import PenaltyEntry, ReportConfirmation

from .paths import golden, walk
from .test_ui import Person, text_of

PATHS = golden("complaint")
SMALL = "founded_small_loss_decided_by_the_sales_manager"
DEC_2 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
FINAL = datetime(2026, 12, 19, 16, 0, tzinfo=UTC)


def closed(api) -> dict:
    return walk(api, api.open("sales", "complaint", PATHS[SMALL].data), PATHS[SMALL].steps)


def test_the_gm_office_reads_prints_and_confirms_the_report(app, api, staff, frozen_clock):
    case = closed(api)
    staff("gmo", "gm_office"), staff("seller", "sales")
    frozen_clock.set(DEC_2)
    gmo = Person(app, "gmo")
    page = gmo.get("/reports/complaints/2026-11")
    assert page.status_code == 200
    assert f'data-case="{case["id"]}"' in page.text and 'data-print' in page.text
    assert "Closed: 1 · On time: 1 · Late: 0" in text_of(page.text)
    assert gmo.post("/reports/complaints/2026-11/confirmation").status_code == 302
    db.session.expire_all()
    assert db.session.get(ReportConfirmation, "2026-11").confirmed_by == "gmo"
    again = gmo.get("/reports/complaints/2026-11")
    assert "Confirmed by gmo" in text_of(again.text) and 'data-testid="confirm"' not in again.text
    assert "月度投诉报告" in Person(app, "gmo", "zh").get("/reports/complaints/2026-11").text
    assert Person(app, "seller").get("/reports/complaints/2026-11").status_code == 403
    assert Person(app, "seller").post("/reports/complaints/2026-11/confirmation").status_code in (302, 403)


def test_a_month_not_ended_is_said_on_the_page(app, api, staff, frozen_clock):
    staff("gmo", "gm_office")
    frozen_clock.set(DEC_2)
    page = Person(app, "gmo").get("/reports/complaints/2026-12")
    assert page.status_code == 422 and "has not ended" in text_of(page.text)
    assert db.session.scalars(sa.select(ReportConfirmation)).all() == []


def test_the_gm_approves_a_share_on_the_ledger_page(app, api, staff, frozen_clock):
    case = closed(api)
    staff("boss", "gm"), staff("li", "sales")
    set_staff(db.session, "li", "Stamping", "field_service", Decimal(2000), "boss")
    db.session.commit()
    response = api.post("gm_office", "/api/v1/penalties/allocations", {
        "case_id": case["id"], "reason": "Die worn", "shares": [{"person": "li", "share": "100"}]})
    entry_id = response.get_json()["items"][0]["id"]
    frozen_clock.set(FINAL)
    boss = Person(app, "boss")
    page = boss.get("/penalties/2026-12")
    assert f'data-entry="{entry_id}"' in page.text and 'value="approve"' in page.text
    done = boss.post(f"/penalties/entries/{entry_id}", {"decision": "approve", "period": "2026-12"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(PenaltyEntry, entry_id).status == "approved"
    after = boss.get("/penalties/2026-12").text
    assert 'value="approve"' not in after and "1000.00" in after   # half of li's 2000: this month's deduction
    row = text_of(after[after.index(f'data-entry="{entry_id}"'):].split("</tr>")[0])
    assert "loss share" in row and "approved" in row and "loss_share" not in row  # words, not stored codes
    zh = Person(app, "boss", "zh").get("/penalties/2026-12").text
    zh_row = text_of(zh[zh.index(f'data-entry="{entry_id}"'):].split("</tr>")[0])
    assert "损失分摊" in zh_row and "已批准" in zh_row
    assert Person(app, "li").get("/penalties/2026-12").status_code == 403
