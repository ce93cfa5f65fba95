"""The appraisal pages: opening a month with one button, the department's month, who may see it."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal import set_staff
from workflow.models import Case

from .test_ui import Person, text_of


def test_hr_opens_the_month_with_one_button_and_sees_the_department(app, staff, clock):
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "zhang": ["employee"], "zhao": ["employee"],
                        "sales": ["sales"]}.items():
        staff(name, *roles)
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    set_staff(db.session, "zhao", "售后服务部", "repair", Decimal("1000"), "li")
    db.session.commit()

    hr = Person(app, "hr", language="zh")
    page = hr.get("/appraisal")
    assert page.status_code == 200 and "售后服务部" in page.text
    opened = hr.post("/appraisal/open", {"department": "售后服务部", "period": "2026-11"})
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/appraisal/%E5%94%AE%E5%90%8E%E6%9C%8D%E5%8A%A1%E9%83%A8/2026-11")
    sheets = db.session.scalars(sa.select(Case).where(Case.workflow_key == "appraisal")).all()
    assert sorted((c.data["employee"], c.data["template"]) for c in sheets) == [
        ("zhang", "field_service"), ("zhao", "repair")]

    month = text_of(hr.get("/appraisal/售后服务部/2026-11").text)
    assert "月度绩效考核 · 售后服务部 · 2026-11" in month and "zhang" in month and "zhao" in month
    assert "部门系数: 1" in month and "下载 CSV" in month
    again = hr.post("/appraisal/open", {"department": "售后服务部", "period": "2026-11"})
    assert again.status_code == 302
    assert "已新开 0 份考核表，2 份已存在" in text_of(hr.get(again.headers["Location"]).text)


def test_the_appraisal_pages_are_for_hr_heads_supervisors_and_auditors(app, staff):
    staff("sales", "sales")
    staff("auditor", "auditor")
    assert Person(app, "sales").get("/appraisal").status_code == 403
    assert Person(app, "sales").get("/appraisal/x/2026-11").status_code == 403
    auditor = Person(app, "auditor")
    assert auditor.get("/appraisal/x/2026-11").status_code == 200
    assert auditor.post("/appraisal/open", {"department": "x", "period": "2026-11"}).status_code == 403
