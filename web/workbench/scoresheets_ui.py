"""The score-sheet templates in the workflows area: each template with its versions (who, when, why), and for
the appraisal's process owners a page to publish an edited template with a reason. With the four-eyes setting
(WORKBENCH_FOUR_EYES, as for definitions) publishing proposes the version, and the page lists the proposals
for another process owner to approve or reject.

Paths sit under /workflows/score-sheets: a workflow key never holds a hyphen, so no workflow hides them.
The rules (who may, what is valid, what a version is) are workflow/appraisal/templates.py's.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from workflow.appraisal import templates as sheet_templates
from workflow.engine import WorkflowError, policy

from ..extensions import db_session
from ..ui.blueprint import bp
from ..ui.present import clock, lang

STATUS = {"not_found": 404, "wrong_state": 409, "stale_version": 409, "role_refused": 403, "four_eyes": 403}


def _actor() -> policy.Actor:
    actor: policy.Actor = current_user.actor
    return actor


def _reader() -> None:
    if not sheet_templates.may_read(db_session(), _actor()):
        abort(404)


def _owner() -> bool:
    return sheet_templates.may_publish(db_session(), _actor())


def _four_eyes() -> bool:
    return bool(current_app.config.get("WORKBENCH_FOUR_EYES", False))


def _known(key: str) -> None:
    try:
        sheet_templates.known(db_session(), key)
    except WorkflowError:
        abort(404)


def _refused(exc: WorkflowError) -> str:
    text = exc.messages[lang()]
    details = "; ".join(f"{name}: {reason[lang()]}" for name, reason in exc.fields.items())
    return f"{text} ({details})" if details and details not in text else text


@bp.get("/workflows/score-sheets")
def scoresheets() -> str:
    _reader()
    keys = sheet_templates.template_keys(db_session())
    rows = [(key, sheet_templates.versions_of(db_session(), key)) for key in keys]
    return render_template("workbench/scoresheets.html", rows=rows, owner=_owner())


def _page(key: str, source: str, number: int | None, status: int = 200, message: str | None = None,
          reason: str = "") -> tuple[str, int]:
    return render_template(
        "workbench/scoresheet.html", key=key, source=source, shown=number,
        versions=sheet_templates.versions_of(db_session(), key), owner=_owner(), message=message, reason=reason,
        problems=sheet_templates.check(key, source), max_chars=sheet_templates.MAX_SOURCE,
        max_reason=sheet_templates.MAX_REASON, four_eyes=_four_eyes(),
        proposals=sheet_templates.proposals_of(db_session(), key), me=_actor().name,
    ), status


@bp.get("/workflows/score-sheets/<key>")
def scoresheet(key: str) -> tuple[str, int]:
    _reader()
    try:
        number, source = sheet_templates.text_of(db_session(), key, request.args.get("version", type=int))
    except WorkflowError:
        abort(404)
    return _page(key, source, number)


@bp.post("/workflows/score-sheets/<key>")
def publish_scoresheet(key: str) -> Any:
    """Validate (nothing written) or publish the edited text with its reason; the page's two buttons."""
    _reader()
    _known(key)
    if not _owner():
        abort(403)
    source = request.form.get("source", "").replace("\r\n", "\n")
    reason = request.form.get("reason", "")
    if request.form.get("do") != "publish":
        return _page(key, source, None, reason=reason[: sheet_templates.MAX_REASON])
    try:
        if _four_eyes():
            proposal = sheet_templates.propose(db_session(), _actor(), key, source, reason, clock().now())
            said = _("Proposal %(id)d recorded: a second process owner must approve it.", id=proposal.id)
        else:
            version = sheet_templates.publish_edited(db_session(), _actor(), key, source, reason, clock().now())
            said = _("Version %(version)d published.", version=version.version)
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        return _page(key, source, None, STATUS.get(exc.code, 422), _refused(exc), reason[: sheet_templates.MAX_REASON])
    flash(said, "success")
    return redirect(url_for("ui.scoresheet", key=key))


def _decided(key: str, decide: Any) -> Any:
    """Run an approval or a rejection; on refusal the page again, with why and its status, nothing written."""
    _reader()
    _known(key)
    try:
        proposal = decide()
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        number, source = sheet_templates.text_of(db_session(), key)
        return _page(key, source, number, STATUS.get(exc.code, 422), _refused(exc))
    if proposal.published_version is not None:
        flash(_("Version %(version)d published.", version=proposal.published_version), "success")
    else:
        flash(_("Proposal %(id)d rejected.", id=proposal.id), "success")
    return redirect(url_for("ui.scoresheet", key=key))


@bp.post("/workflows/score-sheets/<key>/proposals/<id:proposal_id>/approval")
def approve_scoresheet(key: str, proposal_id: int) -> Any:
    return _decided(key, lambda: sheet_templates.approve(db_session(), _actor(), key, proposal_id, clock().now()))


@bp.post("/workflows/score-sheets/<key>/proposals/<id:proposal_id>/rejection")
def reject_scoresheet(key: str, proposal_id: int) -> Any:
    reason = request.form.get("reason", "")
    return _decided(key, lambda: sheet_templates.reject(db_session(), _actor(), key, proposal_id, reason,
                                                        clock().now()))


@bp.post("/workflows/score-sheets/<key>/check")
def check_scoresheet(key: str) -> Response:
    """The editor's check as one types: the problems at their lines, as JSON. Writes nothing."""
    _reader()
    _known(key)
    if not _owner():
        abort(403)
    source = request.form.get("source", "").replace("\r\n", "\n")
    return jsonify({"problems": sheet_templates.check(key, source), "svg": None})
