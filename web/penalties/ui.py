"""The monthly complaint report (printable, with its confirmation) and the month's penalty ledger.

Who may read, confirm or decide is asked of the engine's policy with the complaint definition; months are
checked by the report's own parser: nothing here names a role or a state.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from workflow.definitions import Definition
from workflow.engine import RoleRefused, WorkflowError, latest_version, policy
from workflow.penalties import ledger, rules
from workflow.penalties.models import CLOSEOUT_BREACH, PROPOSED, WORDS
from workflow.reports import complaints

from .. import safe_csv
from ..extensions import db_session
from ..ui import nav
from ..ui.blueprint import bp
from ..ui.errors import page
from ..ui.present import N_, clock, label, last_month


def _definition() -> Definition | None:
    session = db_session()
    if latest_version(session, rules.COMPLAINT) is None:
        return None
    return rules.complaint_definition(session)


@bp.app_template_global()
def penalty_words(code: str | None) -> str:
    """A penalty's kind, sanction or status in the reader's language."""
    return label(WORDS.get(code or ""), code or "")


def may_read_report() -> bool:
    definition = _definition()
    return definition is not None and policy.may_read_complaint_report(current_user.actor, definition)


def _may_read_ledger() -> bool:
    definition = _definition()
    return definition is not None and policy.may_read_penalties(current_user.actor, definition)


nav.add("ui.complaint_report_form", N_("Complaint report"), may_read_report, prefix="ui.complaint_report")
nav.add("ui.penalties_form", N_("Penalties"), _may_read_ledger, prefix="ui.penalties")


@bp.get("/reports/complaints")
def complaint_report_form() -> str | Response:
    if not may_read_report():
        abort(403)
    month = request.args.get("period")
    if month:
        return redirect(url_for("ui.complaint_report_month", period=month[:7]))
    return render_template("penalties/report.html", report=None, period=last_month(), error=None,
                           may_confirm=False)


@bp.get("/reports/complaints/<period>")
def complaint_report_month(period: str) -> str | tuple[str, int]:
    definition = _definition()
    try:
        report = complaints.complaint_report(db_session(), clock(), period, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:  # a month not ended, or not a month: said on the page, with the form
        return render_template("penalties/report.html", report=None, period=period[:7],
                               error=label(exc.messages), may_confirm=False), 422
    may_confirm = definition is not None and policy.may_confirm_complaint_report(current_user.actor, definition)
    return render_template("penalties/report.html", report=report, period=report.period, error=None,
                           may_confirm=may_confirm)


@bp.get("/reports/complaints/<period>.csv")
def complaint_report_csv(period: str) -> Response:
    """The report as its API export writes it, for a reader signed in here (the report asks the policy)."""
    from .api import REPORT_HEADER, report_rows

    try:
        report = complaints.complaint_report(db_session(), clock(), period, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:
        return page(422, label(exc.messages))
    return safe_csv.download([REPORT_HEADER, *report_rows(report)], f"complaints-{report.period}.csv")


@bp.post("/reports/complaints/<period>/confirmation")
def confirm_complaint_report(period: str) -> Response:
    try:
        complaints.confirm_report(db_session(), clock(), period, current_user.actor)
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.complaint_report_month", period=period[:7]))
    db_session().commit()
    flash(_("The complaint report is confirmed."), "success")
    return redirect(url_for("ui.complaint_report_month", period=period[:7]))


@bp.get("/penalties")
def penalties_form() -> str | Response:
    if not _may_read_ledger():
        abort(403)
    month = request.args.get("period")
    if month:
        return redirect(url_for("ui.penalties_month", period=month[:7]))
    return redirect(url_for("ui.penalties_month", period=clock().local(clock().now()).strftime("%Y-%m")))


@bp.get("/penalties/<period>")
def penalties_month(period: str) -> str | tuple[str, int]:
    definition = _definition()
    if definition is None or not policy.may_read_penalties(current_user.actor, definition):
        abort(403)
    session = db_session()
    try:
        entries = ledger.entries_of_month(session, period)
    except WorkflowError as exc:
        return render_template("penalties/ledger.html", period=period[:7], rows=[], error=label(exc.messages),
                               decidable=set()), 422
    months = {e.person: ledger.month_entries(session, e.person, period) for e in entries}
    decidable = {e.id for e in entries if e.status == PROPOSED and policy.may_decide_penalty(
        current_user.actor, definition, e.kind == CLOSEOUT_BREACH)}
    return render_template("penalties/ledger.html", period=period[:7], rows=entries, months=months, error=None,
                           decidable=decidable)


@bp.post("/penalties/entries/<int:entry_id>")
def decide_penalty(entry_id: int) -> Response:
    period = request.form.get("period", "")[:7]
    try:
        ledger.decide_entry(db_session(), clock(), entry_id, current_user.actor,
                            request.form.get("decision") == "approve")
    except RoleRefused:
        abort(403)
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
        return redirect(url_for("ui.penalties_month", period=period or last_month()))
    db_session().commit()
    flash(_("The penalty is decided."), "success")
    return redirect(url_for("ui.penalties_month", period=period or last_month()))
