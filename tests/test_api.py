"""JSON API v1: authentication, the error body, the shapes of workflows and cases, paging, diagrams."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from web import create_app
from web.extensions import db
from workflow.models import ApiToken, User

from .helpers import minimal_text, publish_minimal

RETURN = {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_every_call_needs_a_valid_token(api, headers):
    response = api.client.get("/api/v1/workflows", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_errors_have_one_shape_for_unknown_routes_methods_and_cases(api):
    assert error_of(api.get("service_lead", "/api/v1/nowhere"))["code"] == "not_found"
    assert error_of(api.get("service_lead", "/api/v1/cases/999"))["code"] == "not_found"
    response = api.client.delete("/api/v1/workflows", headers=api.headers("service_lead"))
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"
    bad = api.client.post("/api/v1/cases", data="not json", headers=api.headers("service_lead"))
    assert bad.status_code == 400 and "JSON object" in error_of(bad)["message"]


def test_messages_follow_accept_language(api):
    case = api.open("service_lead", "return_inspection", RETURN)
    url = f"/api/v1/cases/{case['id']}/actions/collect_opinions"
    headers = {**api.headers("service_lead"), "Accept-Language": "zh-CN,zh;q=0.9"}
    zh = api.client.post(url, json={"inputs": {}}, headers=headers)
    assert zh.status_code == 422
    body = error_of(zh)
    assert body["message"].startswith("请更正") and body["fields"]["opinions"] == "必填"
    en = api.post("service_lead", url, {"inputs": {}})
    assert error_of(en)["fields"]["opinions"] == "is required"


def test_workflow_description_lists_states_fields_transitions_roles_inputs_and_timers(api):
    body = api.get("service_lead", "/api/v1/workflows/return_inspection").get_json()
    assert body["key"] == "return_inspection" and body["version"] == 1
    assert body["title"] == {"en": "Returned-goods inspection", "zh": "退货检验"}
    assert {s["name"] for s in body["states"] if s["final"]} == {"settled", "refused", "closed"}
    receive = next(t for t in body["transitions"] if t["name"] == "receive")
    assert receive["roles"] == ["returns_clerk"] and receive["from"] == ["approved"] and receive["to"] == "received"
    inputs = {i["name"]: i["type"] for i in receive["inputs"]}
    assert inputs["received_quantity"] == "integer" and inputs["packaging_intact"] == "boolean"
    timers = {t["name"]: t for t in body["timers"]}
    assert timers["inspection"]["duration"] == "48h"
    assert timers["deemed_consent"]["on_expiry"]["fire"] == "deemed_confirmed"
    assert body["opened_by"] == ["service_lead"]
    assert [w["key"] for w in api.get("auditor", "/api/v1/workflows").get_json()["items"]] == [
        "appraisal", "complaint", "repair_dispatch", "replacement_part", "return_inspection"]


def test_unknown_workflow_and_version_are_404(api):
    assert api.get("service_lead", "/api/v1/workflows/nothing").status_code == 404
    assert api.get("service_lead", "/api/v1/workflows/complaint?version=7").status_code == 404


def test_a_case_carries_its_times_with_the_organisation_offset(api):
    case = api.open("service_lead", "return_inspection", RETURN)
    assert set(case) >= {"id", "number", "workflow", "version", "state", "data", "lock_version", "created_at",
                         "available_actions", "timers", "overdue"}
    assert case["created_at"] == "2026-11-20T17:00:00+08:00"
    assert case["number"] == "TH202611-001"
    assert [a["name"] for a in case["available_actions"]] == ["settle_without_return", "collect_opinions"]
    assert api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()["available_actions"] == []


def test_the_time_zone_is_configurable(tmp_path, frozen_clock):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                      "WORKFLOW_TIMEZONE": "Europe/Berlin", "WORKFLOW_NOW": frozen_clock})
    assert app.extensions["workflow_clock"].local(frozen_clock.now).isoformat() == "2026-11-20T10:00:00+01:00"


def test_case_lists_filter_page_and_show_what_the_caller_can_act_on(api):
    ids = [api.open("service_lead", "return_inspection", RETURN)["id"] for _ in range(5)]
    approved = api.get("service_lead", f"/api/v1/cases/{ids[0]}").get_json()
    approved = api.act("service_lead", approved, "collect_opinions", {"application_ref": "A", "opinions": "ok"})
    page = api.get("auditor", "/api/v1/cases?workflow=return_inspection&per_page=2&page=2").get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (5, 2, 2, 2)
    assert api.get("auditor", "/api/v1/cases?state=awaiting_approval").get_json()["total"] == 1
    director = api.get("quality_director", "/api/v1/cases?actionable=true").get_json()
    assert [c["id"] for c in director["items"]] == [approved["id"]]
    lead = api.get("service_lead", "/api/v1/cases?actionable=true").get_json()
    assert sorted(c["id"] for c in lead["items"]) == sorted(ids[1:])
    assert api.get("auditor", "/api/v1/cases?actionable=true").get_json()["total"] == 0


def test_workflow_diagram_is_svg_with_labels_roles_and_timer_durations(api):
    response = api.get("service_lead", "/api/v1/workflows/return_inspection/diagram.svg?lang=en")
    assert response.mimetype == "image/svg+xml"
    svg = html.unescape(response.get_data(as_text=True))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Awaiting customer confirmation" in svg
    assert "Quality director, QC centre director · a second person confirms" in svg
    assert "⏱ 48 hours Inspect within 48 hours of arrival" in svg


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_diagram_in_one_language_speaks_it_and_shows_no_keys(api, lang):
    """What staff read: step and role names, durations in words; never `collect_opinions`, `[service_lead]`."""
    from workflow.definitions import load_text, shipped_files

    for path in shipped_files():
        definition = load_text(path.read_text("utf-8"), str(path), path.stem)
        response = api.get("auditor", f"/api/v1/workflows/{definition.key}/diagram.svg?lang={lang}")
        svg = response.get_data(as_text=True)
        texts = " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
        # English labels use words like "score" or "supervisor": there only snake_case keys are keys.
        keys = [k for k in [*definition.transitions, *definition.roles, "4-eyes"]
                if (lang == "zh" or "_" in k or k == "4-eyes") and re.search(rf"\b{k}\b", texts)]
        assert "[" not in texts, definition.key
        assert keys == [], (definition.key, keys)
        assert not re.search(r"⏱ \d+(h|d|wd|wh)\b", texts), definition.key
        # What a browser shows on hover and a screen reader reads out: the same words, not Graphviz's DOT names.
        assert "<title>" not in svg, definition.key
        hovered = " ".join(html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg))
        assert definition.states[definition.initial_state].label[lang] in hovered, definition.key
        hover_keys = [k for k in [*definition.states, *definition.transitions, *definition.roles]
                      if (lang == "zh" or "_" in k) and re.search(rf"\b{k}\b", hovered)]
        assert hover_keys == [], (definition.key, hover_keys)
    zh = api.get("auditor", "/api/v1/workflows/return_inspection/diagram.svg?lang=zh").get_data(as_text=True)
    zh = html.unescape(zh)
    assert "品质办主任、品管中心总监 · 须另一人复核" in zh and "⏱ 48 小时" in zh


def test_case_diagram_highlights_the_current_state_and_the_path_taken(api):
    case = api.open("service_lead", "return_inspection", RETURN)
    api.act("service_lead", case, "collect_opinions", {"application_ref": "A", "opinions": "ok"})
    svg = api.get("service_lead", f"/api/v1/cases/{case['id']}/diagram.svg?lang=en").get_data(as_text=True)
    # A state's box by its name in words: the tooltip's first line
    nodes = dict(re.findall(r'xlink:title="([^"&]+)[^"]*">\s*<(?:polygon|path)[^>]*fill="([^"]+)"', svg))
    assert nodes["Awaiting approval"] == "#f59e0b"   # current
    assert nodes["Requested"] == "#fde68a"           # visited
    assert nodes["Approved"] == "white"              # not reached
    assert 'stroke="#b45309"' in svg                  # the edge taken


def test_labels_in_diagrams_are_escaped(api, clock):
    hostile = 'label: {en: "<script>alert(1)</script>", zh: 草稿}'
    publish_minimal(clock, minimal_text(**{"label: {en: Draft, zh: 草稿}": hostile}))
    svg = api.get("clerk", "/api/v1/workflows/minimal/diagram.svg?lang=en").get_data(as_text=True)
    assert "<script" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg


def test_users_cli_creates_users_and_prints_only_the_token(runner, api):
    result = runner.invoke(
        args=["users", "create", "wang", "--role", "service_lead", "--role", "fg_qa", "--password", "s3cret-phrase"])
    assert result.exit_code == 0, result.output
    token = runner.invoke(args=["users", "token", "wang"]).output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    user = db.session.scalar(sa.select(User).where(User.name == "wang"))
    assert user.roles == {"service_lead", "fg_qa"}
    stored = db.session.scalars(sa.select(ApiToken.digest).where(ApiToken.user_id == user.id)).all()
    assert stored and all(token not in digest for digest in stored) and "s3cret" not in (user.password_hash or "")
    response = api.client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and len(response.get_json()["items"]) == 5
    again = runner.invoke(args=["users", "token", "wang"]).output.strip()
    assert api.client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {again}"}).status_code == 200


def test_users_cli_refuses_the_system_role_and_duplicates(runner, app):
    assert runner.invoke(args=["users", "create", "x", "--role", "system"]).exit_code != 0
    assert runner.invoke(args=["users", "create", "y", "--role", "hr"]).exit_code == 0
    duplicate = runner.invoke(args=["users", "create", "y", "--role", "hr"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output


def test_the_openapi_document_is_public_and_names_every_route(api, app):
    doc = api.client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))  # <id:case_id> → {case_id}
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
    }
    assert routes - {"/openapi.json"} == set(doc["paths"])
