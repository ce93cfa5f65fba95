"""The monthly appraisal pages: a department's month (printable), opening a month.

Who may read or open a month is asked of the engine's policy, and a month is read by the slice's one parser:
nothing here names a role, a state or a month format of its own.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from workflow.appraisal import operations
from workflow.definitions.values import PERIOD_PATTERN
from workflow.engine import RoleRefused, WorkflowError, latest_version, policy
from workflow.engine.periods import InvalidPeriod

from ..extensions import db_session
from ..ui.blueprint import bp
from ..ui.present import clock, label


def _is_month(text: str) -> bool:
    try:
        operations.parse_month(text)
    except InvalidPeriod:
        return False
    return True


def _departments() -> list[str]:
    """The departments whose month the user may read; 403 for someone who may read none."""
    session = db_session()
    everyone = operations.departments(session)
    readable = policy.readable_departments(session, current_user.actor, operations.definition(session))
    departments = everyone if readable is None else [d for d in everyone if d in readable]
    if readable is not None and not readable:
        abort(403)
    return departments


@bp.app_context_processor
def _appraisal_menu() -> dict[str, Any]:
    """What the header and the month page offer: asked of the policy, never decided by role names here."""
    session = db_session()
    if not current_user.is_authenticated or latest_version(session, operations.WORKFLOW) is None:
        return {}
    definition = operations.definition(session)
    return {
        "appraisal_readable": policy.readable_departments(session, current_user.actor, definition) != [],
        "appraisal_manager": policy.may_manage(current_user.actor, definition),
    }


def _page(view: operations.MonthView | None, departments: list[str], department: str, period: str) -> str:
    return render_template("appraisal.html", view=view, departments=departments, period=period,
                           department=department, grade_label=_grade_label, month_pattern=PERIOD_PATTERN)


@bp.get("/appraisal")
def appraisal_months() -> str | Response:
    departments = _departments()
    chosen, month = request.args.get("department"), request.args.get("period", "")
    if chosen and _is_month(month):
        return redirect(url_for("ui.appraisal_month", department=chosen, period=month))
    period = clock().local(clock().now()).strftime("%Y-%m")
    return _page(None, departments, departments[0] if departments else "", period)


@bp.get("/appraisal/<department>/<period>")
def appraisal_month(department: str, period: str) -> str:
    departments = _departments()
    if not _is_month(period):
        abort(404)
    try:
        view = operations.department_month(db_session(), department, period, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError:  # a department name longer than any: no such page
        abort(404)
    return _page(view, departments, department, period)


@bp.post("/appraisal/open")
def open_appraisal_month() -> Response:
    department, period = request.form.get("department", ""), request.form.get("period", "")
    try:  # the engine refuses a month outside WORKFLOW_YEARS and an overlong department, with the reason
        result = operations.open_month(db_session(), clock(), department, period, current_user.actor)
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.appraisal_months"))
    flash(_("%(opened)d sheet(s) opened, %(skipped)d already open.",
            opened=len(result.opened), skipped=len(result.skipped)), "info")
    return redirect(url_for("ui.appraisal_month", department=department, period=period))


def _grade_label(grade: str | None) -> Any:
    return grade or "—"
