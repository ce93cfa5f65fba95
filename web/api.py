"""JSON API v1. Token auth; every error is {"error": {"code", "message", "fields"}}.

What each call takes and answers is declared once, with the models of web/api_models.py (web/contract.py):
requests are checked and answers written from them, and /api/v1/openapi.json is made from them."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from workflow import diagram
from workflow.engine import (
    NotFound,
    RoleRefused,
    WorkflowError,
    actor_of,
    advance,
    available_actions,
    current_workflow,
    latest_versions,
    load_timers,
    notifications,
    open_case,
    opener_roles,
    policy,
    search,
    workflow_of,
)
from workflow.engine.periods import parse_period
from workflow.engine.sla import monthly_figures
from workflow.engine.users import user_by_token
from workflow.models import Case, HistoryEntry, Notification, WorkflowVersion

from . import api_models, contract, limits
from .audit.models import CaseQuery
from .audit.views import case_as_of, note_case_look
from .contract import ErrorBody, ErrorDetail, operation
from .extensions import clock, db_session, wrote

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STATUS = {
    "not_found": 404, "unknown_action": 404, "wrong_state": 409, "stale_version": 409, "duplicate_case": 409,
    "role_refused": 403, "four_eyes": 403, "invalid_inputs": 422, "guard_failed": 422,
    "definition_invalid": 422, "unauthorized": 401, "bad_request": 400,
}


def lang() -> str:
    return request.accept_languages.best_match(["en", "zh"]) or "en"


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> tuple[Response, int]:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields or {}))
    return jsonify(body.model_dump()), status


@bp.errorhandler(WorkflowError)
def _workflow_error(exc: WorkflowError) -> tuple[Response, int]:
    db_session().rollback()
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
    user = user_by_token(db_session(), token, clock().now()) if scheme.lower() == "bearer" and token else None
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
    if wrote(db_session()):  # the token's last use, noted: kept even when the call itself changes nothing
        db_session().commit()
    return None


def _case(case: Case) -> api_models.CaseOut:
    definition = workflow_of(case.version).definition
    load_timers(db_session(), case)  # on the driver: the relationship's own load costs more than the move
    return api_models.CaseOut.of(clock(), case, definition, available_actions(db_session(), clock(), case, g.actor))


def _svg(graph_svg: bytes) -> Response:
    return Response(graph_svg, mimetype="image/svg+xml")


@bp.get("/workflows")
@operation(answer=api_models.Workflows)
def list_workflows() -> api_models.Workflows:
    """Published workflows (latest version of each)"""
    return api_models.Workflows(items=[api_models.WorkflowSummary.of(clock(), v, workflow_of(v).definition)
                                       for v in latest_versions(db_session())])


def _version(key: str, wanted: int | None) -> WorkflowVersion:
    if wanted is None:
        return current_workflow(db_session(), key)[0]
    version = db_session().scalar(
        select(WorkflowVersion).where(WorkflowVersion.key == key, WorkflowVersion.version == wanted)
    )
    if version is None:
        raise NotFound(f"workflow {key!r} has no version {wanted}", f"流程 {key!r} 没有版本 {wanted}")
    return version


@bp.get("/workflows/<key>")
@operation(answer=api_models.WorkflowOut, query=api_models.WorkflowQuery, errors=(404,))
def show_workflow(key: str, query: api_models.WorkflowQuery) -> api_models.WorkflowOut:
    """A workflow's states, fields, transitions with roles and typed inputs, timers"""
    version = _version(key, query.version)
    definition = workflow_of(version).definition
    return api_models.WorkflowOut.of_version(clock(), version, definition, opener_roles(definition))


@bp.get("/workflows/<key>/diagram.svg")
@operation(query=api_models.WorkflowDiagramQuery, errors=(404,), media="image/svg+xml")
def workflow_diagram(key: str, query: api_models.WorkflowDiagramQuery) -> Response:
    """The workflow's state diagram"""
    graph = diagram.build(workflow_of(_version(key, query.version)).definition, lang=query.lang)
    return _svg(diagram.to_svg(graph))


@bp.post("/cases")
@operation(answer=api_models.CaseOut, status=201, body=api_models.CreateCase, errors=(403, 404, 409, 422))
def create_case(json: api_models.CreateCase) -> tuple[api_models.CaseOut, int, dict[str, str]]:
    """Open a case"""
    case = open_case(db_session(), clock(), json.workflow, json.data, g.actor, comment=json.comment)
    answer = _case(case)  # before COMMIT, as for a move (take_action)
    db_session().commit()
    return answer, 201, {"Location": f"/api/v1/cases/{case.id}"}


