"""The appraisal's scoring form: generated from the sheet's template, scored by the engine the same way as the
JSON the API takes, bad counts refused at their item with nothing stored, and the live preview for whoever may
take the step only (issue 15, item 1)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import sqlalchemy as sa

from web.extensions import db
from workflow.appraisal import scoring, set_staff
from workflow.definitions.scoresheet import shipped_scoresheets
from workflow.models import Case, HistoryEntry

from .test_ui import Person, text_of

DEPARTMENT = "售后服务部"
REPAIR = shipped_scoresheets()["repair"]
SUPPORT = shipped_scoresheets()["technical_support"]
IMPROVEMENT = shipped_scoresheets()["technical_improvement"]


def _step(person: Person, case_id: int, action: str, data: dict | None = None):
    person.get(f"/cases/{case_id}")
    return person.post(f"/cases/{case_id}/actions/{action}", data or {})


def _to_scoring(app, staff, templates: dict[str, str]) -> dict[str, int]:
    """Sheets of the month for each employee (their template), walked to the supervisor's scoring."""
    for name, roles in {"hr": ["hr"], "li": ["supervisor"], **{e: ["employee"] for e in templates}}.items():
        staff(name, *roles)
    for employee, template in templates.items():
        set_staff(db.session, employee, DEPARTMENT, template, Decimal("1000"), "li")
    db.session.commit()
    hr, li = Person(app, "hr"), Person(app, "li")
    hr.get("/appraisal")
    assert hr.post("/appraisal/open", {"department": DEPARTMENT, "period": "2026-11"}).status_code == 302
    sheets = db.session.scalars(sa.select(Case).where(Case.workflow_key == "appraisal"))
    cases = {c.data["employee"]: c.id for c in sheets}
    for employee, case_id in cases.items():
        me = Person(app, employee)
        for who, action, data in ((li, "agree_goals", {"goals": "Keep the repairs moving"}), (me, "sign_agreement", {}),
                                  (li, "countersign_agreement", {}), (me, "self_report", {"work_summary": "Done"})):
            assert _step(who, case_id, action, data).status_code == 302, action
    db.session.expire_all()
    assert {db.session.get(Case, i).state for i in cases.values()} == {"scoring"}
    return cases


def _ahead(sheet) -> dict[str, str]:
    """The first band of every scale, as the form sends it."""
    return {f"sheet.bands.{i.key}": i.bands[0].key for s in sheet.sections for i in s.items if i.banded}


def _message_at(page: str, input_id: str) -> str:
    found = re.search(rf'id="{re.escape(input_id)}-msg"[^>]*>([^<]*)<', page)
    assert found, f"no message element for {input_id}"
    return found.group(1).strip()


def test_the_generated_form_lists_every_item_of_the_template_by_its_own_words(app, staff):
    case_id = _to_scoring(app, staff, {"zhang": "repair"})["zhang"]
    for language, li in (("en", Person(app, "li")), ("zh", Person(app, "li", language="zh"))):
        page = li.get(f"/cases/{case_id}/actions/score")
        assert page.status_code == 200
        assert 'data-testid="scoring-form"' in page.text and '<textarea id="score-sheet"' not in page.text
        shown = text_of(page.text)
        for section in REPAIR.sections:
            assert section.title[language] in shown
            for item in section.items:
                assert item.text[language] in shown, item.key
                if item.banded:
                    for band in item.bands:
                        assert f'name="sheet.bands.{item.key}" value="{band.key}"' in page.text
                        assert band.text[language] in shown
                else:
                    assert re.search(rf'name="sheet\.occurrences\.{item.key}"[^>]*min="0" max="99"', page.text)
        for kind, names in scoring.ADJUSTMENT_LABELS.items():
            assert names[language] in shown and f'name="sheet.adjustments.{kind}"' in page.text
        assert "seven_day_completion" not in shown  # keys stay in the input names, never in the words


def test_a_goal_sheet_offers_its_goals_within_0_and_100_and_its_range_bands_with_their_points(app, staff):
    case_id = _to_scoring(app, staff, {"zhang": "technical_support"})["zhang"]
    page = Person(app, "li").get(f"/cases/{case_id}/actions/score").text
    for goal in SUPPORT.goals:
        assert goal.title["en"] in text_of(page)
        assert re.search(rf'name="sheet\.goal_scores\.{goal.key}"[^>]*min="0" max="100"', page)
    ranged = [(i, b) for s in SUPPORT.sections for i in s.items for b in i.bands if not b.fixed]
    assert ranged
    for item, band in ranged:
        assert re.search(rf'name="sheet\.points\.{item.key}\.{band.key}"[^>]*min="{band.low}" max="{band.high}"', page)


