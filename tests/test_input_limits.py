"""A limit on every input (issue 9, points 7 and 8): each bad input of the issue is refused with a clear error
body and changes nothing, on SQLite and PostgreSQL; CSV exports are safe to open in a spreadsheet.

"Changes nothing" is checked byte for byte: `snapshot` (tests/conftest.py) for the case acted on, `stored()`
for every table a request could write to.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from web import create_app, safe_csv
from web.extensions import db
from workflow.appraisal import set_staff
from workflow.appraisal.models import Evidence
from workflow.definitions.schema import FieldSpec
from workflow.definitions.values import MAX_STRING, MAX_TEXT, InvalidValue, YearRange, coerce, set_years, years
from workflow.engine import Actor, InvalidInputs, advance, get_case, open_case
from workflow.engine.periods import InvalidPeriod, parse_period

from . import test_appraisal as appraisal
from .conftest import snapshot
from .helpers import publish_minimal
from .test_paths_appraisal import GOALS, HR, SHEET, SUPERVISOR, WORK_DONE
from .test_paths_appraisal import people as appraisal_people
from .test_ui import Person

RETURN = {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}
OPINIONS = {"application_ref": "A", "opinions": "ok"}
PART = {"customer": "Northwind", "product": "XJ-200", "part": "bearing", "quantity": 1, "reason": "worn",
        "request_date": "2026-11-20"}
WRITTEN_TABLES = ("cases", "history", "timers", "case_keys", "case_counters", "notifications", "evidence",
                  "staff", "department_coefficients", "workflow_versions", "closures", "distribution_rules",
                  "department_heads", "closeout_lists", "closeout_lines", "penalty_entries",
                  "complaint_report_confirmations", "audit_runs", "workflow_drafts", "saved_filters",
                  "scoresheet_versions", "scoresheet_proposals")
MIB = 1024 * 1024


def stored() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a request could write (not users and tokens: each call notes its token's use)."""
    with db.engine.connect() as conn:
        return {table: sorted((tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))), key=repr)
                for table in WRITTEN_TABLES}