@bp.get("/cases")
@operation(answer=api_models.CasePage, query=api_models.CasesQuery)
def list_cases(query: api_models.CasesQuery) -> api_models.CasePage:
    """Cases, paged"""
    config = current_app.config
    # API_MAX_PAGE_SIZE is a setting: the contract cannot know it, so the bound is checked here.
    per_page = limits.int_arg("per_page", config["API_PAGE_SIZE"], 1, config["API_MAX_PAGE_SIZE"])
    select_cases = select(Case).where(policy.visible(db_session(), g.actor))
    if query.workflow:
        select_cases = select_cases.where(Case.workflow_key == query.workflow)
    if query.state:
        select_cases = select_cases.where(Case.state == query.state)
    if query.actionable:
        select_cases = select_cases.where(policy.actionable(db_session(), g.actor, clock=clock()))
    if query.q and query.q.strip():
        select_cases = select_cases.where(search.text_clause(query.q))
    total = db_session().scalar(select(func.count()).select_from(select_cases.subquery())) or 0
    cases = db_session().scalars(
        select_cases.options(selectinload(Case.timers))
        .order_by(*search.relevance(query.q or ""), Case.updated_at.desc(), Case.id.desc())
        .limit(per_page).offset((query.page - 1) * per_page)
    ).all()
    return api_models.CasePage(items=[_case(c) for c in cases], page=query.page, per_page=per_page, total=total)


@bp.get("/cases/<id:case_id>")
@operation(answer=api_models.CaseOut, query=CaseQuery, errors=(404, 422))
def show_case(case_id: int, query: CaseQuery) -> api_models.CaseOut:
    """A case with what the caller may do now; ?as_of=<ISO time>: as it stood then, replayed from its history"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    if query.as_of is not None:  # the audit slice's replay (web/audit/views.py)
        return case_as_of(case, query.as_of, g.actor)
    note_case_look(case, g.actor)
    return _case(case)


@bp.post("/cases/<id:case_id>/actions/<action>")
@operation(answer=api_models.CaseOut, body=api_models.TakeAction, errors=(403, 404, 409, 422))
def take_action(case_id: int, action: str, json: api_models.TakeAction) -> api_models.CaseOut:
    """Take an action on a case; a `file` input names a file of the case by its sha256 (POST .../attachments)"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    advance(db_session(), clock(), case, action, g.actor, json.inputs or {}, json.comment, json.expected_version,
            with_timers=True)
    # The answer is made from the case the move left current (its state, data, lock_version and last mover,
    # kept by `advance`, and its timers, read with the move's writes), inside the move's transaction: nothing
    # is read again after COMMIT, which would take a transaction of its own.
    answer = _case(case)
    db_session().commit()
    return answer


@bp.get("/cases/<id:case_id>/history")
@operation(answer=api_models.History, errors=(404,))
def case_history(case_id: int) -> api_models.History:
    """The hash-chained history"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    rows = db_session().scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)
    ).all()
    return api_models.History(case_id=case.id, items=[api_models.HistoryItem.of(clock(), h) for h in rows])


@bp.get("/cases/<id:case_id>/diagram.svg")
@operation(query=api_models.DiagramQuery, errors=(404,), media="image/svg+xml")
def case_diagram(case_id: int, query: api_models.DiagramQuery) -> Response:
    """The case's diagram with its current state and path"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    moves = db_session().execute(
        select(HistoryEntry.from_state, HistoryEntry.action, HistoryEntry.to_state)
        .where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)
    ).all()
    graph = diagram.build(
        workflow_of(case.version).definition, lang=query.lang, current=case.state,
        path=[(m[0], m[1], m[2]) for m in moves],
    )
    return _svg(diagram.to_svg(graph))


@bp.get("/notifications")
@operation(answer=api_models.Notifications, query=api_models.NotificationsQuery)
def list_notifications(query: api_models.NotificationsQuery) -> api_models.Notifications:
    """The caller's notifications"""
    items = notifications.for_user(db_session(), g.user.name, limit=query.limit, unread_only=query.unread)
    unread = db_session().scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == g.user.id, Notification.read_at.is_(None))
    ) or 0
    return api_models.Notifications(items=[api_models.NotificationOut.of(clock(), n) for n in items], unread=unread)


@bp.post("/notifications/<id:notification_id>/read")
@operation(answer=api_models.Read, errors=(404,))
def read_notification(notification_id: int) -> api_models.Read:
    """Mark a notification read"""
    if not notifications.mark_read(db_session(), g.user.name, notification_id, clock().now()):
        if db_session().scalar(select(Notification.id).where(
                Notification.id == notification_id, Notification.user_id == g.user.id)) is None:
            raise NotFound("no such notification of yours", "没有此通知")
    db_session().commit()
    return api_models.Read(id=notification_id, read=True)


@bp.get("/sla")
@operation(answer=api_models.Sla, query=api_models.SlaQuery, errors=(403, 404))
def sla(query: api_models.SlaQuery) -> api_models.Sla:
    """On-time and late figures of a workflow for a month"""
    parse_period(query.month, "month")  # the years are a setting: a 400 before anything is looked up
    definition = current_workflow(db_session(), query.workflow)[1].definition  # 404 for an unknown workflow
    if not policy.may_read_workflow_report(g.actor, definition):
        raise RoleRefused(f"The {definition.title['en']} figures are for its readers and auditors",
                          f"{definition.title['zh']}统计仅供其查阅角色和审计员查看")
    return api_models.Sla.of(clock(), monthly_figures(db_session(), query.workflow, query.month, clock().tz))


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(contract.document(current_app._get_current_object()))  # type: ignore[attr-defined]
