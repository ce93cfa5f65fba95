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


def test_hr_sets_the_rule_and_the_head_on_the_month_page_and_reads_the_year(app, staff):
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "wang": ["dept_head"], "zhang": ["employee"]}.items():
        staff(name, *roles)
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    # the head reads their department's month: the register puts them in it (no monthly sheet of their own here)
    set_staff(db.session, "wang", "售后服务部", "field_service", Decimal("1500"), "hr", active=False)
    db.session.commit()
    hr = Person(app, "hr", language="zh")
    month = "/appraisal/售后服务部/2026-11"
    hr.get(month)
    saved = hr.post("/appraisal/售后服务部/rule", {"rule": "reason", "period": "2026-11"})
    assert saved.status_code == 302
    hr.get(month)
    refused = hr.post("/appraisal/售后服务部/head", {"head": "nobody", "standard_pay": "1500", "period": "2026-11"})
    assert "没有用户" in text_of(hr.get(refused.headers["Location"]).text)
    hr.post("/appraisal/售后服务部/head", {"head": "wang", "standard_pay": "1500", "period": "2026-11"})
    page = text_of(hr.get(month).text)
    assert "部门负责人 wang · 标准绩效工资 1500.00 · 绩效工资 1500" in page
    assert "强制比例分布 超出比例的等级须写明书面理由" in page
    year = hr.get("/appraisal/售后服务部/years/2026")
    assert year.status_code == 200 and "年度考核 · 售后服务部 · 2026" in text_of(year.text)
    assert "Q4" in year.text and "<script>" not in year.text  # the page needs no script of its own
    # the head reads the month, but HR's forms are HR's: the engine refuses the head
    head = Person(app, "wang")
    assert head.get(month).status_code == 200 and "Save the head" not in head.get(month).text
    head.post("/appraisal/售后服务部/rule", {"rule": "block", "period": "2026-11"})
    assert "A written reason for a grade beyond its share" in text_of(head.get(month).text)
    assert Person(app, "zhang").get("/appraisal/售后服务部/years/2026").status_code == 403


def test_the_sheet_page_shows_the_result_and_the_month_s_penalties(app, staff):
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "zhang": ["employee"], "zhao": ["employee"]}.items():
        staff(name, *roles)
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    db.session.commit()
    hr = Person(app, "hr")
    hr.get("/appraisal")
    hr.post("/appraisal/open", {"department": "售后服务部", "period": "2026-11"})
    sheet = db.session.scalar(sa.select(Case).where(Case.workflow_key == "appraisal"))
    page = text_of(hr.get(f"/appraisal/sheets/{sheet.id}").text)
    assert "Appraisal sheet · zhang · 2026-11" in page and "Goals" in page
    assert "Penalties of the month" in page
    # the person's penalty ledger for the month (workflow/penalties): none recorded, nothing deducted
    assert "No penalties this month." in page and "Deducted this month: 0" in page
    # a sheet is for the people it names, HR and the head: not for a colleague
    assert Person(app, "zhao").get(f"/appraisal/sheets/{sheet.id}").status_code == 404