def refused(response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    body = response.get_json()
    assert (response.status_code, body and body["error"]["code"]) == (status, code), body
    assert set(body) == {"error"} and body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"], body
    return body["error"]


def post_raw(api, user: str, path: str, text: str):
    """A JSON body exactly as written (json.dumps would refuse what some of these carry)."""
    return api.client.post(path, data=text.encode("utf-8"), content_type="application/json",
                           headers=api.headers(user))


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
def returned(api) -> dict[str, Any]:
    return api.open("service_lead", "return_inspection", RETURN)


def act(api, case: dict[str, Any], body: dict[str, Any]):
    return api.post("service_lead", f"/api/v1/cases/{case['id']}/actions/collect_opinions",
                    {"inputs": OPINIONS, "expected_version": case["lock_version"], **body})


# ---------------------------------------------------------------------------------------------- comments


@pytest.mark.parametrize("comment", [5, 1.5, True, [1], {"a": 1}, "x" * 4001], ids=repr)
def test_a_comment_that_is_not_short_text_opens_no_case(api, comment):
    before = stored()
    response = api.post("service_lead", "/api/v1/cases",
                        {"workflow": "return_inspection", "data": RETURN, "comment": comment})
    error = refused(response, 422, "invalid_inputs", "comment")
    assert error["fields"]["comment"] in ("must be text", "must be at most 4000 characters long")
    assert stored() == before


@pytest.mark.parametrize("comment", [5, 1.5, False, ["a"], {"a": 1}, "x" * 4001], ids=repr)
def test_a_comment_that_is_not_short_text_moves_nothing(api, returned, comment):
    before = snapshot(returned["id"])
    refused(act(api, returned, {"comment": comment}), 422, "invalid_inputs", "comment")
    assert snapshot(returned["id"]) == before


def test_a_comment_of_4000_characters_is_kept_whole(api, returned):
    assert act(api, returned, {"comment": "注" * 4000}).status_code == 200
    history = api.get("service_lead", f"/api/v1/cases/{returned['id']}/history").get_json()["items"]
    assert history[-1]["comment"] == "注" * 4000


def test_the_engine_refuses_a_bad_comment_for_every_caller(app, api, returned, clock):
    """The API, the UI and the CLI all go through these two operations."""
    lead = Actor("service_lead", frozenset({"service_lead"}))
    before = snapshot(returned["id"])
    with pytest.raises(InvalidInputs) as opening:
        open_case(db.session, clock, "return_inspection", RETURN, lead, comment=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputs) as moving:
        advance(db.session, clock, get_case(db.session, returned["id"]), "collect_opinions", lead, OPINIONS,
                comment="x\ud800")
    db.session.rollback()
    assert set(opening.value.fields) == set(moving.value.fields) == {"comment"}
    assert snapshot(returned["id"]) == before


# ---------------------------------------------------------------------------------------------- the request itself


def test_a_body_over_max_content_length_is_a_413_with_the_error_body(api, returned):
    before = snapshot(returned["id"])
    response = act(api, returned, {"comment": "x" * (MIB + 1)})
    refused(response, 413, "request_entity_too_large")
    assert snapshot(returned["id"]) == before


def test_a_large_body_below_the_limit_is_read(api, returned):
    response = act(api, returned, {"comment": "x" * 4000, "padding": "y" * (MIB // 2)})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("depth", [21, 1000, 100_000])
def test_json_nested_deeper_than_20_levels_is_a_400(api, depth):
    before = stored()
    # "data" is at depth 1 of the body, so its innermost value is at `depth`; the deepest go as text
    # because json.dumps itself would give up on them.
    text = json.dumps({"workflow": "return_inspection", "data": nested(depth - 1)}) if depth < 900 else (
        '{"workflow": "return_inspection", "data": ' + "[" * depth + "]" * depth + "}")
    refused(post_raw(api, "service_lead", "/api/v1/cases", text), 400, "bad_request")
    assert stored() == before


def test_json_nested_20_levels_deep_is_read(api):
    response = api.post("service_lead", "/api/v1/cases", {"workflow": "return_inspection", "data": nested(19)})
    refused(response, 422, "invalid_inputs", "a")  # read, and refused for what it says: no field "a"


@pytest.mark.parametrize("text", [
    '{"workflow": "return_inspection", "data": {"customer": "\\ud800", "products": "p", "quantity": 3, "reason": "r"}}',
    '{"workflow": "return_inspection", "data": {"\\udc00": 1}}',
    '{"workflow": "return_inspection\\ud83d", "data": {}}',
    '{"workflow": "return_inspection", "data": {}, "comment": "a\\u0000b"}',
], ids=["value", "key", "workflow", "nul"])
def test_text_that_is_not_unicode_or_holds_nul_is_a_400(api, text):
    before = stored()
    error = refused(post_raw(api, "service_lead", "/api/v1/cases", text), 400, "bad_request")
    assert error["fields"], error
    assert stored() == before


def test_a_lone_surrogate_in_a_comment_moves_nothing(api, returned):
    before = snapshot(returned["id"])
    body = json.dumps({"inputs": OPINIONS, "comment": "\ud800", "expected_version": returned["lock_version"]})
    response = post_raw(api, "service_lead", f"/api/v1/cases/{returned['id']}/actions/collect_opinions", body)
    assert refused(response, 400, "bad_request", "comment")
    assert snapshot(returned["id"]) == before


def test_the_refusal_speaks_chinese_when_asked(api):
    response = api.client.post("/api/v1/cases", data=b'{"workflow": "\\ud800"}', content_type="application/json",
                               headers={**api.headers("service_lead"), "Accept-Language": "zh-CN"})
    assert "Unicode" in refused(response, 400, "bad_request")["message"]
    assert "无效" in response.get_json()["error"]["message"]


# ---------------------------------------------------------------------------------------------- query parameters


@pytest.mark.parametrize(("query", "field"), [
    ("/api/v1/cases?page=0", "page"), ("/api/v1/cases?page=-1", "page"), ("/api/v1/cases?page=abc", "page"),
    ("/api/v1/cases?page=2147483648", "page"), ("/api/v1/cases?page=1.5", "page"),
    ("/api/v1/cases?page=100000000000000000000000", "page"), ("/api/v1/cases?page=%EF%BC%91", "page"),
    ("/api/v1/cases?per_page=0", "per_page"), ("/api/v1/cases?per_page=501", "per_page"),
    ("/api/v1/cases?per_page=x", "per_page"),
    ("/api/v1/notifications?limit=0", "limit"), ("/api/v1/notifications?limit=201", "limit"),
    ("/api/v1/notifications?limit=all", "limit"),
    ("/api/v1/workflows/return_inspection?version=0", "version"),
    ("/api/v1/workflows/return_inspection?version=abc", "version"),
    ("/api/v1/workflows/return_inspection?version=2147483648", "version"),
    ("/api/v1/workflows/return_inspection/diagram.svg?version=-1", "version"),
])
def test_a_query_number_out_of_range_or_unreadable_is_a_400_never_clamped(api, query, field):
    error = refused(api.get("auditor", query), 400, "bad_request", field)
    assert "whole number" in error["fields"][field]


def test_query_numbers_in_range_are_taken_as_given(api, returned):
    listed = api.get("auditor", "/api/v1/cases?page=2147483647&per_page=500").get_json()
    assert (listed["page"], listed["per_page"], listed["items"]) == (2147483647, 500, [])
    assert api.get("auditor", "/api/v1/cases?page=&per_page=").get_json()["per_page"] == 50  # blank is absent
    assert api.get("auditor", "/api/v1/notifications?limit=200").status_code == 200
    assert api.get("auditor", "/api/v1/workflows/return_inspection?version=1").get_json()["version"] == 1


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1999-12", "2101-01", "2026-13", "2026-1", "2026-11x"])
def test_a_month_outside_the_allowed_years_is_a_400_for_the_sla_figures(api, month):
    error = refused(api.get("auditor", f"/api/v1/sla?workflow=complaint&month={month}"), 400, "invalid_period",
                    "month")
    assert "2000-01 to 2100-12" in error["message"]


@pytest.mark.parametrize("month", ["9999-12", "2026-13"])
def test_a_month_outside_the_allowed_years_is_a_clear_cli_error_not_a_traceback(runner, month):
    result = runner.invoke(args=["workflow", "sla", "--workflow", "complaint", "--month", month])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert "2000-01 to 2100-12" in result.output and "Traceback" not in result.output


def test_the_sla_figures_take_the_first_and_last_allowed_months(api):
    for month in ("2000-01", "2100-12"):
        response = api.get("auditor", f"/api/v1/sla?workflow=complaint&month={month}")
        assert (response.status_code, response.get_json()["month"]) == (200, month)


# ---------------------------------------------------------------------------------------------- values


def spec(type_: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name="f", type=type_, label={"en": "F", "zh": "F"}, **kw)


SHANGHAI = ZoneInfo("Asia/Shanghai")
REFUSED_VALUES = [
    ("decimal", "1e999999999"), ("decimal", "1E5"), ("decimal", "NaN"), ("decimal", "Infinity"), ("decimal", "-inf"),
    ("decimal", float("nan")), ("decimal", float("inf")), ("decimal", 1e16), ("decimal", 10**16),
    ("decimal", "1" * 200_000), ("decimal", "1" * 16), ("decimal", "0.1234567"), ("decimal", 0.1 + 0.2),
    ("decimal", "１２"), ("decimal", "1_000"), ("decimal", True), ("decimal", [1]),
    ("integer", 2**63), ("integer", -(2**63) - 1), ("integer", "9" * 20), ("integer", "１２"), ("integer", "1_000"),
    ("integer", "1e3"), ("integer", 1.0), ("integer", {"a": 1}),
    ("date", "0001-01-01"), ("date", "1999-12-31"), ("date", "2101-01-01"), ("date", "9999-12-31"), ("date", 20261120),
    ("datetime", "0001-01-01T00:00"), ("datetime", "2101-01-01T00:00+08:00"), ("datetime", "9999-12-31T23:59:59"),
    ("string", "x" * (MAX_STRING + 1)), ("text", "x" * (MAX_TEXT + 1)), ("string", "a\x00b"), ("text", "\udfff"),
    ("enum", ["a"]), ("enum", {"a": 1}),
]
ACCEPTED_VALUES = [
    ("decimal", "999999999999999.999999", Decimal("999999999999999.999999")), ("decimal", -1.5, Decimal("-1.5")),
    ("decimal", 0.1, Decimal("0.1")), ("decimal", 10**14, Decimal(10**14)), ("decimal", " 12.50 ", Decimal("12.50")),
    ("integer", 2**63 - 1, 2**63 - 1), ("integer", -(2**63), -(2**63)), ("integer", " 42 ", 42),
    ("date", "2000-01-01", date(2000, 1, 1)), ("date", "2100-12-31", date(2100, 12, 31)),
    ("datetime", "2100-12-31T23:59", datetime(2100, 12, 31, 23, 59, tzinfo=SHANGHAI)),
    ("string", " " + "x" * MAX_STRING + " ", "x" * MAX_STRING), ("text", "x" * MAX_TEXT, "x" * MAX_TEXT),
]


@pytest.mark.parametrize(("type_", "raw"), REFUSED_VALUES, ids=lambda v: repr(v)[:30])
def test_a_value_beyond_its_type_s_bounds_is_refused(type_, raw):
    field = spec(type_, choices={"a": {"en": "A", "zh": "A"}} if type_ == "enum" else None)
    with pytest.raises(InvalidValue) as refused_value:
        coerce(field, raw, SHANGHAI)
    assert refused_value.value.messages["en"] and refused_value.value.messages["zh"]


@pytest.mark.parametrize(("type_", "raw", "typed"), ACCEPTED_VALUES, ids=lambda v: repr(v)[:30])
def test_a_value_at_its_type_s_bounds_is_taken(type_, raw, typed):
    assert coerce(spec(type_), raw, SHANGHAI) == typed


def test_a_definition_may_only_lower_the_length_cap():
    assert coerce(spec("string", max=80), "x" * 80, SHANGHAI) == "x" * 80
    with pytest.raises(InvalidValue):
        coerce(spec("string", max=80), "x" * 81, SHANGHAI)
    with pytest.raises(InvalidValue):  # a definition's max above the cap does not raise it
        coerce(spec("text", max=MAX_TEXT * 2), "x" * (MAX_TEXT + 1), SHANGHAI)


@pytest.mark.parametrize(("data", "field"), [
    ({"amount": "1e999999999"}, "amount"), ({"amount": "1" * 200_000}, "amount"), ({"amount": "NaN"}, "amount"),
    ({"amount": 1e300}, "amount"), ({"amount": "1.0000001"}, "amount"),
])
def test_an_unbounded_decimal_opens_no_case(api, clock, data, field):
    publish_minimal(clock)
    before = stored()
    refused(api.post("clerk", "/api/v1/cases", {"workflow": "minimal", "data": data}), 422, "invalid_inputs", field)
    assert stored() == before


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
def test_a_date_outside_the_allowed_years_opens_no_case(api, day):
    before = stored()
    response = api.post("service_specialist", "/api/v1/cases",
                        {"workflow": "replacement_part", "data": {**PART, "request_date": day}})
    assert "2000" in refused(response, 422, "invalid_inputs", "request_date")["fields"]["request_date"]
    assert stored() == before


def test_a_2000_date_opens_a_case(api):
    assert api.open("service_specialist", "replacement_part", {**PART, "request_date": "2000-01-01"})


# ---------------------------------------------------------------------------------------------- months and years


@pytest.mark.parametrize("raw", ["0000-01", "9999-12", "1999-12", "2101-01", "2026-00", "2026-13", "2026-1",
                                 "２０２６-11", "2026-11 ", 202611, None, ["2026-11"]], ids=repr)
def test_parse_period_refuses_anything_but_an_allowed_month(raw):
    with pytest.raises(InvalidPeriod) as refusal:
        parse_period(raw, "period")
    assert set(refusal.value.fields) == {"period"}


def test_parse_period_takes_the_allowed_months():
    assert [str(parse_period(m)) for m in ("2000-01", "2026-11", "2100-12")] == ["2000-01", "2026-11", "2100-12"]
    assert str(parse_period("2026-12").next()) == "2027-01"


def test_the_years_are_a_setting(tmp_path):
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    try:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WORKFLOW_YEARS": "1990-2030"})
        assert years() == YearRange(1990, 2030)
        assert str(parse_period("1995-06")) == "1995-06"
        with pytest.raises(InvalidPeriod):
            parse_period("2031-01")
        with pytest.raises(ValueError):  # a range that deadlines could overflow never starts the service
            create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WORKFLOW_YEARS": "1-9999"})
    finally:
        set_years(YearRange())


# ---------------------------------------------------------------------------------------------- appraisal


@pytest.fixture
def hr_api(api):
    appraisal_people(api)
    return api


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"department": SHEET["department"], "period": "9999-12"}, 400, "invalid_period", "period"),
    ({"department": SHEET["department"], "period": "0000-01"}, 400, "invalid_period", "period"),
    ({"department": SHEET["department"], "period": 202611}, 400, "invalid_period", "period"),
    ({"department": "x" * 1000, "period": "2026-11"}, 422, "invalid_inputs", "department"),
    ({"department": ["x"], "period": "2026-11"}, 422, "invalid_inputs", "department"),
])
def test_opening_a_month_with_a_bad_period_or_department_opens_nothing(hr_api, body, status, code, field):
    before = stored()
    refused(hr_api.post(HR, "/api/v1/appraisal/months", body), status, code, field)
    assert stored() == before


