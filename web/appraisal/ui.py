"""The monthly appraisal pages: a department's month (printable), opening a month."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow.definitions import Definition
from workflow.engine import RoleRefused, WorkflowError, current_workflow, latest_version, policy
from workflow.engine import appraisal as operations
from workflow.engine.periods import InvalidPeriod, parse_period
from workflow.models import StaffMember

from ..extensions import db
from ..ui.blueprint import bp
from ..ui.present import clock, label


def _is_month(text: str) -> bool:
    try:
        parse_period(text)
    except InvalidPeriod:
        return False
    return True


def _definition() -> Definition:
    return current_workflow(db.session, operations.WORKFLOW)[1].definition


def _departments() -> list[str]:
    """The departments whose month the user may read; 403 for someone who may read none."""
    everyone = sorted(set(db.session.scalars(select(StaffMember.department))))
    readable = policy.readable_departments(db.session, current_user.actor, _definition())
    departments = everyone if readable is None else [d for d in everyone if d in readable]
    if readable is not None and not readable:
        abort(403)
    return departments


@bp.app_context_processor
def _appraisal_menu() -> dict[str, Any]:
    """What the header and the month page offer: asked of the policy, never decided by role names here."""
    if not current_user.is_authenticated or latest_version(db.session, operations.WORKFLOW) is None:
        return {}
    definition = _definition()
    return {
        "appraisal_readable": policy.readable_departments(db.session, current_user.actor, definition) != [],
        "appraisal_manager": policy.may_manage(current_user.actor, definition),
    }


@bp.get("/appraisal")
def appraisal_months() -> str | Response:
    departments = _departments()
    chosen, month = request.args.get("department"), request.args.get("period", "")
    if chosen and _is_month(month):
        return redirect(url_for("ui.appraisal_month", department=chosen, period=month))
    period = clock().local(clock().now()).strftime("%Y-%m")
    return render_template("appraisal.html", view=None, departments=departments, period=period,
                           department=departments[0] if departments else "")


@bp.get("/appraisal/<department>/<period>")
def appraisal_month(department: str, period: str) -> str:
    departments = _departments()
    if not _is_month(period):
        abort(404)
    try:
        view = operations.department_month(db.session, department, period, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError:  # a department name longer than any: no such page
        abort(404)
    return render_template("appraisal.html", view=view, departments=departments, period=period,
                           department=department, grade_label=_grade_label)


@bp.post("/appraisal/open")
def open_appraisal_month() -> Response:
    department, period = request.form.get("department", ""), request.form.get("period", "")
    try:  # the engine refuses a month outside WORKFLOW_YEARS and an overlong department, with the reason
        result = operations.open_month(db.session, clock(), department, period, current_user.actor)
        db.session.commit()
    except WorkflowError as exc:
        db.session.rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.appraisal_months"))
    flash(_("%(opened)d sheet(s) opened, %(skipped)d already open.",
            opened=len(result.opened), skipped=len(result.skipped)), "info")
    return redirect(url_for("ui.appraisal_month", department=department, period=period))


def _grade_label(grade: str | None) -> Any:
    return grade or "—"
