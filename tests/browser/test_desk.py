"""The staff desk in a real browser, in Chinese and English, at laptop and phone width: the inbox's "mine",
a case with a note and a photo, the printable return record, and a search hit on "XJ-200"."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from .conftest import LAPTOP, PHONE
from .test_scenario import sign_in

pytestmark = pytest.mark.browser

WORDS = {
    "zh-CN": {"assign_me": "分派给我", "mine": "我的", "add": "添加到案件", "record": "退货检验记录表",
              "search": "搜索案件内容、意见、编号"},
    "en-GB": {"assign_me": "Assign to me", "mine": "Mine", "add": "Add to the case",
              "record": "Returned-goods inspection record", "search": "Search case data, comments, numbers"},
}


@pytest.fixture
def desk(app, staff, tmp_path):
    app.config.update(ATTACHMENT_DIR=str(tmp_path / "attachments"))
    staff("lead", "service_lead")
    staff("lead2", "service_lead")
    from web.extensions import db
    from workflow.engine import Actor, open_case

    lead = Actor("lead", frozenset({"service_lead"}))
    clock = app.extensions["workflow_clock"]
    case = open_case(db.session, clock, "return_inspection", {
        "customer": "华东机电", "products": "XJ-200 × 3", "quantity": 3, "reason": "运行时有异响 (noise)",
    }, lead)
    for customer in ("Beta Tools", "Gamma 五金"):
        open_case(db.session, clock, "return_inspection", {
            "customer": customer, "products": "AB-1 × 1", "quantity": 1, "reason": "外观划伤"}, lead)
    db.session.commit()
    return case.number


def photo(tmp_path) -> str:
    path = tmp_path / "damage.png"
    image = Image.new("RGB", (640, 480), (235, 235, 235))
    for x in range(200, 440):
        for y in range(180, 200):
            image.putpixel((x, y), (180, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def fits_the_viewport(page: Page) -> None:
    """Nothing scrolls sideways: the page is no wider than the window."""
    # After a click the new page may not have applied its stylesheets yet (a CI run measured the
    # unstyled table once); measure the page as the user sees it.
    page.wait_for_load_state("load")
    wider = page.evaluate("""() => {
        const limit = window.innerWidth + 1;
        if (document.documentElement.scrollWidth <= limit) return [];
        // Name the outermost elements that stick out, so a failure says what to fix.
        return [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > limit && !e.closest(".table-scroll, pre"))
            .filter(e => !(e.parentElement && e.parentElement.getBoundingClientRect().right > limit))
            .slice(0, 5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`);
    }""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), wider


def menu_inside_viewport(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    box = page.locator("details.dropdown[open] > ul").bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    page.get_by_test_id("user-menu").click()


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_desk_walkthrough(new_page, desk, screenshot, tmp_path, locale, viewport):
    words = WORDS[locale]
    suffix = ("" if locale == "zh-CN" else "-en") + ("" if viewport == LAPTOP else "-phone")
    page = new_page(locale=locale, viewport=viewport)
    sign_in(page, "lead")
    fits_the_viewport(page)
    menu_inside_viewport(page)

    # Assign the XJ-200 case to me; it shows under "mine".
    page.get_by_role("link", name=desk).first.click()
    page.get_by_role("button", name=words["assign_me"]).click()
    expect(page.get_by_test_id("assignee")).to_contain_text("lead")
    page.goto("/")
    page.get_by_role("link", name=words["mine"], exact=True).click()
    rows = page.locator("[data-testid=case-list] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(desk)
    fits_the_viewport(page)
    screenshot(page, f"desk-inbox-mine{suffix}")

    # A note with a photo: the thumbnail shows, the note is in the history.
    rows.first.get_by_role("link", name=desk).click()
    page.fill("#note", "外壳右侧有明显划痕，见照片 / scratch on the right side, see photo")
    page.set_input_files("#file", photo(tmp_path))
    page.get_by_role("button", name=words["add"]).click()
    thumb = page.locator("ul.files img.thumb")
    thumb.scroll_into_view_if_needed()  # loaded lazily: at phone width it starts below the fold
    expect(thumb).to_be_visible()
    # Polled by Playwright itself (wait_for_function would eval a string in the page, which the CSP refuses).
    # The thumbnail is a picture, not a broken image: its natural width becomes more than 0.
    expect(thumb).not_to_have_js_property("naturalWidth", 0)
    expect(page.get_by_test_id("history")).to_contain_text("scratch on the right side")
    fits_the_viewport(page)
    screenshot(page, f"desk-case-note-photo{suffix}")

    # The printable return record.
    page.get_by_test_id("print-link").click()
    expect(page.locator("h1")).to_contain_text(words["record"])
    expect(page.get_by_test_id("signatures")).to_contain_text("lead")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    screenshot(page, f"desk-print-return{suffix}")
    page.emulate_media(media="screen")

    # Search finds the part number in the case data.
    page.goto("/cases")
    page.get_by_placeholder(words["search"]).fill("XJ-200")
    page.get_by_placeholder(words["search"]).press("Enter")
    expect(page).to_have_url(re.compile(r"q=XJ-200"))
    rows = page.locator("[data-testid=case-list] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(desk)
    fits_the_viewport(page)
    screenshot(page, f"desk-search-xj200{suffix}")


def test_a_refused_file_is_reported_next_to_the_field(new_page, desk, tmp_path, app):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    page = new_page(locale="en-GB")
    sign_in(page, "lead")
    page.get_by_role("link", name=desk).first.click()
    page.fill("#note", "too big")
    page.set_input_files("#file", photo(tmp_path))
    page.get_by_role("button", name="Add to the case").click()
    expect(page.locator("#file-msg")).to_contain_text("at most 1,024")
    expect(page.locator("#note")).to_have_value("too big")
    expect(page.locator("ul.files")).to_have_count(0)
