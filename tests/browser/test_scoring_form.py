"""The appraisal's scoring form in a real browser, in Chinese and English, at laptop and phone width: the
supervisor records, the live total, grade and coefficient follow from the server's preview, a count below 0
gets its message at the item, and the sent sheet shows as the filled form (issue 15, item 1)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from workflow.appraisal import scoring
from workflow.definitions.scoresheet import shipped_scoresheets

from ..test_scoring_form import _to_scoring
from .conftest import LAPTOP, PHONE
from .test_desk import fits_the_viewport
from .test_scenario import sign_in

pytestmark = pytest.mark.browser

REPAIR = shipped_scoresheets()["repair"]
LANGUAGE = {"zh-CN": "zh", "en-GB": "en"}


def no_serious_violation(page: Page, where: str) -> None:
    """axe-core finds nothing serious or critical on the page as it stands."""
    found = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
             for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert found == [], where + "\n" + "\n".join(found)


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_supervisor_scores_with_a_live_total(app, staff, new_page, screenshot, locale, viewport):
    case_id = _to_scoring(app, staff, {"zhang": "repair"})["zhang"]
    language = LANGUAGE[locale]
    suffix = ("" if locale == "zh-CN" else "-en") + ("" if viewport == LAPTOP else "-phone")
    page = new_page(locale=locale, viewport=viewport)
    sign_in(page, "li")
    page.goto(f"/cases/{case_id}/actions/score")
    form = page.get_by_test_id("scoring-form")
    expect(form).to_be_visible()
    item = REPAIR.items()["perfunctory_work"]
    expect(form).to_contain_text(item.text[language])

    # Nothing recorded yet: the engine's total of an empty sheet, shown once the script has asked.
    total = form.locator("[data-total]")
    expect(total).to_have_text(str(scoring.score_sheet(REPAIR).total))

    # A count below 0: the server's message appears at the item, before anything is sent.
    count = form.locator('input[name="sheet.occurrences.perfunctory_work"]')
    count.fill("-1")
    message = form.locator('[data-message-for="sheet.occurrences.perfunctory_work"]')
    expect(message).to_be_visible()
    expect(message).to_contain_text(item.text[language])
    expect(total).to_have_text("—")
    no_serious_violation(page, "the scoring form with a message at an item")

    # Recorded properly: every scale on its first band, the behaviour twice; the total follows.
    bands = {}
    for key, scale in REPAIR.items().items():
        if scale.banded:
            form.locator(f'input[name="sheet.bands.{key}"][value="{scale.bands[0].key}"]').check()
            bands[key] = scale.bands[0].key
    count.fill("2")
    engine = scoring.score_sheet(REPAIR, {"perfunctory_work": 2}, {}, bands)
    expect(total).to_have_text(str(engine.total))
    expect(form.locator("[data-grade]")).to_have_text(engine.grade)
    expect(form.locator("[data-coefficient]")).to_have_text(str(engine.pay_coefficient))
    expect(message).to_be_hidden()
    fits_the_viewport(page)
    form.locator(".sheet-total").scroll_into_view_if_needed()
    screenshot(page, f"scoring-form{suffix}")

    # Sent: the case page shows the filled sheet with the engine's total, grade and coefficient.
    page.locator("#action-score form button[type=submit]").click()
    filled = page.get_by_test_id("filled-sheet")
    expect(filled).to_be_visible()
    expect(filled.get_by_test_id("filled-result")).to_contain_text(str(engine.total))
    expect(filled).to_contain_text(item.text[language])
    page.goto(f"/appraisal/sheets/{case_id}")
    expect(page.get_by_test_id("filled-sheet")).to_contain_text(str(engine.total))
    no_serious_violation(page, "the filled sheet")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    screenshot(page, f"scoring-form-filled{suffix}")
    page.emulate_media(media="screen")
