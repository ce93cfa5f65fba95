"""Forms from the definitions: `help:` under the inputs, user pickers fed by the engine, month inputs."""

from __future__ import annotations

import re

import jsonschema
import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.definitions import parse
from workflow.definitions.formats.definition import json_schema
from workflow.definitions.reader import read_checked
from workflow.definitions.schema import HELP_MAX_LENGTH
from workflow.engine import Actor, InvalidInputs, open_case
from workflow.engine.pickers import user_choices
from workflow.engine.users import disable_user, user_by_name
from workflow.models import Case

from .helpers import minimal_text
from .test_ui import Person, text_of

HR = Actor("hanna", frozenset({"hr"}))
# An appraisal sheet opened by HR for someone the register does not know.
SHEET = {"employee": "nobody", "supervisor": "sam", "department": "Service", "period": "2026-10",
         "template": "field_service"}


def count_cases() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0


@pytest.fixture
def register(app, staff, clock):
    """HR, two employees and a supervisor who may be named, and people who may not."""
    staff("hanna", "hr")
    for name in ("emma", "eric"):
        staff(name, "employee")
    staff("sam", "supervisor")
    staff("gone", "employee")
    disable_user(db.session, user_by_name(db.session, "gone"), clock.now())
    staff("lead", "service_lead")
    db.session.commit()


def _tag(page: str, element_id: str) -> str:
    found = re.search(rf'<(input|select|textarea|fieldset)\b[^>]*\bid="{element_id}"[^>]*>', page, re.S)
    assert found, f"no element {element_id}"
    return found.group(0)


def _fieldset_of(page: str, name: str) -> str:
    found = re.search(rf'<fieldset\b[^>]*>(?:(?!</fieldset>).)*name="{name}".*?</fieldset>', page, re.S)
    assert found, f"no fieldset for {name}"
    return found.group(0)


# -- help texts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "text"), [
    ("en", "13 days for a domestic complaint"), ("zh", "国内投诉自登记编号起13天内结案"),
])
def test_help_stands_under_the_input_and_the_input_names_it(app, staff, language, text):
    staff("sales", "sales")
    page = Person(app, "sales", language).get("/cases/new/complaint").text
    market = _tag(page, "new-market")
    assert 'aria-describedby="new-market-help"' in market
    help_text = re.search(r'<small id="new-market-help" class="field-help">(.*?)</small>', page, re.S)
    assert help_text and text in help_text.group(1)
    customer = _tag(page, "new-customer")  # a field without help names nothing
    assert "aria-describedby" not in customer


def test_help_and_the_engines_message_are_both_named(app, register):
    hr = Person(app, "hanna")
    hr.get("/cases/new/appraisal")
    response = hr.post("/cases/new/appraisal", SHEET)
    assert response.status_code == 422
    employee = _tag(response.text, "new-employee")
    assert 'aria-describedby="new-employee-help new-employee-msg"' in employee and 'aria-invalid="true"' in employee


def test_a_yes_no_question_carries_its_help_on_its_fieldset(app, staff):
    staff("sales", "sales")
    page = Person(app, "sales", "zh").get("/cases/new/complaint").text
    fieldset = _fieldset_of(page, "dealer_phone")
    assert 'aria-describedby="new-dealer_phone-help"' in fieldset
    assert '<small id="new-dealer_phone-help" class="field-help">' in fieldset and "24小时内" in fieldset


def test_a_step_form_shows_the_help_of_its_inputs(app, register, staff):
    staff("sales", "sales")
    sales = Person(app, "sales")
    sales.get("/cases/new/complaint")
    opened = sales.post("/cases/new/complaint", {
        "customer": "华东机电", "market": "domestic", "order_number": "SO-88231", "part_number": "XJ-200",
        "description": "noise"})
    assert opened.status_code == 302, opened.text
    page = sales.get(opened.headers["Location"]).text
    assert 'aria-describedby="submit-serious-help"' in _fieldset_of(page, "serious")
    assert "the deputy GM is told at once" in text_of(page)


def test_help_is_bilingual_and_bounded_in_the_definition_format():
    too_long = "x" * (HELP_MAX_LENGTH + 1)
    amount = "label: {en: Amount, zh: 金额}}"
    for help_value in (f"{{en: {too_long}, zh: 太长}}", "{en: Only English}"):
        text = minimal_text(**{amount: f"label: {{en: Amount, zh: 金额}}, help: {help_value}}}"})
        definition, problems = parse(text, "minimal.yaml")
        assert definition is None and [p.code for p in problems] == ["bad_value"], problems
    shown = minimal_text(**{amount: "label: {en: Amount, zh: 金额}, help: {en: In yuan, zh: 单位：元}}"})
    definition, problems = parse(shown, "minimal.yaml")
    assert problems == [] and definition is not None
    assert definition.fields["amount"].help == {"en": "In yuan", "zh": "单位：元"}