def test_a_submitted_form_scores_the_same_as_the_json_would(app, staff):
    cases = _to_scoring(app, staff, {"zhang": "repair", "zhao": "repair"})
    li = Person(app, "li")
    counts = {"perfunctory_work": 1, "late_modification": 2}
    bands = {k.split(".")[-1]: v for k, v in _ahead(REPAIR).items()}
    form = {**_ahead(REPAIR), **{f"sheet.occurrences.{k}": str(v) for k, v in counts.items()},
            "sheet.occurrences.shirked_assignment": "0", "sheet.adjustments.merit": "1",
            "sheet.adjustments.warning": ""}
    assert _step(li, cases["zhang"], "score", form).status_code == 302
    as_json = {"occurrences": counts, "bands": bands, "goal_scores": {}, "adjustments": ["merit"]}
    assert _step(li, cases["zhao"], "score", {"sheet": json.dumps(as_json)}).status_code == 302
    db.session.expire_all()
    by_form, by_json = (db.session.get(Case, cases[e]).data["sheet"] for e in ("zhang", "zhao"))
    assert by_form["result"] == by_json["result"]
    assert {k: by_form[k] for k in as_json} == as_json
    expected = scoring.score_sheet(REPAIR, counts, {}, bands, ["merit"])
    assert Decimal(by_form["result"]["total"]) == expected.total
    assert by_form["result"]["grade"] == expected.grade


def test_bad_counts_and_goal_scores_are_refused_at_their_item_and_nothing_is_stored(app, staff):
    cases = _to_scoring(app, staff, {"zhang": "technical_improvement"})
    case_id = cases["zhang"]
    before = db.session.get(Case, case_id)
    state, lock = before.state, before.lock_version
    count = sa.select(sa.func.count()).select_from(HistoryEntry).where(HistoryEntry.case_id == case_id)
    rows = db.session.scalar(count)
    li = Person(app, "li")
    count_item = next(i for s in IMPROVEMENT.sections for i in s.items if not i.banded)
    bands = {f"sheet.bands.{i.key}": next(b for b in i.bands if b.fixed).key
             for s in IMPROVEMENT.sections for i in s.items if i.banded}
    goals = {f"sheet.goal_scores.{g.key}": "100" for g in IMPROVEMENT.goals}
    for bad in ("-1", "100"):
        sent = _step(li, case_id, "score", {**bands, **goals, f"sheet.occurrences.{count_item.key}": bad})
        assert sent.status_code == 422
        message = _message_at(sent.text, f"score-sheet-{count_item.key}")
        assert count_item.text["en"] in message and "0 to 99" in message and bad in message
        assert count_item.key not in text_of(sent.text).replace(f"sheet.occurrences.{count_item.key}", "")
        assert f'value="{bad}"' in sent.text  # what was typed stays in the form
    goal = IMPROVEMENT.goals[0]
    sent = _step(li, case_id, "score", {**bands, **goals, f"sheet.goal_scores.{goal.key}": "120"})
    assert sent.status_code == 422
    assert "0–100" in _message_at(sent.text, f"score-sheet-{goal.key}")
    zh = Person(app, "li", language="zh")
    sent = _step(zh, case_id, "score", {**bands, **goals, f"sheet.occurrences.{count_item.key}": "-1"})
    assert count_item.text["zh"] in _message_at(sent.text, f"score-sheet-{count_item.key}")
    db.session.expire_all()
    after = db.session.get(Case, case_id)
    assert (after.state, after.lock_version, after.data.get("sheet")) == (state, lock, None)
    assert db.session.scalar(count) == rows


def test_an_unscored_scale_is_named_by_its_words_at_its_item(app, staff):
    case_id = _to_scoring(app, staff, {"zhang": "repair"})["zhang"]
    sent = _step(Person(app, "li"), case_id, "score", {"sheet.occurrences.perfunctory_work": "1"})
    assert sent.status_code == 422
    scale = next(i for s in REPAIR.sections for i in s.items if i.banded)
    assert "still to score" in _message_at(sent.text, f"score-sheet-{scale.key}")
    assert scale.text["en"] in text_of(sent.text) and f"still to score: {scale.key}" not in sent.text


def test_the_preview_answers_the_engine_s_scoring_for_the_step_s_roles_only(app, staff):
    cases = _to_scoring(app, staff, {"zhang": "repair", "zhao": "repair"})
    case_id = cases["zhang"]
    url = f"/cases/{case_id}/actions/score/sheet-preview/sheet"
    li = Person(app, "li")
    li.get(f"/cases/{case_id}")
    answer = li.post(url, {**_ahead(REPAIR), "sheet.occurrences.perfunctory_work": "1"})
    assert answer.status_code == 200
    body = answer.get_json()
    bands = {k.split(".")[-1]: v for k, v in _ahead(REPAIR).items()}
    engine = scoring.score_sheet(REPAIR, {"perfunctory_work": 1}, {}, bands)
    assert body["result"] == {"total": str(engine.total), "grade": engine.grade,
                              "pay_coefficient": str(engine.pay_coefficient)}
    assert body["sections"]["work_compliance"] == "10"  # 20 − 10
    bad = li.post(url, {**_ahead(REPAIR), "sheet.occurrences.perfunctory_work": "-2"}).get_json()
    assert bad["result"] is None and "0 to 99" in bad["problems"]["sheet.occurrences.perfunctory_work"]
    # the same question as taking the step: the employee sees the sheet but may not score it, nor may HR
    for name in ("zhang", "hr"):
        other = Person(app, name)
        other.get(f"/cases/{case_id}")
        assert other.post(url, _ahead(REPAIR)).status_code == 403
    # another employee does not even see the sheet
    assert Person(app, "zhao").post(url, _ahead(REPAIR)).status_code == 404
    # a session POST like any other: without the CSRF token it is refused
    assert li.post(url, _ahead(REPAIR), token=False).status_code == 400
    db.session.expire_all()
    assert db.session.get(Case, case_id).data.get("sheet") is None  # a preview stores nothing


