"""The audit area's JSON API: the search over every history, its streamed export and signed manifest, the
last full verification, and the access log."""

from __future__ import annotations

from flask import Response, g

from workflow.engine import RoleRefused, WorkflowError, audit, policy, trail

from ..api import bp
from ..contract import operation
from ..extensions import clock, db_session
from . import common
from .models import (
    AccessOut,
    AccessPage,
    AccessQuery,
    AuditRunOut,
    ExportQuery,
    HistoryPage,
    HistoryQuery,
    HistoryRow,
    LastRun,
)

AUDITORS_ONLY = ("The audit area is for auditors", "审计区仅供审计员使用")
ADMINS_ONLY = ("The access log is for the auditors' administrators", "访问日志仅供审计管理员查看")


class KeyMissing(WorkflowError):
    code = "wrong_state"  # a 409: the service is not set up for it yet


def _refuse_unless_auditor() -> None:
    if not policy.may_audit(g.actor):
        raise RoleRefused(*AUDITORS_ONLY)


def checked_search(query: HistoryQuery) -> trail.Search:
    return trail.check_search(db_session(), common.search_of(query.model_dump()))


@bp.get("/history")
@operation(answer=HistoryPage, query=HistoryQuery, errors=(403, 422))
def search_history(query: HistoryQuery) -> HistoryPage:
    """Search every case's history (the cases the caller may see), oldest or newest first, paged by cursor"""
    _refuse_unless_auditor()
    search = checked_search(query)
    page = trail.search_history(db_session(), g.actor, search, common.read_cursor(query.cursor), query.limit)
    return HistoryPage(items=[HistoryRow.of(clock(), row) for row in page.rows],
                       next_cursor=common.make_cursor(page.after))


@bp.get("/history/export")
@operation(query=ExportQuery, errors=(403, 422), media="application/x-ndjson")
def export_history(query: ExportQuery) -> Response:
    """Every row of a search, streamed as JSON Lines or CSV, each with prev_hash and hash"""
    _refuse_unless_auditor()
    search = checked_search(query)
    return common.export(g.actor, search, query.format)


@bp.get("/history/manifest")
@operation(query=HistoryQuery, errors=(403, 409, 422), media="application/json")
def export_manifest(query: HistoryQuery) -> Response:
    """The signed manifest of the export of the same search (give the same `until`, so both see the same rows)"""
    _refuse_unless_auditor()
    key = common.audit_key()
    if key is None:
        raise KeyMissing("No audit key is set (AUDIT_KEY or AUDIT_KEY_FILE): a manifest cannot be signed",
                         "未设置审计密钥（AUDIT_KEY 或 AUDIT_KEY_FILE），无法签署清单")
    search = checked_search(query)
    manifest = trail.Manifest()
    for item in trail.export_records(db_session(), g.actor, search):
        manifest.add(item)
    text = trail.manifest_text(manifest, clock().now(), search.described(), key)
    return Response(text, mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=history-export.manifest.json"})


@bp.get("/audit/last-verification")
@operation(answer=LastRun, errors=(403,))
def last_verification() -> LastRun:
    """The last full verification of every chain (flask audit verify)"""
    _refuse_unless_auditor()
    run = audit.last_run(db_session())
    return LastRun(run=AuditRunOut.of(clock(), run) if run else None)


@bp.get("/audit/access-log")
@operation(answer=AccessPage, query=AccessQuery, errors=(403, 422))
def access_log(query: AccessQuery) -> AccessPage:
    """Who among the auditors looked at what, and when: newest first"""
    if not policy.may_read_access_log(g.actor):
        raise RoleRefused(*ADMINS_ONLY)
    rows = audit.access_log(db_session(), common.read_cursor(query.cursor), query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return AccessPage(items=[AccessOut.of(clock(), r) for r in rows],
                      next_cursor=common.make_cursor((rows[-1].at, rows[-1].id)) if more else None)