def test_a_sheet_opened_directly_for_year_9999_is_refused(hr_api):
    before = stored()
    body = {"workflow": "appraisal", "data": {**SHEET, "period": "9999-12"}}
    response = hr_api.post(SUPERVISOR, "/api/v1/cases", body)
    refused(response, 422, "invalid_inputs", "period")
    assert stored() == before


@pytest.mark.parametrize(("department", "period", "status", "code"), [
    (SHEET["department"], "9999-12", 400, "invalid_period"), (SHEET["department"], "2026-13", 400, "invalid_period"),
    ("x" * 1000, "2026-11", 422, "invalid_inputs"),
])
def test_a_bad_month_or_department_in_the_address_is_refused_everywhere(hr_api, department, period, status, code):
    url = appraisal.month_url(department, period)
    before = stored()
    refused(hr_api.get(HR, url), status, code)
    refused(hr_api.get(HR, f"{url}/export.csv"), status, code)
    response = hr_api.client.put(f"{url}/coefficient", json={"coefficient": "1.1"}, headers=hr_api.headers(HR))
    refused(response, status, code)
    assert stored() == before


@pytest.mark.parametrize("coefficient", ["0.0001", "1e-999999999", "1e999999999", "NaN", "3.0001"])
def test_a_coefficient_the_column_cannot_keep_is_refused(hr_api, coefficient):
    before = stored()
    refused(appraisal.set_coefficient(hr_api, coefficient), 422, "invalid_inputs", "coefficient")
    assert stored() == before


