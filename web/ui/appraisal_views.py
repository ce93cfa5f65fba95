"""The monthly appraisal pages: a department's month (printable), opening a month."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow.engine import WorkflowError
from workflow.engine import appraisal as operations
from workflow.engine.users import actor_of
from workflow.models import StaffMember

from ..extensions import db
from .blueprint import bp
from .present import clock, label

VIEWERS = {"hr", "dept_head", "supervisor", "auditor"}
PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def _allowed() -> None:
    if not current_user.roles & VIEWERS:
        abort(403)


@bp.get("/appraisal")
def appraisal_months() -> str | Response:
    _allowed()
    chosen, month = request.args.get("department"), request.args.get("period", "")
    if chosen and PERIOD.fullmatch(month):
        return redirect(url_for("ui.appraisal_month", department=chosen, period=month))
    departments = sorted(set(db.session.scalars(select(StaffMember.department))))
    period = clock().local(clock().now()).strftime("%Y-%m")
    return render_template("appraisal.html", view=None, departments=departments, period=period,
                           department=departments[0] if departments else "")


@bp.get("/appraisal/<department>/<period>")
def appraisal_month(department: str, period: str) -> str:
    _allowed()
    if not PERIOD.fullmatch(period):
        abort(404)
    view = operations.department_month(db.session, department, period)
    departments = sorted(set(db.session.scalars(select(StaffMember.department))))
    return render_template("appraisal.html", view=view, departments=departments, period=period,
                           department=department, grade_label=_grade_label)


@bp.post("/appraisal/open")
def open_appraisal_month() -> Response:
    _allowed()
    department, period = request.form.get("department", ""), request.form.get("period", "")
    if not PERIOD.fullmatch(period):
        flash(_("The month must be written YYYY-MM."), "error")
        return redirect(url_for("ui.appraisal_months"))
    try:
        result = operations.open_month(db.session, clock(), department, period, actor_of(current_user.user))
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
