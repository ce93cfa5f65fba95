"""The audit area in a real browser: the search, a row's link to the case at that moment, and the replay's
slider (a form; the script submits it when the slider is let go)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .test_scenario import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def audited(app, staff, frozen_clock):
    staff("auditor", "auditor")
    staff("lead", "service_lead")
    from web.extensions import db
    from workflow.engine import Actor, open_case

    lead = Actor("lead", frozenset({"service_lead"}))
    clock = app.extensions["workflow_clock"]
    case = open_case(db.session, clock, "return_inspection", {
        "customer": "华东机电", "products": "XJ-200 × 3", "quantity": 3, "reason": "运行时有异响 (noise)",
    }, lead, comment="客户来电")
    db.session.commit()
    frozen_clock.advance(hours=5)
    return case


def test_an_auditor_finds_a_row_and_replays_the_case_with_the_slider(new_page, audited, screenshot):
    page = new_page(locale="zh-CN")
    sign_in(page, "auditor")
    page.get_by_role("link", name="审计").first.click()
    expect(page.locator("h1")).to_have_text("审计")
    page.fill("input[name=q]", "来电")
    page.get_by_role("button", name="搜索").click()
    rows = page.locator("[data-testid=history-results] tbody tr")
    expect(rows).to_have_count(1)
    screenshot(page, "audit-search")
    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/audit/cases/\d+\?as_of="))
    expect(page.locator("[data-testid=replay-slider] input[type=range]")).to_be_visible()
    expect(page.locator("[data-testid=replay-state]")).to_contain_text("状态")
    screenshot(page, "audit-replay")


def test_the_slider_works_without_its_script(new_page, audited):
    page = new_page(locale="en-GB")
    page.context.route("**/static/audit.js", lambda route: route.abort())
    sign_in(page, "auditor")
    page.goto(f"/audit/cases/{audited.id}")
    page.locator("[data-testid=replay-slider] input[type=range]").fill("0")
    page.get_by_role("button", name="Show this moment").click()
    expect(page).to_have_url(re.compile(r"step=0"))
    expect(page.locator("hgroup p")).to_contain_text("1 row(s) up to this moment")


def test_the_time_in_state_report_draws_its_heatmap(new_page, audited, screenshot):
    page = new_page(locale="zh-CN")
    sign_in(page, "auditor")
    page.goto("/audit")
    page.get_by_role("link", name="报表：状态停留时间").click()
    page.select_option("select[name=workflow]", "return_inspection")
    page.get_by_role("button", name="显示").click()
    heatmap = page.locator("[data-testid=heatmap]")
    expect(heatmap).to_be_visible()
    assert heatmap.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("[data-testid=time-in-state] tbody tr").first).to_contain_text("1")
    screenshot(page, "audit-time-in-state")


def test_the_sla_report_shows_its_chart(new_page, audited, screenshot):
    page = new_page(locale="en-GB")
    sign_in(page, "auditor")
    page.goto("/audit")
    page.get_by_role("link", name="Report: on time and late").click()
    chart = page.locator("[data-testid=sla-chart]")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "audit-sla")


def test_the_weekly_report_draws_its_chart_from_the_reports_area(new_page, audited, screenshot):
    page = new_page(locale="zh-CN")
    sign_in(page, "auditor")
    page.goto("/audit")
    page.get_by_test_id("all-reports").click()
    expect(page.get_by_test_id("service-targets")).to_be_visible()
    expect(page.get_by_test_id("complaint-report")).to_be_visible()
    page.get_by_role("link", name="每周立案与结案数").click()
    page.select_option("select[name=workflow]", "return_inspection")
    page.get_by_role("button", name="显示").click()
    chart = page.locator("[data-testid=weekly-chart]")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("[data-testid=weekly] tfoot td").first).to_have_text("1")
    screenshot(page, "audit-weekly")
