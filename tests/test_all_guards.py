"""Every failing guard at once: a refused step or opening names all that is wrong, not the first thing only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine import Actor, GuardFailed, InvalidInputs, advance, get_case, open_case, workflow_of
from workflow.engine.refusals import GUARD, refusal
from workflow.models import Case

from .conftest import snapshot
from .helpers import minimal_text, publish_minimal
from .test_ui import Person, text_of

CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))

SMALL = {"en": "Amounts over 50000 need another route", "zh": "金额超过50000需走其他流程"}
CHECKED = {"en": "The checked amount must equal the amount", "zh": "核对金额须与申请金额一致"}
NOTED = {"en": "Say what was checked", "zh": "请写明核对内容"}
SHORT = {"en": "A note of at most 10 characters", "zh": "备注不超过10个字"}
# `approve` asks for a checked amount and a note, and has four guards: one on the case only, two about the
# checked amount's input and two on the note (so two messages land on one input).
GUARDED = minimal_text(**{
    '''    guards:
      - when: "amount <= 50000"
        message: {en: Amounts over 50000 need another route, zh: 金额超过50000需走其他流程}''': f'''    inputs:
      - name: checked_amount
        type: decimal
        label: {{en: Checked amount, zh: 核对金额}}
      - name: note
        type: string
        max: 40
        required: false
        label: {{en: Note, zh: 备注}}
    guards:
      - when: "amount <= 50000"
        message: {{en: {SMALL["en"]}, zh: {SMALL["zh"]}}}
      - when: "checked_amount == amount"
        field: checked_amount
        message: {{en: {CHECKED["en"]}, zh: {CHECKED["zh"]}}}
      - when: "note is set"
        field: note
        message: {{en: {NOTED["en"]}, zh: {NOTED["zh"]}}}
      - when: "note is not set or len(note) <= 10"
        field: note
        message: {{en: {SHORT["en"]}, zh: {SHORT["zh"]}}}''',
})
# Two opening guards that both fail on one set of data.
OPENING = minimal_text(**{
    "fields:\n": '''open_guards:
  - when: "amount >= 10"
    field: amount
    message: {en: At least 10, zh: 至少10}
  - when: "priority == 'urgent'"
    field: priority
    message: {en: Only urgent requests, zh: 只受理紧急申请}

fields:
''',
})


def submitted(clock, amount: str = "60000") -> Case:
    case = open_case(db.session, clock, "minimal", {"amount": amount}, CLERK)
    advance(db.session, clock, case, "submit", CLERK)
    db.session.commit()
    return case


def history_rows(case_id: int) -> int:
    return db.session.scalar(sa.text("SELECT count(*) FROM history WHERE case_id = :id"), {"id": case_id})


def test_two_failing_guards_are_both_reported_and_nothing_changes(app, clock):
    publish_minimal(clock, GUARDED)
    case = submitted(clock)
    before = snapshot(case.id)
    with pytest.raises(GuardFailed) as refused:
        advance(db.session, clock, case, "approve", MANAGER, {"checked_amount": "59000", "note": "ok"})
    error = refused.value
    assert error.messages["en"] == f"2 conditions are not met: {SMALL['en']}; {CHECKED['en']}"
    assert error.messages["zh"] == f"有 2 项条件不满足：{SMALL['zh']}；{CHECKED['zh']}"
    assert error.fields == {"checked_amount": CHECKED}  # the case-only guard has no field: in the message only
    db.session.rollback()
    assert snapshot(case.id) == before
    assert history_rows(case.id) == 2 and get_case(db.session, case.id).state == "submitted"


def test_two_guards_on_one_input_read_as_one_message_at_that_input(app, clock):
    publish_minimal(clock, GUARDED)
    case = submitted(clock, amount="100")
    with pytest.raises(GuardFailed) as refused:
        advance(db.session, clock, case, "approve", MANAGER, {"checked_amount": "99"})
    # A note not given fails both its guards (an input nobody gave is no name a guard can read).
    assert refused.value.fields == {
        "checked_amount": CHECKED,
        "note": {"en": f"{NOTED['en']}; {SHORT['en']}", "zh": f"{NOTED['zh']}；{SHORT['zh']}"},
    }
    with pytest.raises(GuardFailed) as refused:
        advance(db.session, clock, case, "approve", MANAGER, {"checked_amount": "100", "note": "much too long a note"})
    assert refused.value.fields == {"note": SHORT}
    assert refused.value.messages["en"] == SHORT["en"]  # one guard: its own message, as before


def test_the_api_lists_every_failing_guard_and_stores_nothing(app, api, clock):
    publish_minimal(clock, GUARDED)
    api.user("mike", "manager")
    case = submitted(clock)
    before = snapshot(case.id)
    response = api.client.post(
        f"/api/v1/cases/{case.id}/actions/approve",
        json={"inputs": {"checked_amount": "1"}, "expected_version": case.lock_version},
        headers={**api.headers("mike"), "Accept-Language": "zh"},
    )
    error = response.get_json()["error"]
    assert (response.status_code, error["code"]) == (422, "guard_failed")
    assert error["message"] == f"有 4 项条件不满足：{SMALL['zh']}；{CHECKED['zh']}；{NOTED['zh']}；{SHORT['zh']}"
    assert error["fields"] == {"checked_amount": CHECKED["zh"], "note": f"{NOTED['zh']}；{SHORT['zh']}"}
    assert snapshot(case.id) == before


def test_a_wrong_input_comes_with_the_guards_that_fail_without_it(app, clock):
    publish_minimal(clock, GUARDED)
    case = submitted(clock)
    before = snapshot(case.id)
    with pytest.raises(InvalidInputs) as refused:
        advance(db.session, clock, case, "approve", MANAGER, {"checked_amount": "lots"})
    error = refused.value
    # The checked amount is wrong in itself; the guard comparing it waits until it is a number. The amount
    # and the missing note fail besides, and are told now.
    assert set(error.fields) == {"checked_amount", "note"}
    assert error.fields["note"]["en"] == f"{NOTED['en']}; {SHORT['en']}"
    assert CHECKED["en"] not in error.fields["checked_amount"]["en"]
    assert error.messages["en"].startswith("Please correct: checked_amount")
    assert SMALL["en"] in error.messages["en"] and NOTED["zh"] in error.messages["zh"]
    db.session.rollback()
    assert snapshot(case.id) == before


def test_a_step_not_offered_names_all_its_failing_case_guards(app, clock):
    publish_minimal(clock, minimal_text(**{
        '''      - when: "amount <= 50000"
        message: {en: Amounts over 50000 need another route, zh: 金额超过50000需走其他流程}''':
        '''      - when: "amount <= 50000"
        message: {en: Amounts over 50000 need another route, zh: 金额超过50000需走其他流程}
      - when: "priority == 'urgent'"
        message: {en: Only urgent requests are approved here, zh: 此处只批准紧急申请}''',
    }))
    case = submitted(clock)
    step = workflow_of(case.version).definition.transitions["approve"]
    refused = refusal(db.session, case, step, MANAGER, clock)
    assert refused is not None and refused.code == GUARD
    assert refused.messages["en"] == (
        "2 conditions are not met: Amounts over 50000 need another route; Only urgent requests are approved here")


def test_every_failing_opening_guard_at_once(app, clock):
    publish_minimal(clock, OPENING)
    with pytest.raises(GuardFailed) as refused:
        open_case(db.session, clock, "minimal", {"amount": "5"}, CLERK)
    assert refused.value.fields == {"amount": {"en": "At least 10", "zh": "至少10"},
                                    "priority": {"en": "Only urgent requests", "zh": "只受理紧急申请"}}
    db.session.rollback()
    with pytest.raises(InvalidInputs) as wrong:  # a wrong amount: the priority's guard is still told
        open_case(db.session, clock, "minimal", {"amount": "-1"}, CLERK)
    assert set(wrong.value.fields) == {"amount", "priority"}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_case_page_shows_each_failing_guard_at_its_input_and_all_in_the_message(app, staff, clock, language):
    publish_minimal(clock, GUARDED)
    staff("carol", "clerk")
    staff("mike", "manager")
    case = submitted(clock, amount="100")  # within the case's own guard: the step is offered
    mike = Person(app, "mike", language)
    mike.get(f"/cases/{case.id}")
    sent = mike.post(f"/cases/{case.id}/actions/approve", {
        "checked_amount": "1", "note": "", "expected_version": str(case.lock_version)})
    assert sent.status_code == 422
    page, text = sent.text, text_of(sent.text)
    assert f'id="approve-checked_amount-msg" class="field-error">{CHECKED[language]}<' in page
    assert f'id="approve-note-msg" class="field-error">{NOTED[language]}' in page
    assert SHORT[language] in text_of(page.split('id="approve-note-msg"')[1].split("</small>")[0])
    assert ("3 conditions are not met" if language == "en" else "有 3 项条件不满足") in text
    db.session.expire_all()
    assert history_rows(case.id) == 2


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_page_with_a_wrong_input_also_says_the_rule_that_belongs_to_no_input(app, staff, clock, language):
    publish_minimal(clock, GUARDED)
    staff("carol", "clerk")
    staff("mike", "manager")
    case = submitted(clock)  # 60000: over the case's own limit, a rule of no one input
    mike = Person(app, "mike", language)
    mike.get(f"/cases/{case.id}")
    sent = mike.post(f"/cases/{case.id}/actions/approve", {
        "checked_amount": "lots", "note": "", "expected_version": str(case.lock_version)})
    assert sent.status_code == 422
    assert SMALL[language] in text_of(sent.text)
    db.session.expire_all()
    assert history_rows(case.id) == 2
