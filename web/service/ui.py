"""The service rules' pages: a month's service targets (printable) and the parts closeout lists.

Who may read or act is asked of the engine's policy; months are checked by the report's own parser, and the
closeout's rules are the replacement-part definition's: nothing here names a role or a state.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from workflow.closeout import operations as closeout
from workflow.engine import RoleRefused, WorkflowError, latest_version, policy
from workflow.engine.publishing import current_workflow
from workflow.reports import service_targets as targets

from .. import safe_csv
from ..extensions import db_session
from ..ui import nav
from ..ui.blueprint import bp
from ..ui.errors import page
from ..ui.present import N_, clock, label, last_month, when
from .api import closeout_answer, targets_csv_rows


def may_read_targets() -> bool:
    session = db_session()
    if latest_version(session, targets.SERVICE) is None:
        return False
    return policy.may_read_service_targets(current_user.actor, current_workflow(session, targets.SERVICE)[1].definition)


def _may_read_closeouts() -> bool:
    session = db_session()
    if latest_version(session, closeout.PARTS) is None:
        return False
    return policy.may_read_closeout(current_user.actor, closeout.rules(session).definition)


nav.add("ui.service_targets_form", N_("Service targets"), may_read_targets, prefix="ui.service_targets")
nav.add("ui.closeouts", N_("Parts closeout"), _may_read_closeouts)


@bp.get("/reports/service-targets")
def service_targets_form() -> str | Response:
    if not may_read_targets():
        abort(403)
    month = request.args.get("month")
    if month:
        return redirect(url_for("ui.service_targets_month", month=month[:7]))
    return render_template("service/targets.html", report=None, month=last_month(), error=None)


@bp.get("/reports/service-targets/<month>")
def service_targets_month(month: str) -> str | tuple[str, int]:
    try:
        report = targets.service_targets(db_session(), clock(), month, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:  # a month not ended, or not a month: said on the page, with the form
        return render_template("service/targets.html", report=None, month=month[:7], error=label(exc.messages)), 422
    return render_template("service/targets.html", report=report, month=report.month, error=None)


@bp.get("/reports/service-targets/<month>.csv")
def service_targets_csv(month: str) -> Response:
    """The month's figures as the API export writes them, for a reader signed in here."""
    try:
        report = targets.service_targets(db_session(), clock(), month, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:
        return page(422, label(exc.messages))
    return safe_csv.download(targets_csv_rows(report), f"service-targets-{report.month}.csv")


@bp.get("/closeouts")
def closeouts() -> str:
    session = db_session()
    try:
        lists = closeout.recent_lists(session, current_user.actor)
    except RoleRefused:
        abort(403)
    r = closeout.rules(session)
    return render_template(
        "service/closeouts.html", lists=closeout_answer(lists), when=when, rules=r,
        owed=len(closeout.owed_parts(session, r)),
        may_list=policy.may_list_closeout(current_user.actor, r.definition),
        may_approve=policy.may_approve_closeout(current_user.actor, r.definition))


@bp.post("/closeouts")
def draw_up_closeout() -> Response:
    try:
        drawn = closeout.draw_up(db_session(), clock(), current_user.actor)
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.closeouts"))
    flash(_("Closeout list %(id)d drawn up: %(count)d part(s) owed.", id=drawn.id, count=len(drawn.lines)), "info")
    return redirect(url_for("ui.closeouts"))


@bp.post("/closeouts/<int:list_id>/approve")
def approve_closeout(list_id: int) -> Response:
    try:
        closeout.approve(db_session(), clock(), current_user.actor, list_id, request.form.get("instructed", "")[:200])
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.closeouts"))
    flash(_("Closeout list %(id)d approved; the instruction is sent.", id=list_id), "info")
    return redirect(url_for("ui.closeouts"))