def test_an_evidence_item_that_is_not_text_is_a_422_and_the_proposal_stays_open(hr_api):
    sheet = appraisal.reach(hr_api, appraisal.FIRST, "scoring")
    appraisal.close_complaint_against(hr_api, SHEET["employee"])
    [proposal] = appraisal.proposals(hr_api, sheet)
    before = stored()
    for item in ({}, ["verified_complaint"], 5):
        response = appraisal.decide(hr_api, sheet, proposal["id"], "accept", item)  # type: ignore[arg-type]
        refused(response, 422, "invalid_inputs", "item")
    assert stored() == before
    assert db.session.get(Evidence, proposal["id"]).status == "proposed"


def test_the_cli_refuses_an_overlong_department_and_a_bad_month(hr_api, runner):
    result = runner.invoke(args=["staff", "set", "zhang", "--department", "x" * 101, "--template", "field_service",
                                 "--standard-pay", "1500", "--supervisor", SUPERVISOR])
    assert result.exit_code != 0 and "department" in result.output
    result = runner.invoke(args=["staff", "set", "zhang", "--department", "d", "--template", "field_service",
                                 "--standard-pay", "1e20", "--supervisor", SUPERVISOR])
    assert result.exit_code != 0 and "standard pay" in result.output.lower()
    result = runner.invoke(args=["appraisal", "export", "--department", SHEET["department"], "--period", "9999-12"])
    assert result.exit_code != 0 and "2100-12" in result.output


