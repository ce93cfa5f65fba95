"""The monthly appraisal pages: a department's month (printable), opening a month, HR's settings (the forced
distribution's rule, the department's head) and a department's year.

Who may read or open a month is asked of the engine's policy, and a month is read by the slice's one parser:
nothing here names a role, a state or a month format of its own.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from workflow.appraisal import distribution, operations, rules, scoring
from workflow.appraisal.extensions import SCORESHEET
from workflow.definitions.values import PERIOD_PATTERN
from workflow.engine import RoleRefused, WorkflowError, latest_version, policy, workflow_of
from workflow.engine.periods import InvalidPeriod
from workflow.engine.refusals import refusal

from ..extensions import db_session
from ..ui.blueprint import bp
from ..ui.present import N_, clock, label
from . import scoring_form as scoring_form_views


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
                           department=department, grade_label=_grade_label, month_pattern=PERIOD_PATTERN,
                           rules=distribution.RULES, rule_label=_rule_label,
                           year=int(period[:4]) if _is_month(period) else None)


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


RULE_LABELS = {
    "show": N_("Shown at the department review"),
    "reason": N_("A written reason for a grade beyond its share"),
    "block": N_("A grade beyond its share is refused"),
}


def _rule_label(rule: str) -> str:
    return _(RULE_LABELS[rule]) if rule in RULE_LABELS else rule


def _back_to_month(department: str, period: str) -> Response:
    if _is_month(period):
        return redirect(url_for("ui.appraisal_month", department=department, period=period))
    return redirect(url_for("ui.appraisal_months"))


@bp.post("/appraisal/<department>/rule")
def set_appraisal_rule(department: str) -> Response:
    """HR's forced-distribution rule for the department (001 §2.3); the engine refuses anyone else."""
    try:
        operations.set_distribution_rule(db_session(), clock(), department, request.form.get("rule", ""),
                                         current_user.actor)
        db_session().commit()
        flash(_("Forced-distribution rule saved."), "info")
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
    return _back_to_month(department, request.form.get("period", ""))


@bp.post("/appraisal/<department>/head")
def set_appraisal_head(department: str) -> Response:
    """The department's head and their standard performance pay (001 §5.1)."""
    try:
        operations.set_department_head(db_session(), clock(), department, request.form.get("head", "")[:200],
                                       request.form.get("standard_pay", "")[:40], current_user.actor)
        db_session().commit()
        flash(_("Department head saved."), "info")
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
    return _back_to_month(department, request.form.get("period", ""))


@bp.get("/appraisal/<department>/years/<int:year>")
def appraisal_year(department: str, year: int) -> str:
    """Each employee's year and the quarters' remainders: printable, for HR and the department's head."""
    departments = _departments()
    session = db_session()
    try:
        view = rules.department_year(session, department, year, current_user.actor)
        quarters = [rules.department_quarter(session, department, year, q, current_user.actor)
                    for q in rules.QUARTERS]
    except RoleRefused:
        abort(403)
    except WorkflowError:  # a year outside the service's, an overlong department: no such page
        abort(404)
    kind_names = {kind: label(names) for kind, names in scoring.ADJUSTMENT_LABELS.items()}
    return render_template("appraisal_year.html", view=view, quarters=quarters, departments=departments,
                           lang_label=label, kind_names=kind_names)


def _penalty_month(person: str, period: str) -> Any:
    """The person's penalty ledger for the month (workflow/penalties), or None where that slice is absent."""
    try:
        from workflow.penalties.ledger import month_entries
    except ImportError:  # the penalty ledger is its own slice: the sheet page works without it
        return None
    return month_entries(db_session(), person, period)


