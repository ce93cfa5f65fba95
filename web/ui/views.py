"""The pages: inbox, all cases, new case, the case page with its action forms, notifications.

Every change goes through an engine operation; each request that changes something commits once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, or_, select
from werkzeug.wrappers import Response

from workflow.definitions import Definition, TransitionSpec
from workflow.definitions.schema import InputSpec
from workflow.engine import (
    InvalidInputs,
    NotFound,
    StaleCase,
    UnknownAction,
    WorkflowError,
    WrongState,
    advance,
    available_actions,
    current_workflow,
    latest_versions,
    open_case,
    opener_roles,
    policy,
    search,
    workflow_of,
)
from workflow.engine.refusals import refusal
from workflow.models import Case, HistoryEntry

from ..desk import panel
from ..extensions import db_session
from . import alerts, errors, forms, lists, present
from .auth import safe_next
from .blueprint import bp
from .present import clock, label, lang

# The HTTP status of a page that shows an engine refusal, by its code; any other refusal is a 422.
STATUS = {"wrong_state": 409, "stale_version": 409, "duplicate_case": 409, "role_refused": 403, "four_eyes": 403}


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> Any:
    db_session().rollback()
    return errors.page(404)


@bp.app_context_processor
def _header() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    return {"notifications": alerts.for_user(db_session(), current_user.name)}


def _per_page() -> int:
    return int(current_app.config.get("UI_PAGE_SIZE", 25))


def _messages(exc: WorkflowError, labels: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The engine's message and its per-field messages, in the reader's language.

    For invalid inputs the summary names the fields by their labels, as the form shows them.
    """
    language = lang()
    fields = {name: text[language] for name, text in exc.fields.items()}
    message = exc.messages[language]
    if isinstance(exc, InvalidInputs) and fields and labels is not None:
        comma = "、" if language == "zh" else ", "
        message = _("Please correct: %(fields)s", fields=comma.join(labels.get(name, name) for name in fields))
        if exc.unplaced:
            message = f"{message} {exc.unplaced[language]}"
    return message, fields


def _labels(inputs: list[InputSpec]) -> dict[str, str]:
    return {i.name: label(i.spec.label, i.name) for i in inputs}


def _titles() -> dict[str, str]:
    return {v.key: label(workflow_of(v).definition.title, v.key) for v in latest_versions(db_session())}


# -- lists ----------------------------------------------------------------------------------------


def _list_page(scope: str) -> str:
    filters = lists.Filters.from_args(request.args)
    if scope == "inbox":
        listing = lists.inbox(db_session(), clock(), current_user.actor, filters, _per_page())
    else:
        listing = lists.all_cases(db_session(), clock(), current_user.actor, filters, _per_page())
    versions = [(v, workflow_of(v).definition) for v in latest_versions(db_session())]
    return render_template(
        "cases.html", scope=scope, listing=listing, filters=filters, workflows=versions,
        states=lists.state_choices(versions, filters.workflow), now=clock().now(),
        saved=search.saved_filters(db_session(), current_user.name, scope),
    )


@bp.get("/")
def inbox() -> Any:
    if policy.is_read_only(current_user.actor):  # an auditor acts on nothing: their start page is every case
        return redirect(url_for("ui.all_cases"))
    return _list_page("inbox")


@bp.get("/cases")
def all_cases() -> str:
    return _list_page("all")


# -- new case -------------------------------------------------------------------------------------


@bp.get("/cases/new")
def choose_workflow() -> str:
    if policy.is_read_only(current_user.actor):
        abort(403)
    offered = []
    for version in latest_versions(db_session()):
        definition = workflow_of(version).definition
        if policy.may_open(current_user.actor, opener_roles(definition)):
            offered.append((version, definition))
    return render_template("choose_workflow.html", offered=offered)