# ---------------------------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "-5"])
def test_a_cell_a_spreadsheet_would_run_gets_a_quote(text):
    assert safe_csv.cell(text) == "'" + text


@pytest.mark.parametrize(("value", "written"), [
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, ""), (Decimal("-5"), Decimal("-5")), (-5, -5), (0, 0),
    ("'=already", "'=already"), ("张三", "张三"),
])
def test_other_cells_and_numbers_are_written_as_they_are(value, written):
    assert safe_csv.cell(value) == written


def test_safe_csv_writes_rows_that_read_back_with_the_quote(api):
    text = safe_csv.to_text([["=cmd|' /C calc'!A0", Decimal("-5"), None]], bom=True)
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == [["'=cmd|' /C calc'!A0", "-5", ""]]


EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "@SUM(1)", "-2+3", "+1"]


@pytest.fixture
def evil_staff(hr_api, runner):
    for name in EVIL:
        hr_api.user(name, "employee")
        set_staff(db.session, name, SHEET["department"], "field_service", Decimal("1000"), SUPERVISOR)
    db.session.commit()
    appraisal.open_month(hr_api)
    return hr_api


def test_the_csv_export_escapes_names_a_spreadsheet_would_run(evil_staff):
    text = evil_staff.get(HR, f"{appraisal.month_url()}/export.csv").get_data(as_text=True)
    names = [row[0] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))][1:]
    assert sorted(name for name in names if name.startswith("'")) == sorted("'" + name for name in EVIL)
    assert SHEET["employee"] in names  # a plain name is written as it is