def test_a_case_fields_input_may_carry_its_own_help_for_that_step():
    text = minimal_text(**{"      - field: priority\n        required: false\n":
                           "      - field: priority\n        required: false\n"
                           "        help: {en: Urgent only with a reason, zh: 紧急须说明理由}\n"})
    definition, problems = parse(text, "minimal.yaml")
    assert problems == [] and definition is not None
    (priority,) = definition.transitions["submit"].inputs
    assert priority.spec.help == {"en": "Urgent only with a reason", "zh": "紧急须说明理由"}
    assert definition.fields["priority"].help is None  # the field itself is unchanged
    schema = jsonschema.Draft202012Validator(json_schema())
    doc, _ = read_checked(text, "minimal.yaml", lambda c, d: d)
    assert list(schema.iter_errors(doc)) == []


# -- user pickers ----------------------------------------------------------------------------------


def test_the_engine_offers_the_active_holders_of_the_role(app, register):
    from workflow.definitions import FieldSpec
    spec = FieldSpec(name="employee", type="string", label={"en": "E", "zh": "员"}, user_role="employee")
    assert [name for name, _ in user_choices(db.session, spec)] == ["emma", "eric"]  # not gone, not lead
    assert user_choices(db.session, FieldSpec(name="x", type="string", label={"en": "X", "zh": "X"})) == []


def test_the_form_offers_the_register_in_a_datalist(app, register):
    page = Person(app, "hanna").get("/cases/new/appraisal").text
    employee = _tag(page, "new-employee")
    assert 'list="new-employee-people"' in employee and 'autocomplete="off"' in employee
    listed = re.search(r'<datalist id="new-employee-people">(.*?)</datalist>', page, re.S)
    assert listed and re.findall(r'<option value="([^"]+)"', listed.group(1)) == ["emma", "eric"]
    supervisors = re.search(r'<datalist id="new-supervisor-people">(.*?)</datalist>', page, re.S)
    assert supervisors and re.findall(r'<option value="([^"]+)"', supervisors.group(1)) == ["sam"]


@pytest.mark.parametrize(("language", "said"), [("en", "there is no active user 'nobody'"),
                                                ("zh", "没有在用的用户 'nobody'")])
def test_an_unknown_user_is_refused_at_the_field_and_nothing_is_stored(app, register, language, said):
    hr = Person(app, "hanna", language)
    hr.get("/cases/new/appraisal")
    response = hr.post("/cases/new/appraisal", SHEET)
    assert response.status_code == 422
    message = re.search(r'<small id="new-employee-msg" class="field-error">(.*?)</small>', response.text, re.S)
    assert message and said in text_of(message.group(1))
    assert 'value="nobody"' in response.text  # what was typed is kept
    assert count_cases() == 0


def test_a_disabled_user_or_one_without_the_role_is_refused_by_the_engine(app, register, clock):
    for employee, said in (("gone", "there is no active user 'gone'"),
                           ("lead", "lead does not hold the role “Employee”")):  # the role as people call it
        with pytest.raises(InvalidInputs) as refused:
            open_case(db.session, clock, "appraisal", {**SHEET, "employee": employee}, HR)
        assert said in refused.value.fields["employee"]["en"]
        db.session.rollback()
    assert count_cases() == 0


# -- month fields ----------------------------------------------------------------------------------


def test_a_month_field_is_a_month_input_with_a_pattern_to_fall_back_on(app, register):
    page = Person(app, "hanna").get("/cases/new/appraisal").text
    period = _tag(page, "new-period")
    assert 'type="month"' in period and 'pattern="[0-9]{4}-(0[1-9]|1[0-2])"' in period
    assert 'placeholder="YYYY-MM"' in period


def test_format_month_belongs_to_a_string_and_brings_its_pattern():
    amount = "amount: {type: decimal, required: true, min: 0, label: {en: Amount, zh: 金额}}"
    month = "  period: {type: string, format: month, label: {en: Month, zh: 月份}}\n"
    definition, problems = parse(minimal_text(**{amount: amount + "\n" + month}), "minimal.yaml")
    assert problems == [] and definition is not None
    assert definition.fields["period"].pattern == "[0-9]{4}-(0[1-9]|1[0-2])"
    for flaw in ("type: integer, format: month", "type: string, format: month, pattern: '[0-9]+'",
                 "type: string, format: week"):
        broken = month.replace("type: string, format: month", flaw)
        _, problems = parse(minimal_text(**{amount: amount + "\n" + broken}), "minimal.yaml")
        assert [p.code for p in problems] in (["bad_field"], ["bad_value"]), (flaw, problems)


def test_a_month_that_is_no_month_is_refused(app, register, clock):
    with pytest.raises(InvalidInputs) as refused:
        open_case(db.session, clock, "appraisal", {**SHEET, "employee": "emma", "period": "2026-13"}, HR)
    assert "period" in refused.value.fields
    db.session.rollback()
    assert count_cases() == 0


# -- the case header -------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "said"), [("en", "workflow version 1"), ("zh", "流程版本 1")])
def test_the_case_header_says_workflow_version_not_version(app, register, language, said):
    lead = Person(app, "lead", language)
    lead.get("/cases/new/return_inspection")
    opened = lead.post("/cases/new/return_inspection",
                       {"customer": "华东机电", "products": "XJ-200 × 3", "quantity": "3", "reason": "异响"})
    assert opened.status_code == 302, opened.text
    header = re.search(r"<h1.*?</p>", lead.get(opened.headers["Location"]).text, re.S)
    assert header and said in text_of(header.group(0))
