"""A returned-goods case walked through in a real browser, in Chinese, by the people who work it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import PHONE

pytestmark = pytest.mark.browser

PAYLOAD = '华东机电 <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
RECEIVED = {"received_quantity": 3, "packaging_intact": True, "heavy_damage": False, "rain_wetted": False,
            "returned_by": "李师傅"}


def sign_in(page: Page, name: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    page.fill("#name", name)
    page.fill("#password", f"{name}-demo-pass")
    page.locator("article.sign-in button[type=submit]").click()
    expect(page).not_to_have_url(re.compile("/sign-in"))
    page.wait_for_load_state("load")


def open_case_page(page: Page, number: str) -> None:
    page.goto("/")
    page.get_by_role("link", name=number).click()
    expect(page.locator("h1")).to_contain_text(number)
    page.wait_for_load_state("load")


def state_of(page: Page):
    return page.locator("h1 .badge.state")


def no_script_ran(page: Page) -> None:
    assert page.evaluate("window.__xss") is None


@pytest.fixture
def people(staff):
    for name, role in {"lead": "service_lead", "director": "quality_director", "clerk": "returns_clerk",
                       "qa": "fg_qa", "auditor": "auditor"}.items():
        staff(name, role)


def more_received_returns(app, customer: str) -> None:
    """A return case opened, approved and received through the engine, as other people would have."""
    from web.extensions import db
    from workflow.engine import Actor, advance, open_case

    clock = app.extensions["workflow_clock"]
    case = open_case(db.session, clock, "return_inspection", {
        "customer": customer, "products": "XJ-300 × 1", "quantity": 1, "reason": "外观划伤",
    }, Actor("lead", frozenset({"service_lead"})))
    advance(db.session, clock, case, "collect_opinions", Actor("lead", frozenset({"service_lead"})),
            {"application_ref": "RA", "opinions": "同意"})
    advance(db.session, clock, case, "approve", Actor("director", frozenset({"quality_director"})))
    advance(db.session, clock, case, "receive", Actor("clerk", frozenset({"returns_clerk"})),
            {**RECEIVED, "received_quantity": 1})
    db.session.commit()


def test_a_return_case_in_chinese_through_three_steps_by_three_people(
    people, new_page, screenshot, frozen_clock, app,
):
    dialogs: list[str] = []

    # The service lead opens the case, in Chinese (the browser asks for zh-CN).
    lead = new_page("zh-CN")
    lead.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(lead, "lead")
    expect(lead.locator("h1")).to_have_text("待办")
    expect(lead.get_by_test_id("empty")).to_have_text("目前没有待您处理的案件。")
    lead.get_by_role("link", name="新建案件").click()
    lead.locator("a[data-workflow=return_inspection]").click()
    expect(lead.locator("h1")).to_have_text("新建案件: 退货检验")
    lead.fill("#new-customer", "华东机电有限公司")
    lead.fill("#new-products", "XJ-200 控制柜 × 3")
    lead.fill("#new-quantity", "3")
    lead.fill("#new-reason", "运行时有异响")
    lead.get_by_role("button", name="创建案件").click()
    expect(lead.locator(".notice.success")).to_have_text("已创建案件 TH202611-001。")
    expect(state_of(lead)).to_have_text("已申请")
    expect(lead.locator("td[data-field=customer]")).to_have_text("华东机电有限公司")

    # Step 1, the service lead: collect the departments' opinions.
    lead.locator("summary[data-action=collect_opinions]").click()
    lead.fill("#collect_opinions-application_ref", "RA-2611-007")
    lead.fill("#collect_opinions-opinions", "品质办同意退货检验")
    lead.fill("#collect_opinions-comment", "已与客户电话沟通")
    lead.locator("#action-collect_opinions button[type=submit]").click()
    expect(state_of(lead)).to_have_text("待审批")
    expect(lead.get_by_test_id("history")).to_contain_text("已与客户电话沟通")

    # The lead may not approve: the step is not offered, and asking for it directly is refused.
    expect(lead.locator("summary[data-action=approve]")).to_have_count(0)
    response = lead.goto(lead.url + "/actions/approve")
    assert response is not None and response.status == 403
    expect(lead.get_by_test_id("case-message")).to_contain_text("“批准退货”需要以下角色之一")
    expect(lead.get_by_test_id("case-message")).to_contain_text("品质办主任")

    # Step 2, the quality director: approve.
    director = new_page("zh-CN")
    sign_in(director, "director")
    expect(director.get_by_test_id("case-list")).to_contain_text("TH202611-001")
    director.get_by_role("link", name="批准退货").click()
    expect(director.locator("#action-approve")).to_have_attribute("open", "")
    director.locator("#action-approve button[type=submit]").click()
    expect(state_of(director)).to_have_text("已批准")

    # Step 3, the returns clerk: receive the goods; the 48-hour inspection clock starts.
    clerk = new_page("zh-CN")
    sign_in(clerk, "clerk")
    open_case_page(clerk, "TH202611-001")
    clerk.locator("summary[data-action=receive]").click()
    clerk.fill("#receive-received_quantity", "3")
    clerk.check("#action-receive input[name=packaging_intact][value=true]")
    clerk.check("#action-receive input[name=heavy_damage][value=false]")
    clerk.check("#action-receive input[name=rain_wetted][value=false]")
    clerk.fill("#receive-returned_by", "王师傅")
    clerk.locator("#action-receive button[type=submit]").click()
    expect(state_of(clerk)).to_have_text("已收货")
    inspection = clerk.locator("li[data-timer=inspection]")
    expect(inspection).to_contain_text("到厂48小时内检验")
    expect(inspection).to_contain_text("2026-11-22 17:00 到期")
    expect(inspection.locator(".badge")).to_have_text("计时中")

    # Two more returns arrive ten hours later, so that the inbox has something to sort.
    frozen_clock.advance(hours=10)
    for customer in ("上海精工机械", "宁波海天塑机"):
        more_received_returns(app, customer)

    # The QA inspector sees them waiting, then, 49 hours after the first arrival, the first one overdue.
    qa = new_page("zh-CN")
    sign_in(qa, "qa")
    row = qa.locator("tr[data-case]", has_text="TH202611-001")
    expect(row).not_to_have_class(re.compile("is-overdue"))
    frozen_clock.advance(hours=39)
    qa.reload()
    expect(qa.locator("tr[data-case]")).to_have_count(3)
    expect(qa.locator("tr[data-case]").first).to_contain_text("TH202611-001")  # overdue first
    expect(row).to_have_class(re.compile("is-overdue"))
    expect(row.get_by_test_id("overdue")).to_contain_text("逾期")
    expect(qa.get_by_test_id("counters")).to_contain_text("1件逾期")
    screenshot(qa, "inbox")
    open_case_page(qa, "TH202611-001")
    expect(qa.locator("h1").get_by_test_id("overdue")).to_be_visible()
    expect(qa.locator("li[data-timer=inspection]")).to_contain_text("已逾期1小时")
    expect(qa.locator("summary[data-action=record_inspection]")).to_be_visible()
    assert 'fill="#f59e0b"' in qa.locator("figure.diagram").inner_html()  # the current state, highlighted
    screenshot(qa, "case")

    # Switching the language: everything, the definition's labels included, turns English.
    qa.get_by_test_id("language").click()
    expect(qa.locator("html")).to_have_attribute("lang", "en")
    expect(state_of(qa)).to_have_text("Received")
    expect(qa.locator("summary[data-action=record_inspection]")).to_contain_text("Record the inspection")
    expect(qa.locator("li[data-timer=inspection]")).to_contain_text("1 h overdue")
    expect(qa.get_by_role("heading", name="History")).to_be_visible()
    qa.goto("/")
    expect(qa.locator("h1")).to_have_text("Inbox")
    expect(qa.locator("tr[data-case]").first.get_by_test_id("overdue")).to_contain_text("Overdue")
    assert dialogs == []

    # The same case on a phone: nothing wider than the screen.
    phone = new_page("zh-CN", viewport=PHONE)
    sign_in(phone, "qa")
    open_case_page(phone, "TH202611-001")
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the case page is wider than a phone: {width}"
    screenshot(phone, "case-phone")


def test_typed_script_stays_text_and_an_auditor_can_only_read(people, new_page):
    lead = new_page("zh-CN")
    dialogs: list[str] = []
    lead.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(lead, "lead")
    lead.goto("/cases/new/return_inspection")
    lead.fill("#new-customer", PAYLOAD)
    lead.fill("#new-products", "<b>XJ-200</b>")
    lead.fill("#new-quantity", "3")
    lead.fill("#new-reason", "<script>window.__xss = 3</script>")
    lead.fill("#new-comment", "<img src=x onerror=\"window.__xss = 4\">")
    lead.get_by_role("button", name="创建案件").click()
    expect(lead.locator("td[data-field=customer]")).to_have_text(PAYLOAD)
    expect(lead.locator("td[data-field=products]")).to_have_text("<b>XJ-200</b>")
    expect(lead.get_by_test_id("history")).to_contain_text('<img src=x onerror="window.__xss = 4">')
    no_script_ran(lead)
    lead.goto("/cases?q=" + "华东机电")
    expect(lead.get_by_test_id("case-list")).to_contain_text(PAYLOAD)
    no_script_ran(lead)
    assert dialogs == []

    auditor = new_page("en-US")
    sign_in(auditor, "auditor")
    expect(auditor.locator("h1")).to_have_text("All cases")
    open_case_page(auditor, "TH202611-001")
    expect(auditor.get_by_test_id("read-only")).to_be_visible()
    expect(auditor.locator("summary[data-action]")).to_have_count(0)
    no_script_ran(auditor)
