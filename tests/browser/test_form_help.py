"""The forms in a real browser, in Chinese and English, at laptop and phone width: the definition's help
under an input, a person picked from the staff register, a month picked as a month, and every failing rule
said at once, next to its field."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from web.extensions import db
from workflow.engine.users import disable_user, user_by_name

from .conftest import LAPTOP, PHONE
from .test_desk import fits_the_viewport
from .test_scenario import sign_in

pytestmark = pytest.mark.browser

HELP = {"zh-CN": "从员工名册中选择员工", "en-GB": "Pick the employee from the staff register"}


@pytest.fixture
def register(app, staff, clock):
    """HR opens the sheets; two employees and a supervisor may be named; a leaver and a lead may not."""
    staff("hanna", "hr")
    for name in ("emma", "eric"):
        staff(name, "employee")
    staff("sam", "supervisor")
    staff("gone", "employee")
    staff("lead", "service_lead")
    disable_user(db.session, user_by_name(db.session, "gone"), clock.now())
    db.session.commit()


def options_of(page: Page, input_id: str) -> list[str]:
    """The values the browser offers for an <input list>: its <datalist>'s options."""
    values: list[str] = page.evaluate(
        "id => [...document.getElementById(id).list.options].map(o => o.value)", input_id)
    return values


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_help_pickers_and_month_on_the_new_sheet_form(new_page, register, screenshot, locale, viewport):
    page = new_page(locale=locale, viewport=viewport)
    sign_in(page, "hanna")
    page.goto("/cases/new/appraisal")
    page.wait_for_load_state("load")

    employee = page.locator("#new-employee")
    help_id = "new-employee-help"
    expect(page.locator(f"#{help_id}")).to_contain_text(HELP[locale])
    expect(employee).to_have_attribute("aria-describedby", help_id)
    assert sorted(options_of(page, "new-employee")) == ["emma", "eric"]  # not the leaver, not the lead
    assert options_of(page, "new-supervisor") == ["sam"]
    expect(page.locator("#new-period")).to_have_attribute("type", "month")
    fits_the_viewport(page)
    suffix = ("" if locale == "zh-CN" else "-en") + ("" if viewport == LAPTOP else "-phone")
    screenshot(page, f"form-help-pickers{suffix}")

    # Someone the register does not offer, typed anyway: the engine refuses it at the field, nothing opens.
    employee.fill("lead")
    page.locator("#new-supervisor").fill("sam")
    page.locator("#new-department").fill("售后服务部")
    page.locator("#new-period").fill("2026-10")
    page.locator("form.generated select[required]").evaluate_all(
        "selects => selects.forEach(s => { if (!s.value) s.selectedIndex = 1; })")  # any choice will do
    page.locator("form.generated button[type=submit]").click()
    expect(page.locator("#new-employee-msg")).to_be_visible()
    expect(employee).to_have_attribute("aria-invalid", "true")
    expect(employee).to_have_value("lead")  # what was typed stays
