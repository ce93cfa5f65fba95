"""A process owner shortens the returns inspection from 48 to 36 hours in a real browser: the code editor marks
a typo at its line, the preview follows the text, the diff shows what happens to the running timers, the new
version is published with a reason, the running cases are migrated, and a case page shows the new due time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from web.extensions import db
from workflow.models import Timer

from .test_scenario import more_received_returns, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def people(staff):
    for name, role in {"lead": "service_lead", "director": "quality_director", "clerk": "returns_clerk",
                       "owner": "process_owner"}.items():
        staff(name, role)


def inspection_due() -> dict[int, datetime]:
    """When each running inspection timer is due, by case."""
    db.session.expire_all()
    return {t.case_id: t.due_at for t in db.session.scalars(
        sa.select(Timer).where(Timer.name == "inspection", Timer.status == "running"))}


def select_in_editor(page: Page, text: str) -> None:
    """Select `text` in the code editor, as a person would before typing over it."""
    page.evaluate("""(text) => {
        const view = window.workbenchEditor;
        const at = view.state.doc.toString().indexOf(text);
        if (at < 0) throw new Error("not in the editor: " + text);
        view.dispatch({selection: {anchor: at, head: at + text.length}, scrollIntoView: true});
        view.focus();
    }""", text)


def test_a_process_owner_shortens_the_inspection_and_migrates_the_running_cases(
    people, new_page, screenshot, frozen_clock, app, clock,
):
    # One return arrived 40 hours ago (its 48 h inspection is due in 8 h), two arrive now.
    more_received_returns(app, "华东机电")
    frozen_clock.advance(hours=40)
    for customer in ("上海精工机械", "宁波海天塑机"):
        more_received_returns(app, customer)
    before = inspection_due()
    assert len(before) == 3

    owner = new_page("en-US")
    sign_in(owner, "owner")
    owner.get_by_role("link", name="Workflows").click()
    owner.locator("a[data-workflow=return_inspection]").click()
    expect(owner.get_by_test_id("length-inspection")).to_have_text("48 hours")
    owner.get_by_test_id("new-draft").click()
    expect(owner.locator(".cm-editor")).to_be_visible()
    expect(owner.locator("textarea#source")).to_be_hidden()  # the editor replaced it
    expect(owner.get_by_test_id("preview").locator("svg")).to_contain_text("48 hours")

    # A typo: the server's check marks it at its line, in the list and in the editor's gutter.
    select_in_editor(owner, "duration: 48h")
    owner.keyboard.type("duraton: 36h")
    problems = owner.get_by_test_id("problems")
    expect(problems).to_contain_text("unknown_key")
    line = owner.evaluate("window.workbenchEditor.state.doc.toString().split('\\n').indexOf('    duraton: 36h') + 1")
    expect(problems.locator("li", has_text="unknown_key").first).to_contain_text(f"Line {line}")
    expect(owner.locator(".cm-lint-marker-error").first).to_be_visible()
    screenshot(owner, "workbench-editor")

    # Corrected: no problems, and the preview now shows the 36-hour timer.
    select_in_editor(owner, "duraton")
    owner.keyboard.type("duration")
    expect(problems).to_contain_text("No problems")
    expect(owner.get_by_test_id("preview").locator("svg")).to_contain_text("36 hours")
    expect(owner.locator(".cm-lint-marker-error")).to_have_count(0)
    owner.get_by_test_id("save").click()
    expect(owner.locator("p[role=status].notice.success")).to_contain_text("Draft saved.")

    # The diff: what the change does to the three running inspections.
    owner.get_by_test_id("to-diff").click()
    impact = owner.get_by_test_id("impact")
    expect(impact).to_contain_text("3 running case(s). Received: 3")
    expect(impact.locator("li[data-timer=inspection]")).to_contain_text(
        "3 running timers move 12 h earlier, 1 becomes overdue at once")
    expect(owner.get_by_test_id("yaml-diff").locator(".add")).to_contain_text(["+    duration: 36h"])
    expect(owner.get_by_test_id("diagram-diff").locator("svg")).to_contain_text("48h → 36h")
    screenshot(owner, "workbench-diff")

    # Publishing needs a reason (the browser asks for it), then goes straight to migrating.
    owner.get_by_test_id("publish").click()
    expect(owner.locator("#reason:invalid")).to_have_count(1)
    owner.fill("#reason", "Customers were promised an answer within 36 hours")
    owner.get_by_test_id("publish").click()
    expect(owner.locator("p[role=status].notice.success")).to_contain_text("Version 2 published.")
    expect(owner).to_have_url(re.compile(r"/workflows/return_inspection/migrate\?from_version=1&to_version=2"))

    owner.get_by_test_id("dry-run").click()
    result = owner.get_by_test_id("migration-result")
    expect(result).to_contain_text("Dry run")
    expect(result.locator("tr.outcome-migrate")).to_have_count(3)
    assert inspection_due() == before
    owner.get_by_test_id("run").click()
    expect(result.locator("tr.outcome-migrated")).to_have_count(3)

    after = inspection_due()
    assert {case_id: before[case_id] - due for case_id, due in after.items()} == {
        case_id: timedelta(hours=12) for case_id in before}

    # The case that arrived 40 hours ago: its page shows the service lead the new due time, already passed.
    first = min(after)
    lead = new_page("en-US")
    sign_in(lead, "lead")
    lead.goto(f"/cases/{first}")
    timer = lead.locator("li[data-timer=inspection]")
    expect(timer).to_contain_text(clock.local(after[first]).strftime("%Y-%m-%d %H:%M"))
    expect(timer).to_have_class(re.compile("overdue"))