@bp.route("/cases/new/<key>", methods=["GET", "POST"])
def new_case(key: str) -> Any:
    version, workflow = current_workflow(db_session(), key)
    definition = workflow.definition
    if not policy.may_open(current_user.actor, opener_roles(definition)):
        abort(403)
    inputs = forms.opening_inputs(definition)
    values = {i.name: forms.as_form_value(i.spec, i.spec.default) for i in inputs}
    comment = ""
    message: str | None = None
    field_errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = forms.typed_values(inputs, request.form)
        comment = request.form.get("comment", "")
        try:
            case = open_case(
                db_session(), clock(), key, forms.decode(inputs, request.form), current_user.actor,
                comment=comment.strip() or None,
            )
            db_session().commit()
        except NotFound:
            raise
        except WorkflowError as exc:
            db_session().rollback()
            message, field_errors = _messages(exc, _labels(inputs))
            status = STATUS.get(exc.code, 422)
        else:
            flash(_("Case %(name)s opened.", name=present.case_name(case)), "success")
            return redirect(url_for("ui.show_case", case_id=case.id))
    fields = forms.build(inputs, "new", values, field_errors, _titles())
    unplaced = {name: text for name, text in field_errors.items() if name not in {f.name for f in fields}}
    return render_template(
        "new_case.html", version=version, definition=definition, fields=fields, comment=comment,
        message=message, unplaced=unplaced,
    ), status


# -- the case page --------------------------------------------------------------------------------


@dataclass
class ActionForm:
    transition: TransitionSpec
    fields: list[forms.FormField]
    available: bool = True
    open: bool = False
    comment: str = ""
    message: str | None = None
    unplaced: dict[str, str] = field(default_factory=dict)


def _ref_targets(definition: Definition, case: Case) -> dict[str, Case]:
    """The cases that this case's reference fields name, by field."""
    found = {}
    for name, spec in definition.fields.items():
        value = case.data.get(name)
        if spec.ref is None or value in (None, ""):
            continue
        query = select(Case).where(Case.workflow_key == spec.ref.workflow)
        target = db_session().scalar(query.where(Case.number == str(value)))
        if target is None and (case_id := present.as_case_id(str(value))) is not None:
            target = db_session().scalar(query.where(Case.id == case_id))
        if target is not None and policy.may_see(db_session(), current_user.actor, target):
            found[name] = target
    return found


def _referenced_by(case: Case) -> list[tuple[Case, str]]:
    """The cases whose reference fields name this case, with the label of that field."""
    names = [case.number] if case.number else []
    names.append(str(case.id))
    conditions, labels = [], {}
    for version in latest_versions(db_session()):
        definition = workflow_of(version).definition
        for name, spec in definition.fields.items():
            if spec.ref is not None and spec.ref.workflow == case.workflow_key:
                conditions.append(and_(Case.workflow_key == version.key, Case.data[name].as_string().in_(names)))
                labels[(version.key, name)] = spec.label
    if not conditions:
        return []
    rows = db_session().scalars(
        select(Case).where(or_(*conditions), Case.id != case.id, policy.visible(db_session(), current_user.actor))
        .order_by(Case.id).limit(50)
    )
    out = []
    for other in rows:
        field_label = next(
            (text for (key, name), text in labels.items()
             if key == other.workflow_key and str(other.data.get(name)) in names), None,
        )
        out.append((other, label(field_label)))
    return out


