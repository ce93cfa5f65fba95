"""The OpenAPI 3.0 description of API v1, served at /api/v1/openapi.json.

Written by hand next to the routes it describes; tests/drills check the service against it.
"""

from __future__ import annotations

from typing import Any

LABEL = {"type": "object", "required": ["en", "zh"],
         "properties": {"en": {"type": "string"}, "zh": {"type": "string"}}}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad request (e.g. text with a NUL character)", 401: "No valid token",
            403: "Refused: role or four-eyes", 404: "Not found",
            409: "Wrong state or stale expected_version", 422: "Invalid inputs or a failed guard",
            413: "Request body larger than MAX_CONTENT_LENGTH"}
    # Any call may be refused as malformed or too large before it is looked at (web/limits.py), so every
    # operation documents 400 and 413.
    return {str(c): _json(_ref("Error"), text[c]) for c in sorted({400, 413, *codes})}


SVG = {"description": "SVG diagram", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}
KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["en", "zh"]}}
VERSION = {"name": "version", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }},
    },
    "WorkflowSummary": {
        "type": "object", "required": ["key", "version", "title", "sha256", "published_by", "published_at"],
        "properties": {
            "key": {"type": "string"}, "version": {"type": "integer"}, "title": LABEL,
            "sha256": {"type": "string"}, "published_by": {"type": "string"}, "published_at": TIME,
        },
    },
    "Workflow": {
        "allOf": [_ref("WorkflowSummary"), {
            "type": "object", "required": ["states", "fields", "transitions", "timers", "roles"],
            "properties": {
                "states": {"type": "array", "items": {"type": "object"}},
                "fields": {"type": "array", "items": {"type": "object"}},
                "transitions": {"type": "array", "items": {"type": "object"}},
                "timers": {"type": "array", "items": {"type": "object"}},
                "roles": {"type": "array", "items": {"type": "object"}},
            },
        }],
    },
    "Timer": {
        "type": "object", "required": ["name", "due_at", "status"],
        "properties": {
            "name": {"type": "string"}, "label": {"allOf": [LABEL], "nullable": True},
            "started_at": TIME, "due_at": TIME, "warn_at": NULLABLE_TIME, "stopped_at": NULLABLE_TIME,
            "status": {"type": "string", "enum": ["running", "overdue", "due", "stopped", "stopped_late"]},
        },
    },
    "Case": {
        "type": "object",
        "required": ["id", "number", "workflow", "version", "state", "data", "lock_version", "created_at",
                     "available_actions", "timers", "overdue"],
        "properties": {
            "id": {"type": "integer"}, "number": {"type": "string", "nullable": True},
            "workflow": {"type": "string"}, "version": {"type": "integer"}, "state": {"type": "string"},
            "state_label": LABEL, "final": {"type": "boolean"}, "data": {"type": "object"},
            "lock_version": {"type": "integer"}, "created_by": {"type": "string"}, "created_at": TIME,
            "updated_at": TIME,
            "available_actions": {"type": "array", "items": {
                "type": "object", "required": ["name", "label", "to"],
                "properties": {"name": {"type": "string"}, "label": LABEL, "to": {"type": "string"}},
            }},
            "timers": {"type": "array", "items": _ref("Timer")},
            "overdue": {"type": "boolean"},
        },
    },
    "HistoryEntry": {
        "type": "object",
        "required": ["seq", "kind", "at", "actor", "action", "from", "to", "inputs", "prev_hash", "hash"],
        "properties": {
            "seq": {"type": "integer"}, "kind": {"type": "string", "enum": ["transition", "notice"]}, "at": TIME,
            "actor": {"type": "string"}, "action": {"type": "string"}, "from": {"type": "string", "nullable": True},
            "to": {"type": "string"}, "inputs": {"type": "object"}, "comment": {"type": "string", "nullable": True},
            "prev_hash": {"type": "string"}, "hash": {"type": "string"},
        },
    },
    "Sla": {
        "type": "object", "required": ["workflow", "month", "cases", "timers", "late_by_state", "late"],
        "properties": {
            "workflow": {"type": "string"}, "month": {"type": "string"},
            "cases": _ref("OnTimeLate"),
            "timers": _ref("OnTimeLate"),
            "late_by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
            "late": {"type": "array", "items": {
                "type": "object", "required": ["case_id", "number", "timer", "due_at", "stopped_at", "held_by_state"],
                "properties": {
                    "case_id": {"type": "integer"}, "number": {"type": "string", "nullable": True},
                    "timer": {"type": "string"}, "due_at": TIME, "stopped_at": TIME,
                    "held_by_state": {"type": "string", "nullable": True},
                },
            }},
        },
    },
    "OnTimeLate": {
        "type": "object", "required": ["on_time", "late"],
        "properties": {"on_time": {"type": "integer"}, "late": {"type": "integer"}},
    },
    "Notification": {
        "type": "object", "required": ["id", "kind", "message", "created_at"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "case_id": {"type": "integer", "nullable": True},
            "message": LABEL, "created_at": TIME, "read_at": NULLABLE_TIME,
        },
    },
}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/workflows": {"get": {
            "summary": "Published workflows (latest version of each)",
            "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": _ref("WorkflowSummary")}}}, "The workflows"),
                **_errors(401)},
        }},
        "/workflows/{key}": {"get": {
            "summary": "A workflow's states, fields, transitions with roles and typed inputs, timers",
            "parameters": [KEY, VERSION],
            "responses": {"200": _json(_ref("Workflow"), "The workflow"), **_errors(401, 404)},
        }},
        "/workflows/{key}/diagram.svg": {"get": {
            "summary": "The workflow's state diagram", "parameters": [KEY, VERSION, LANG],
            "responses": {"200": SVG, **_errors(401, 404)},
        }},
        "/cases": {
            "post": {
                "summary": "Open a case",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["workflow"],
                    "properties": {"workflow": {"type": "string"}, "data": {"type": "object"},
                                   "comment": {"type": "string", "maxLength": 4000}}}}}},
                "responses": {"201": _json(_ref("Case"), "The new case"), **_errors(400, 401, 403, 404, 422)},
            },
            "get": {
                "summary": "Cases, paged",
                "parameters": [
                    {"name": "workflow", "in": "query", "schema": {"type": "string"}},
                    {"name": "state", "in": "query", "schema": {"type": "string"}},
                    {"name": "actionable", "in": "query", "schema": {"type": "boolean"}},
                    # Out of range or unreadable is a 400, never clamped.
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1},
                     "description": "1-based, at most 2147483647; past the last page is an empty page"},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1},
                     "description": "Default API_PAGE_SIZE (50); 1 to API_MAX_PAGE_SIZE (500)"},
                ],
                "responses": {"200": _json({"type": "object", "required": ["items", "page", "per_page", "total"],
                                            "properties": {"items": {"type": "array", "items": _ref("Case")},
                                                           "page": {"type": "integer"},
                                                           "per_page": {"type": "integer"},
                                                           "total": {"type": "integer"}}}, "A page of cases"),
                              **_errors(401)},
            },
        },
        "/cases/{case_id}": {"get": {
            "summary": "A case with what the caller may do now", "parameters": [CASE_ID],
            "responses": {"200": _json(_ref("Case"), "The case"), **_errors(401, 404)},
        }},
        "/cases/{case_id}/actions/{action}": {"post": {
            "summary": "Take an action on a case",
            "parameters": [CASE_ID, {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "inputs": {"type": "object"}, "comment": {"type": "string", "nullable": True, "maxLength": 4000},
                    "expected_version": {"type": "integer", "nullable": True}}}}}},
            "responses": {"200": _json(_ref("Case"), "The moved case"), **_errors(400, 401, 403, 404, 409, 422)},
        }},
        "/cases/{case_id}/history": {"get": {
            "summary": "The hash-chained history", "parameters": [CASE_ID],
            "responses": {"200": _json({"type": "object", "required": ["case_id", "items"], "properties": {
                "case_id": {"type": "integer"}, "items": {"type": "array", "items": _ref("HistoryEntry")}}},
                "The history"), **_errors(401, 404)},
        }},
        "/cases/{case_id}/diagram.svg": {"get": {
            "summary": "The case's diagram with its current state and path", "parameters": [CASE_ID, LANG],
            "responses": {"200": SVG, **_errors(401, 404)},
        }},
        "/notifications": {"get": {
            "summary": "The caller's notifications",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": 200},
                            "description": "Default 20; 1 to 200, else a 400"},
                           {"name": "unread", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {"200": _json({"type": "object", "required": ["items", "unread"], "properties": {
                "items": {"type": "array", "items": _ref("Notification")}, "unread": {"type": "integer"}}},
                "Notifications"), **_errors(401)},
        }},
        "/notifications/{notification_id}/read": {"post": {
            "summary": "Mark a notification read",
            "parameters": [{"name": "notification_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": _json({"type": "object", "required": ["id", "read"], "properties": {
                "id": {"type": "integer"}, "read": {"type": "boolean", "enum": [True]}}}, "Marked"),
                **_errors(401, 404)},
        }},
        "/sla": {"get": {
            "summary": "On-time and late figures of a workflow for a month",
            "parameters": [{"name": "workflow", "in": "query", "required": True,
                            "schema": {"type": "string", "minLength": 1}},
                           {"name": "month", "in": "query", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}}],
            "responses": {"200": _json(_ref("Sla"), "The figures"), **_errors(400, 401, 404)},
        }},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "After-sales workflow service", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {**paths, **_appraisal_paths()},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _appraisal_paths() -> dict[str, Any]:
    month = [{"name": "department", "in": "path", "required": True, "schema": {"type": "string"}},
             {"name": "period", "in": "path", "required": True, "schema": {"type": "string"}}]
    evidence = {"type": "object", "required": ["id", "person", "period", "status"],
                "properties": {"id": {"type": "integer"}, "person": {"type": "string"},
                               "period": {"type": "string"}, "status": {"type": "string"},
                               "item": {"type": "string", "nullable": True}}}
    return {
        "/appraisal/months": {"post": {
            "summary": "Open the month's sheets for every employee of a department",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["department", "period"],
                "properties": {"department": {"type": "string"}, "period": {"type": "string"}}}}}},
            "responses": {"201": _json({"type": "object"}, "Opened and skipped sheets"),
                          **_errors(400, 401, 403, 404, 422)},
        }},
        "/appraisal/departments/{department}/months/{period}": {"get": {
            "summary": "A department's sheets of a month: totals, grades, distribution, performance pay",
            "parameters": month,
            "responses": {"200": _json({"type": "object"}, "The month"), **_errors(401, 403, 404, 422)},
        }},
        "/appraisal/departments/{department}/months/{period}/coefficient": {"put": {
            "summary": "Set the department coefficient of a month (HR)", "parameters": month,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"coefficient": {"type": "number"}}}}}},
            "responses": {"200": _json({"type": "object"}, "The month"), **_errors(400, 401, 403, 404, 422)},
        }},
        "/appraisal/departments/{department}/months/{period}/export.csv": {"get": {
            "summary": "The month's results as CSV", "parameters": month,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **_errors(401, 403, 404, 422)},
        }},
        "/cases/{case_id}/evidence": {"get": {
            "summary": "Deductions proposed for an appraisal sheet", "parameters": [CASE_ID],
            "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": evidence}}}, "Proposals"), **_errors(401, 404)},
        }},
        "/cases/{case_id}/evidence/{evidence_id}": {"post": {
            "summary": "Accept (naming the sheet item) or reject a proposed deduction",
            "parameters": [CASE_ID, {"name": "evidence_id", "in": "path", "required": True,
                                     "schema": {"type": "integer", "minimum": 1}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision"],
                "properties": {"decision": {"type": "string", "enum": ["accept", "reject"]},
                               "item": {"type": "string"}}}}}},
            "responses": {"200": _json(evidence, "The decided proposal"), **_errors(400, 401, 403, 404, 409, 422)},
        }},
    }
