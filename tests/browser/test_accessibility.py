"""Accessibility: axe-core (through axe-playwright-python, which bundles it) finds no serious or critical
violation on the pages staff use most, in Chinese and in English: the inbox with its menus, a case with its
step form (also with the engine's messages at the fields), the case list with a search, an appraisal sheet with
its scoring form, and the audit search."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .conftest import LAPTOP, PHONE
from .test_scenario import sign_in

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


@pytest.fixture
def department(app, staff):
    """A return case the lead can move (so its page has a step form), and an appraisal month HR opened."""
    staff("lead", "service_lead")
    staff("auditor", "auditor")
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "zhang": ["employee"]}.items():
        staff(name, *roles)
    from web.extensions import db
    from workflow.appraisal import operations, set_staff
    from workflow.engine import Actor, open_case

    clock = app.extensions["workflow_clock"]
    lead = Actor("lead", frozenset({"service_lead"}))
    case = open_case(db.session, clock, "return_inspection", {
        "customer": "华东机电", "products": "XJ-200 × 3", "quantity": 3, "reason": "运行时有异响 (noise)",
    }, lead, comment="客户来电")
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    month = operations.open_month(db.session, clock, "售后服务部", "2026-11", Actor("hr", frozenset({"hr"})))
    db.session.commit()
    return {"case": case.id, "sheet": month.opened[0].id}


def blocking_violations(page: Page) -> list[str]:
    """The serious and critical violations axe finds on the page as it stands: rule id, impact, targets."""
    page.wait_for_load_state("load")
    results = Axe().run(page).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
        for v in results["violations"] if v["impact"] in BLOCKING
    ]


def check(page: Page, where: str) -> None:
    found = blocking_violations(page)
    assert found == [], f"{where} ({page.url}):\n" + "\n".join(found)


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_desk_pages_have_no_serious_violation(new_page, department, locale, viewport):
    page = new_page(locale=locale, viewport=viewport)
    page.emulate_media(reduced_motion="reduce")  # menus open without their fade-in, which axe would measure
    sign_in(page, "lead")
    expect(page.locator("[data-testid=case-list]")).to_be_visible()
    check(page, "the inbox")
    for menu in ("notifications", "user-menu"):
        page.get_by_test_id(menu).click()
        check(page, f"the inbox with the {menu} open")
        page.get_by_test_id(menu).click()

    page.goto(f"/cases/{department['case']}")
    expect(page.locator("form.generated").first).to_be_attached()
    expect(page.get_by_test_id("diagram")).to_be_attached()
    check(page, "the case page with its step form and diagram")
    # The same step form sent empty (the browser's own checks off): the engine's messages at the fields.
    for step in page.locator("main details").all():
        step.evaluate("e => e.open = true")
    form = page.locator("form.generated:has([required])").first
    form.evaluate("f => f.noValidate = true")
    form.locator("button[type=submit]").click()
    expect(page.locator("[aria-invalid=true]").first).to_be_attached()
    check(page, "the case page with messages at the fields")

    page.goto("/cases?q=XJ-200")
    expect(page.locator("[data-testid=case-list] tbody tr")).to_have_count(1)
    check(page, "the case list with a search")


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_appraisal_sheet_has_no_serious_violation(new_page, department, locale):
    page = new_page(locale=locale)
    sign_in(page, "hr")
    page.goto(f"/appraisal/sheets/{department['sheet']}")
    expect(page.locator("h1")).to_contain_text("zhang")
    check(page, "the appraisal sheet")


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_scoring_form_has_no_serious_violation(new_page, department, locale):
    page = new_page(locale=locale)
    sign_in(page, "li")
    page.goto(f"/cases/{department['sheet']}")
    expect(page.locator("form.generated").first).to_be_attached()
    for step in page.locator("main details").all():
        step.evaluate("e => e.open = true")
    check(page, "the appraisal sheet's scoring form")


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_audit_search_has_no_serious_violation(new_page, department, locale):
    page = new_page(locale=locale)
    sign_in(page, "auditor")
    page.goto("/audit?q=%E6%9D%A5%E7%94%B5")
    expect(page.locator("[data-testid=history-results] tbody tr")).to_have_count(1)
    check(page, "the audit search")