@bp.get("/appraisal/sheets/<int:case_id>")
def appraisal_sheet(case_id: int) -> str:
    """One sheet as scored, with the person's penalties of that month: for whoever may read the sheet."""
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    if case.workflow_key != operations.WORKFLOW:
        abort(404)
    data = case.data
    result = (data.get("sheet") or {}).get("result") or {}
    employee, period = data[operations.EMPLOYEE], data[operations.PERIOD]
    definition = workflow_of(case.version).definition
    state = definition.states.get(case.state)
    filled = [view for name, spec in definition.fields.items() if spec.type == SCORESHEET
              if (view := scoring_form_views.filled_view(case, name)) is not None]
    return render_template("appraisal_sheet.html", case=case, data=data, result=result, filled=filled,
                           ledger=_penalty_month(employee, period),
                           state_label=label(state.label) if state else case.state)


# -- the scoring form, its live preview and the filled sheet ------------------------------------------


@bp.app_template_global()
def scoring_form(f: Any, disabled: bool = False) -> scoring_form_views.SheetForm | None:
    """The scoring form of a step's scoresheet input on the case page being shown (None: the JSON text box)."""
    case_id = (request.view_args or {}).get("case_id")
    if not isinstance(case_id, int):
        return None
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    prefix = f.id[: -len(f.name) - 1]
    kept = disabled or prefix.startswith("kept-")
    return scoring_form_views.form_view(f, case, None if kept else prefix, disabled=kept)


@bp.app_template_global()
def filled_sheet(case: Any, name: str) -> scoring_form_views.FilledSheet | None:
    """A scored sheet field of `case` as the filled paper form, or None for any other field."""
    return scoring_form_views.filled_view(case, name)


@bp.post("/cases/<int:case_id>/actions/<action>/sheet-preview/<field>")
def preview_sheet(case_id: int, action: str, field: str) -> Response:
    """The engine's total, grade and coefficient of the scoring form as filled so far, storing nothing: for
    whoever may take the step now (the same question as sending the form), else 403."""
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    definition = workflow_of(case.version).definition
    transition = definition.transitions.get(action)
    if transition is None or not scoring_form_views.sheet_input(definition, transition, field):
        abort(404)
    if refusal(db_session(), case, transition, current_user.actor, clock(), guards=False) is not None:
        return Response(json.dumps({"error": _("You may not score this sheet now.")}), status=403,
                        mimetype="application/json")
    answer = scoring_form_views.preview(case, field, request.form)
    db_session().rollback()  # nothing of a preview is kept
    return jsonify(answer)


@bp.app_template_global()
def sheet_summary(text: str) -> str | None:
    """A scored sheet as a history row records it, in one line (total, grade, coefficient); None for any other
    value. The row's full sheet is the filled sheet of the case page."""
    result = scoring_form_views.scored_result(text)
    if result is None:
        return None
    return str(_("Total %(total)s · grade %(grade)s · pay coefficient %(coefficient)s", total=result.get("total"),
                 grade=result.get("grade"), coefficient=result.get("pay_coefficient")))


@bp.post("/appraisal/sheets/<int:case_id>/evidence/<int:evidence_id>")
def decide_sheet_evidence(case_id: int, evidence_id: int) -> Response:
    """The supervisor accepts a proposed deduction for the item they pick, or rejects it, from the scoring form
    (its buttons send the form here); the engine decides who may and refuses a wrong item, with the reason."""
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    accept = request.form.get("decision") == "accept"
    item = request.form.get(f"evidence_item.{evidence_id}", "")[:80] or None
    try:
        operations.decide_evidence(db_session(), clock(), case, evidence_id, current_user.actor, accept,
                                   item if accept else None)
        db_session().commit()
        flash(_("Proposed deduction accepted.") if accept else _("Proposed deduction rejected."), "success")
    except WorkflowError as exc:
        db_session().rollback()
        flash(label(exc.messages), "error")
    action = request.form.get("action", "")
    if action in workflow_of(case.version).definition.transitions:
        return redirect(url_for("ui.take_action", case_id=case.id, action=action))
    return redirect(url_for("ui.show_case", case_id=case.id))
