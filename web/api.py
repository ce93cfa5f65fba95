"""JSON API v1. Token auth; every error is {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from workflow import diagram
from workflow.engine import (
    Clock,
    NotFound,
    RoleRefused,
    WorkflowError,
    actor_of,
    advance,
    available_actions,
    current_workflow,
    latest_versions,
    notifications,
    open_case,
    opener_roles,
    policy,
    workflow_of,
)
from workflow.engine.cases import MAX_ID
from workflow.engine.periods import parse_period
from workflow.engine.sla import monthly_figures
from workflow.engine.users import user_by_token
from workflow.models import Case, HistoryEntry, Notification, WorkflowVersion

from . import limits, openapi, serializers
from .extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STATUS = {
    "not_found": 404, "unknown_action": 404, "wrong_state": 409, "stale_version": 409, "duplicate_case": 409,
    "role_refused": 403, "four_eyes": 403, "invalid_inputs": 422, "guard_failed": 422,
    "definition_invalid": 422, "unauthorized": 401, "bad_request": 400,
}


def clock() -> Clock:
    return current_app.extensions["workflow_clock"]


def lang() -> str:
    return request.accept_languages.best_match(["en", "zh"]) or "en"


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


@bp.errorhandler(WorkflowError)
def _workflow_error(exc: WorkflowError) -> tuple[Response, int]:
    db.session.rollback()
    language = lang()
    fields = {name: messages[language] for name, messages in exc.fields.items()}
    return error(STATUS.get(exc.code, 400), exc.code, exc.messages[language], fields)


def http_error(exc: HTTPException) -> tuple[Response, int]:
    """Any HTTP error under /api/ as the API's error body (routing 404s and 405s included)."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response, status = error(exc.code or 500, code, exc.description or exc.name)
    for name, value in exc.get_headers():  # a 405 says what is Allowed
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


