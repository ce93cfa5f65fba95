"""The UI under its Content-Security-Policy in a real browser: what used to be inline script still works,
and a signed-out session stays signed out. (new_page fails any test whose pages the policy blocked.)"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from web.extensions import db
from workflow.appraisal import open_month, set_staff
from workflow.engine import Actor

pytestmark = pytest.mark.browser


def sign_in(page: Page, name: str) -> None:
    page.goto("/sign-in")
    page.fill("#name", name)
    page.fill("#password", f"{name}-demo-pass")
    page.locator("article.sign-in button[type=submit]").click()
    expect(page).not_to_have_url(re.compile("/sign-in"))


def test_the_print_link_prints_without_inline_script(new_page, staff, clock):
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "zhang": ["employee"]}.items():
        staff(name, *roles)
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    open_month(db.session, clock, "售后服务部", "2026-11", Actor("hr", frozenset({"hr"})))
    db.session.commit()
    page = new_page(locale="en-US")
    # Playwright's init script runs outside the page's policy: it only records that print() was asked for.
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; };")
    sign_in(page, "hr")
    response = page.goto("/appraisal/售后服务部/2026-11")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_test_id("print").click()
    assert page.evaluate("window.__printed") == 1
    assert page.url.endswith("/2026-11")  # the link's href="#" was not followed


def test_a_cookie_copied_before_signing_out_opens_nothing_afterwards(new_page, staff):
    staff("lead", "service_lead")
    page = new_page(locale="en-US")
    sign_in(page, "lead")
    page.goto("/cases")
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/sign-in"))
    replay = new_page(locale="en-US")
    replay.context.add_cookies([cookie])
    replay.goto("/cases")
    expect(replay).to_have_url(re.compile(r"/sign-in\?next="))