def test_the_cli_export_escapes_them_too(evil_staff, runner):
    result = runner.invoke(args=["appraisal", "export", "--department", SHEET["department"], "--period", "2026-11"])
    assert result.exit_code == 0, result.output
    names = [row[0] for row in csv.reader(io.StringIO(result.output), dialect="excel-tab")][1:]
    assert sorted(name for name in names if name.startswith("'")) == sorted("'" + name for name in EVIL)
    assert SHEET["employee"] in names


# ---------------------------------------------------------------------------------------------- the web UI


@pytest.fixture
def ui(app, staff):
    for name, roles in {"lead": ["service_lead"], "hr": ["hr"], "zhang": ["employee"], "li": ["supervisor"]}.items():
        staff(name, *roles)
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    db.session.commit()
    return lambda name: Person(app, name)


@pytest.mark.parametrize("path", ["/cases?page=abc", "/cases?page=0", "/?page=-3", "/cases?page=99999999999"])
def test_a_bad_page_in_the_ui_is_a_400_page(ui, path):
    response = ui("lead").get(path)
    assert response.status_code == 400 and "page must be a whole number" in response.text


def test_marking_an_out_of_range_notification_read_in_the_ui_is_a_404(ui):
    lead = ui("lead")
    lead.get("/")
    assert lead.post("/notifications/99999999999/read").status_code == 404