@bp.before_request
def _authenticate() -> tuple[Response, int] | None:
    if request.endpoint == "api.openapi_document":
        return None  # the description of the API is public; everything it describes is not
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    # Looked up afresh on every call (no cache): a revoked or expired token, or a disabled user, stops at once.
    user = user_by_token(db.session, token, clock().now()) if scheme.lower() == "bearer" and token else None
    if user is None:
        from . import security  # here: web.security imports this module

        retry_at = security.count_unauthorized_call()  # per address: API_UNAUTHORIZED_LIMIT
        if retry_at is not None:
            return security.too_many_unauthorized(retry_at), 429
        message = {"en": "Send a valid API token (not expired, not revoked): Authorization: Bearer <token>",
                   "zh": "请发送有效的 API 令牌（未过期、未撤销）：Authorization: Bearer <令牌>"}[lang()]
        response, status = error(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, status
    g.user = user
    g.actor = actor_of(user)
    if db.session.dirty:  # the token's last use, noted: kept even when the call itself changes nothing
        db.session.commit()
    return None


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise WorkflowError("The request body must be a JSON object", "请求体必须是 JSON 对象")
    return body


def _case_json(case: Case) -> dict[str, Any]:
    definition = workflow_of(case.version).definition
    actions = available_actions(db.session, clock(), case, g.actor)
    return serializers.case(clock(), case, definition, actions)


def _svg(graph_svg: bytes) -> Response:
    return Response(graph_svg, mimetype="image/svg+xml")


@bp.get("/workflows")
def list_workflows() -> Response:
    items = [
        serializers.version_summary(clock(), v, workflow_of(v).definition) for v in latest_versions(db.session)
    ]
    return jsonify({"items": items})


def _version(key: str) -> WorkflowVersion:
    wanted = limits.optional_int_arg("version", 1, MAX_ID)  # 400 unless a whole number that fits the column
    if wanted is None:
        return current_workflow(db.session, key)[0]
    version = db.session.scalar(
        select(WorkflowVersion).where(WorkflowVersion.key == key, WorkflowVersion.version == wanted)
    )
    if version is None:
        raise NotFound(f"workflow {key!r} has no version {wanted}", f"流程 {key!r} 没有版本 {wanted}")
    return version


@bp.get("/workflows/<key>")
def show_workflow(key: str) -> Response:
    version = _version(key)
    definition = workflow_of(version).definition
    return jsonify(serializers.workflow(clock(), version, definition, opener_roles(definition)))


@bp.get("/workflows/<key>/diagram.svg")
def workflow_diagram(key: str) -> Response:
    version = _version(key)
    graph = diagram.build(workflow_of(version).definition, lang=request.args.get("lang"))
    return _svg(diagram.to_svg(graph))


@bp.post("/cases")
def create_case() -> tuple[Response, int]:
    body = json_body()
    key = body.get("workflow")
    if not isinstance(key, str):
        raise WorkflowError("Name the workflow: {\"workflow\": key, \"data\": {...}}", "请指定流程 workflow")
    case = open_case(db.session, clock(), key, body.get("data", {}), g.actor, comment=body.get("comment"))
    db.session.commit()
    response = jsonify(_case_json(case))
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    return response, 201


@bp.get("/cases")
def list_cases() -> Response:
    page = limits.int_arg("page", 1, 1, MAX_ID)  # beyond any real list, and no overflow of the OFFSET
    config = current_app.config
    per_page = limits.int_arg("per_page", config["API_PAGE_SIZE"], 1, config["API_MAX_PAGE_SIZE"])
    query = select(Case).where(policy.visible(db.session, g.actor))
    if workflow := request.args.get("workflow"):
        query = query.where(Case.workflow_key == workflow)
    if state := request.args.get("state"):
        query = query.where(Case.state == state)
    if request.args.get("actionable", "").lower() in ("1", "true", "yes"):
        query = query.where(policy.actionable(db.session, g.actor))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    cases = db.session.scalars(
        query.order_by(Case.updated_at.desc(), Case.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return jsonify({"items": [_case_json(c) for c in cases], "page": page, "per_page": per_page, "total": total})


@bp.get("/cases/<id:case_id>")
def show_case(case_id: int) -> Response:
    return jsonify(_case_json(policy.visible_case(db.session, g.actor, case_id)))


@bp.post("/cases/<id:case_id>/actions/<action>")
def take_action(case_id: int, action: str) -> Response:
    body = json_body()
    expected = body.get("expected_version")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        raise WorkflowError("expected_version must be a whole number", "expected_version 必须是整数")
    comment = body.get("comment")  # checked by the engine, as for every caller
    case = policy.visible_case(db.session, g.actor, case_id)
    advance(db.session, clock(), case, action, g.actor, body.get("inputs") or {}, comment, expected)
    db.session.commit()
    return jsonify(_case_json(case))


@bp.get("/cases/<id:case_id>/history")
def case_history(case_id: int) -> Response:
    case = policy.visible_case(db.session, g.actor, case_id)
    rows = db.session.scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)
    ).all()
    return jsonify({"case_id": case.id, "items": [serializers.history_entry(clock(), h) for h in rows]})


@bp.get("/cases/<id:case_id>/diagram.svg")
def case_diagram(case_id: int) -> Response:
    case = policy.visible_case(db.session, g.actor, case_id)
    moves = db.session.execute(
        select(HistoryEntry.from_state, HistoryEntry.action, HistoryEntry.to_state)
        .where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)
    ).all()
    graph = diagram.build(
        workflow_of(case.version).definition, lang=request.args.get("lang"), current=case.state,
        path=[tuple(m) for m in moves],
    )
    return _svg(diagram.to_svg(graph))


@bp.get("/notifications")
def list_notifications() -> Response:
    limit = limits.int_arg("limit", 20, 1, 200)
    unread_only = request.args.get("unread", "").lower() in ("1", "true", "yes")
    items = notifications.for_user(db.session, g.user.name, limit=limit, unread_only=unread_only)
    unread = db.session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == g.user.id, Notification.read_at.is_(None))
    )
    return jsonify({"items": [serializers.notification(clock(), n) for n in items], "unread": unread})


@bp.post("/notifications/<id:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    if not notifications.mark_read(db.session, g.user.name, notification_id, clock().now()):
        if db.session.scalar(select(Notification.id).where(
                Notification.id == notification_id, Notification.user_id == g.user.id)) is None:
            raise NotFound("no such notification of yours", "没有此通知")
    db.session.commit()
    return jsonify({"id": notification_id, "read": True})


@bp.get("/sla")
def sla() -> Response:
    key, month = request.args.get("workflow"), request.args.get("month", "")
    if not key or not month:
        raise WorkflowError("Give ?workflow=KEY&month=YYYY-MM", "请提供 ?workflow=流程&month=YYYY-MM")
    parse_period(month, "month")  # a 400 before anything is looked up
    definition = current_workflow(db.session, key)[1].definition  # 404 for an unknown workflow
    if not policy.may_read_workflow_report(g.actor, definition):
        raise RoleRefused(f"The {definition.title['en']} figures are for its readers and auditors",
                          f"{definition.title['zh']}统计仅供其查阅角色和审计员查看")
    return jsonify(serializers.sla(clock(), monthly_figures(db.session, key, month, clock().tz)))


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())
