"""API v1's one contract (web/contract.py, web/api_models.py): the OpenAPI 3.1 document made from it, and
requests it refuses answered in the same error body as the engine's refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

from web.api_models import CreateCase, OpenMonth, TakeAction
from workflow.definitions.values import MAX_STRING, PERIOD_PATTERN
from workflow.engine.limits import MAX_COMMENT, MAX_DEPARTMENT

from .test_paths_appraisal import HR
from .test_paths_appraisal import people as appraisal_people

RETURN = {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}


@pytest.fixture
def document(api) -> dict[str, Any]:
    response = api.client.get("/api/v1/openapi.json")  # no token: the description is public
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": op for path, methods in document["paths"].items()
            for method, op in methods.items()}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def test_the_document_is_openapi_3_1_and_valid(document):
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any breach of the OpenAPI 3.1 schema
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["security"] == [{"bearer": []}]


def test_every_month_carries_the_period_pattern(document):
    pattern = f"^{PERIOD_PATTERN}$"
    ops = operations(document)
    month = next(p for p in ops["GET /sla"]["parameters"] if p["name"] == "month")
    assert (month["required"], month["schema"]["pattern"]) == (True, pattern)
    body = resolve(document, ops["POST /appraisal/months"]["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["period"]["pattern"] == pattern
    assert body["properties"]["department"]["maxLength"] == MAX_DEPARTMENT
    for label in ("GET /appraisal/departments/{department}/months/{period}",
                  "PUT /appraisal/departments/{department}/months/{period}/coefficient",
                  "GET /appraisal/departments/{department}/months/{period}/export.csv"):
        period = next(p for p in ops[label]["parameters"] if p["name"] == "period")
        assert (period["in"], period["schema"]["pattern"]) == ("path", pattern), label
    assert re.fullmatch(pattern, "2026-11") and not re.fullmatch(pattern, "2026-13")


def test_the_bounds_of_the_limits_are_in_the_document(document):
    ops = operations(document)
    for label in ("POST /cases", "POST /cases/{case_id}/actions/{action}"):
        body = resolve(document, ops[label]["requestBody"]["content"]["application/json"]["schema"])
        comment = body["properties"]["comment"]
        assert {"type": "string", "maxLength": MAX_COMMENT} in comment["anyOf"], label
    case_id = next(p for p in ops["GET /cases/{case_id}"]["parameters"] if p["name"] == "case_id")
    assert case_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    limit = next(p for p in ops["GET /notifications"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)
    decision = resolve(document, ops["POST /cases/{case_id}/evidence/{evidence_id}"]["requestBody"]["content"][
        "application/json"]["schema"])["properties"]["decision"]
    assert decision["enum"] == ["accept", "reject"]


# The refusals each route may answer with, besides 400, 401, 413 and 429 that any call may get.
ROUTE_ERRORS = {
    "POST /cases": {403, 404, 409, 422},
    "POST /cases/{case_id}/actions/{action}": {403, 404, 409, 422},
    "GET /cases/{case_id}": {404},
    "GET /sla": {403, 404},
    "POST /appraisal/months": {403, 404, 422},
    "POST /cases/{case_id}/evidence/{evidence_id}": {403, 404, 409, 422},
}


def test_every_route_declares_its_errors_with_the_one_error_body(document):
    ops = operations(document)
    error = resolve(document, {"$ref": "#/components/schemas/" + next(
        name for name in document["components"]["schemas"] if name.startswith("ErrorBody."))})
    assert error["required"] == ["error"]
    assert set(resolve(document, error["properties"]["error"])["required"]) == {"code", "message", "fields"}
    for label, op in ops.items():
        declared = {int(code) for code in op["responses"] if not code.startswith("2")}
        assert declared >= {400, 401, 413, 429}, label
        assert declared >= ROUTE_ERRORS.get(label, set()), label
        for code in declared:
            schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
            assert resolve(document, schema) == error, (label, code)
    assert "image/svg+xml" in ops["GET /cases/{case_id}/diagram.svg"]["responses"]["200"]["content"]
    assert "text/csv" in ops["GET /appraisal/departments/{department}/months/{period}/export.csv"][
        "responses"]["200"]["content"]


def test_a_case_timer_carries_its_status(document):
    timer = resolve(document, {"$ref": "#/components/schemas/" + next(
        name for name in document["components"]["schemas"] if name.endswith(".TimerOut"))})
    assert "status" in timer["required"]
    assert set(timer["properties"]["status"]["enum"]) == {
        "running", "warning", "overdue", "due", "stopped", "stopped_late"}


def error_of(response) -> tuple[int, str, set[str]]:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return response.status_code, body["error"]["code"], set(body["error"]["fields"])


def test_a_comment_beyond_its_bound_is_refused_by_the_contract_as_the_engine_refuses_a_field(api):
    with pytest.raises(ValidationError):
        CreateCase.model_validate({"workflow": "return_inspection", "comment": "x" * (MAX_COMMENT + 1)})
    by_contract = api.post("service_lead", "/api/v1/cases",
                           {"workflow": "return_inspection", "data": RETURN, "comment": "x" * (MAX_COMMENT + 1)})
    by_engine = api.post("service_lead", "/api/v1/cases", {"workflow": "return_inspection",
                                                           "data": {**RETURN, "customer": "x" * (MAX_STRING + 1)}})
    assert error_of(by_contract) == (422, "invalid_inputs", {"comment"})
    assert error_of(by_engine) == (422, "invalid_inputs", {"customer"})
    assert by_contract.get_json()["error"]["fields"]["comment"] == f"must be at most {MAX_COMMENT} characters long"


def test_a_department_beyond_its_bound_is_refused_in_the_engine_s_words(api):
    appraisal_people(api)
    with pytest.raises(ValidationError):
        OpenMonth.model_validate({"department": "x" * (MAX_DEPARTMENT + 1), "period": "2026-11"})
    in_body = api.post(HR, "/api/v1/appraisal/months", {"department": "x" * (MAX_DEPARTMENT + 1), "period": "2026-11"})
    in_address = api.get(HR, f"/api/v1/appraisal/departments/{'x' * (MAX_DEPARTMENT + 1)}/months/2026-11")
    assert error_of(in_body) == error_of(in_address) == (422, "invalid_inputs", {"department"})
    assert in_body.get_json() == in_address.get_json()


@pytest.mark.parametrize(("body", "field"), [
    ({"inputs": {}, "expected_version": "one"}, "expected_version"),
    ({"inputs": {}, "expected_version": True}, "expected_version"),
    ({"inputs": {}, "expected_version": 1.5}, "expected_version"),
])
def test_a_field_of_the_wrong_type_is_a_400_naming_it(api, body, field):
    with pytest.raises(ValidationError):
        TakeAction.model_validate(body)
    case = api.open("service_lead", "return_inspection", RETURN)
    response = api.post("service_lead", f"/api/v1/cases/{case['id']}/actions/collect_opinions", body)
    assert error_of(response)[0] == 400 and error_of(response)[2] == {field}
    assert api.get("service_lead", f"/api/v1/cases/{case['id']}").get_json()["lock_version"] == case["lock_version"]


def test_a_month_that_breaks_the_pattern_gets_the_engine_s_refusal(api):
    response = api.get("auditor", "/api/v1/sla?workflow=complaint&month=2026-1")
    assert error_of(response) == (400, "invalid_period", {"month"})
    assert "2000-01 to 2100-12" in response.get_json()["error"]["message"]
    zh = api.client.get("/api/v1/sla?workflow=complaint&month=2026-1",
                        headers={**api.headers("auditor"), "Accept-Language": "zh-CN"})
    assert "2000-01 至 2100-12" in zh.get_json()["error"]["message"]