def test_a_ui_comment_over_4000_characters_opens_no_case(ui):
    lead = ui("lead")
    lead.get("/cases/new/return_inspection")
    before = stored()
    response = lead.post("/cases/new/return_inspection", {**RETURN, "comment": "x" * 4001})
    assert response.status_code == 422 and "4000" in response.text
    assert stored() == before


def test_a_nul_in_a_ui_form_is_a_400_page(ui):
    lead = ui("lead")
    lead.get("/cases/new/return_inspection")
    before = stored()
    response = lead.post("/cases/new/return_inspection", {**RETURN, "customer": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.text
    assert stored() == before


def test_a_ui_form_over_the_size_limit_is_a_413_page(ui):
    lead = ui("lead")
    lead.get("/cases/new/return_inspection")
    before = stored()
    response = lead.post("/cases/new/return_inspection", {**RETURN, "reason": "x" * (MIB + 1)})
    assert response.status_code == 413 and "This request is too large" in response.text
    assert stored() == before


def test_json_nested_too_deep_in_a_ui_form_field_is_a_400_page(ui, clock):
    """A score sheet is typed as JSON in a text area: the UI would parse 5000 levels into a RecursionError."""
    li, zhang = Actor("li", frozenset({"supervisor"})), Actor("zhang", frozenset({"employee"}))
    case = open_case(db.session, clock, "appraisal", {**SHEET, "department": "售后服务部"}, li)
    for actor, action, inputs in ((li, "agree_goals", GOALS), (zhang, "sign_agreement", {}),
                                  (li, "countersign_agreement", {}), (zhang, "self_report", WORK_DONE)):
        advance(db.session, clock, case, action, actor, inputs)
    db.session.commit()
    assert case.state == "scoring"
    before = snapshot(case.id)
    supervisor = ui("li")
    supervisor.get(f"/cases/{case.id}")
    sheet = '{"occurrences": ' + "[" * 5000 + "]" * 5000 + "}"
    response = supervisor.post(f"/cases/{case.id}/actions/score", {"sheet": sheet, "expected_version": "5"})
    assert response.status_code == 400 and "nested more than 20 levels" in response.text
    assert snapshot(case.id) == before


def test_the_ui_appraisal_pages_refuse_months_outside_the_years(ui):
    hr = ui("hr")
    assert hr.get("/appraisal/售后服务部/9999-12").status_code == 404
    assert hr.get("/appraisal/" + "x" * 1000 + "/2026-11").status_code == 404
    hr.get("/appraisal")
    before = stored()
    response = hr.post("/appraisal/open", {"department": "售后服务部", "period": "9999-12"})
    assert response.status_code == 302
    assert "2100-12" in hr.get(response.headers["Location"]).text
    assert stored() == before


@pytest.mark.parametrize("draft_id", ["0", str(2**31), "862008582045208832"])
def test_a_row_id_out_of_range_is_a_404_for_every_method_not_a_405(api, draft_id):
    # Found by the drills: refused while matching, an id too large made PUT …/drafts/<id> a 405.
    path = f"/api/v1/workflows/return_inspection/drafts/{draft_id}"
    api.user("owner", "process_owner")
    for method in ("get", "put"):
        response = getattr(api.client, method)(path, headers=api.headers("owner"), json={"source": "x"})
        assert response.status_code == 404, (method, response.get_json())