def test_the_scored_sheet_shows_as_the_filled_form(app, staff):
    case_id = _to_scoring(app, staff, {"zhang": "repair"})["zhang"]
    li = Person(app, "li")
    assert _step(li, case_id, "score", {**_ahead(REPAIR), "sheet.occurrences.perfunctory_work": "2"}).status_code == 302
    assert "Total" in text_of(li.get(f"/cases/{case_id}").text.split('data-testid="sheet-summary"')[1])
    for path in (f"/appraisal/sheets/{case_id}", f"/cases/{case_id}"):
        page = li.get(path).text
        assert 'data-testid="filled-sheet"' in page
        shown = text_of(page)
        for section in REPAIR.sections:
            assert section.title["en"] in shown
            assert all(item.text["en"] in shown for item in section.items)
        assert "Wrangled over work or did it perfunctorily −10 2 −20" in shown
        bands = {k.split(".")[-1]: v for k, v in _ahead(REPAIR).items()}
        engine = scoring.score_sheet(REPAIR, {"perfunctory_work": 2}, {}, bands)
        assert f"Total {engine.total} Grade {engine.grade} Pay coefficient {engine.pay_coefficient}" in shown
        assert '"occurrences"' not in shown and "&#34;occurrences" not in page  # no raw JSON, not even in the history


def test_proposed_evidence_is_decided_in_the_form_and_then_shown_at_its_item(app, staff):
    from workflow.appraisal.models import Evidence

    cases = _to_scoring(app, staff, {"zhang": "repair", "zhao": "repair"})
    case_id = cases["zhang"]
    reason = {"en": "A customer complaint closed with you held responsible", "zh": "客户投诉结案，认定您负有责任"}
    proposal = Evidence(person="zhang", period="2026-11", source_case_id=cases["zhao"], source_action="close",
                        reason=reason, created_at=app.extensions["workflow_clock"].now())
    db.session.add(proposal)
    db.session.commit()
    li = Person(app, "li")
    page = li.get(f"/cases/{case_id}/actions/score").text
    box = page[page.index('data-testid="proposed-evidence"'):page.index('data-section="work_compliance"')]
    assert reason["en"] in text_of(box) and f'name="evidence_item.{proposal.id}"' in box
    assert REPAIR.items()["perfunctory_work"].text["en"] in text_of(box)  # the items, by their words
    # Sent by the accept button of the step's form (formaction): the engine records the decision.
    sent = li.post(f"/appraisal/sheets/{case_id}/evidence/{proposal.id}",
                   {"decision": "accept", f"evidence_item.{proposal.id}": "perfunctory_work", "action": "score"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/cases/{case_id}/actions/score")
    db.session.expire_all()
    assert (db.session.get(Evidence, proposal.id).status, db.session.get(Evidence, proposal.id).item) == (
        "accepted", "perfunctory_work")
    page = li.get(f"/cases/{case_id}/actions/score").text
    assert 'data-testid="proposed-evidence"' not in page
    item = page[page.index('data-item="perfunctory_work"'):page.index('data-item="shirked_assignment"')]
    assert 'data-testid="item-evidence"' in item and reason["en"] in text_of(item)
    # ... and the engine counts it: the preview deducts it without the supervisor counting it again
    answer = li.post(f"/cases/{case_id}/actions/score/sheet-preview/sheet", _ahead(REPAIR)).get_json()
    assert answer["sections"]["work_compliance"] == "10"
    # someone who may not score the sheet may not decide its proposals either
    other = Evidence(person="zhang", period="2026-11", source_case_id=cases["zhao"], source_action="close",
                     reason=reason, created_at=app.extensions["workflow_clock"].now())
    db.session.add(other)
    db.session.commit()
    hr = Person(app, "hr")
    hr.get(f"/cases/{case_id}")
    hr.post(f"/appraisal/sheets/{case_id}/evidence/{other.id}", {"decision": "reject"})
    db.session.expire_all()
    assert db.session.get(Evidence, other.id).status == "proposed"