def render_case(
    case: Case, *, open_action: str | None = None, values: dict[str, str] | None = None,
    field_errors: dict[str, str] | None = None, comment: str = "", message: str | None = None,
    stale: bool = False, status: int = 200, desk: panel.DeskForms | None = None,
) -> tuple[str, int]:
    version = case.version
    definition = workflow_of(version).definition
    now = clock().now()
    actions = available_actions(db_session(), clock(), case, current_user.actor)
    titles = _titles()
    offered = {t.name for t in actions}
    # The engine's message goes into the open form when it is about what was typed there; else on top.
    in_form = open_action in offered and not stale
    action_forms = []
    for transition in actions:
        opened = transition.name == open_action
        current = {i.name: forms.as_form_value(i.spec, case.data.get(i.name)) for i in transition.inputs if i.to_case}
        form = ActionForm(
            transition,
            forms.build(list(transition.inputs), transition.name, (values or current) if opened else current,
                        (field_errors or {}) if opened else {}, titles),
            open=opened, comment=comment if opened else "", message=message if opened and in_form else None,
        )
        if opened and field_errors:
            placed = {f.name for f in form.fields}
            form.unplaced = {k: v for k, v in field_errors.items() if k not in placed}
        action_forms.append(form)
    kept = None  # the form of an action that is no longer open to the user, with what they typed in it
    if open_action and open_action not in offered and values is not None:
        asked = definition.transitions.get(open_action)
        if asked is not None:
            kept = ActionForm(
                asked, forms.build(list(asked.inputs), "kept-" + asked.name, values, {}, titles),
                available=False, open=True, comment=comment,
            )
    history = db_session().scalars(
        select(HistoryEntry).where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)
    ).all()
    path = [(h.from_state, h.action, h.to_state) for h in history]
    targets = _ref_targets(definition, case)
    data = [
        present.shown(spec, name, case.data.get(name))
        for name, spec in definition.fields.items() if case.data.get(name) not in (None, "")
    ]
    timers = present.timer_views(definition, list(case.timers), now)
    return render_template(
        "case.html", case=case, version=version, definition=definition, data=data, targets=targets,
        referenced_by=_referenced_by(case), timers=timers, overdue=any(t.status == "overdue" for t in timers),
        history=[present.entry_view(definition, h) for h in reversed(history)],
        action_forms=action_forms, kept=kept, stale=stale, message=None if in_form else message,
        diagram=present.diagram_svg(version, definition, case.state, path), titles=titles,
        **panel.context(case, desk),
    ), status


@bp.get("/cases/<int:case_id>")
def show_case(case_id: int) -> tuple[str, int]:
    return render_case(policy.visible_case(db_session(), current_user.actor, case_id))


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["GET", "POST"])
def take_action(case_id: int, action: str) -> Any:
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    definition = workflow_of(case.version).definition
    transition = definition.transitions.get(action)
    if transition is None:
        raise UnknownAction(f"no action {action!r}", f"没有操作 {action!r}")
    if request.method == "GET":
        refused = refusal(db_session(), case, transition, current_user.actor, clock())
        if refused is not None:  # the engine's reason, as advance() would give it on sending the form
            return render_case(case, message=refused.messages[lang()], status=STATUS.get(refused.error().code, 422))
        return render_case(case, open_action=action)
    inputs = list(transition.inputs)
    values = forms.typed_values(inputs, request.form)
    comment = request.form.get("comment", "")
    expected = request.form.get("expected_version", type=int)
    try:
        advance(
            db_session(), clock(), case, action, current_user.actor, forms.decode(inputs, request.form),
            comment.strip() or None, expected,
        )
        db_session().commit()
    except NotFound:
        raise
    except WorkflowError as exc:
        db_session().rollback()
        message, field_errors = _messages(exc, _labels(inputs))
        stale = isinstance(exc, StaleCase)
        if stale:
            message = _("Someone else changed this case while you were filling in the form. This is the case as it "
                        "is now; what you typed is kept below.") + " " + message
        fresh = policy.visible_case(db_session(), current_user.actor, case_id)
        return render_case(fresh, open_action=action, values=values, field_errors=field_errors, comment=comment,
                           message=message, stale=stale or isinstance(exc, WrongState),
                           status=STATUS.get(exc.code, 422))
    flash(_("Done: %(action)s.", action=label(transition.label, action)), "success")
    return redirect(url_for("ui.show_case", case_id=case.id))


# -- notifications --------------------------------------------------------------------------------


@bp.post("/notifications/<id:notification_id>/read")  # id: a number beyond the column is a 404
def read_notification(notification_id: int) -> Response:
    alerts.mark_read(db_session(), clock(), current_user.name, notification_id)
    db_session().commit()
    case_id = request.form.get("case_id", type=int)
    target = url_for("ui.show_case", case_id=case_id) if case_id else url_for("ui.inbox")
    return redirect(safe_next(request.form.get("next"), target))
