"""The process owners' workbench: the workflows area, the draft editor, the diff before publishing,
publishing and the migration of running cases (and, in users_ui.py, the users' administration).

Every answer about who may do what comes from the engine's policy, every change from the engine's drafts
and migration functions; the pages only show what those return. Without JavaScript every page is a plain
form; web/static/workbench.js adds the code editor, its checks as one types and the live diagram preview.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from workflow import bpmn
from workflow.appraisal import templates as sheet_templates
from workflow.definitions import Definition
from workflow.definitions.scoresheet import ScoreSheet
from workflow.engine import NotFound, WorkflowError, latest_version, latest_versions, policy, workflow_of
from workflow.engine import drafts as engine_drafts
from workflow.models import WorkflowVersion

from ..extensions import db_session
from ..ui import nav
from ..ui.blueprint import bp
from ..ui.present import N_, clock, label, lang, when
from . import present
from . import scoresheets_ui as scoresheets_ui  # noqa: F401  (registers the templates' pages)
from . import users_ui as users_ui  # noqa: F401  (registers the users' pages)

# The HTTP status of a page that shows an engine refusal, by its code; any other refusal is a 422.
STATUS = {"not_found": 404, "wrong_state": 409, "stale_version": 409, "role_refused": 403, "four_eyes": 403}
MAX_KEY = 80
MAX_UPLOAD = engine_drafts.MAX_DRAFT_CHARS * 4  # bytes: the longest draft, every character up to 4 bytes


DRAFT_STATUS = {"open": N_("open"), "pending": N_("waiting for approval"), "published": N_("published")}
OUTCOMES = {
    "migrate": N_("will move"), "migrated": N_("moved"), "invalid": N_("stays: its data does not fit the new version"),
    "stale": N_("changed meanwhile: run again"),
}
TIMER_ACTIONS = {"keep": N_("kept"), "retime": N_("re-timed"), "stop": N_("stopped"), "start": N_("started")}


def _words(table: dict[str, str]) -> Any:
    return lambda key: _(table[key]) if key in table else key


def _as_time(value: Any) -> str:
    """A moment of the engine's answers (a datetime, or its ISO text in JSON) as local time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    return when(value) if isinstance(value, datetime) else ""


def _render(template: str, **context: Any) -> str:
    return render_template(template, draft_status=_words(DRAFT_STATUS), outcome_label=_words(OUTCOMES),
                           timer_action=_words(TIMER_ACTIONS), as_time=_as_time, **context)


def _actor() -> policy.Actor:
    actor: policy.Actor = current_user.actor
    return actor


def _status(exc: WorkflowError) -> int:
    return STATUS.get(exc.code, 422)


def _refused(exc: WorkflowError) -> str:
    """The engine's message and its per-field reasons, in the reader's language, as one line."""
    text = exc.messages[lang()]
    details = "; ".join(f"{name}: {reason[lang()]}" for name, reason in exc.fields.items())
    return f"{text} ({details})" if details and details not in text else text


def _viewable() -> list[tuple[WorkflowVersion, Definition]]:
    out = []
    for version in latest_versions(db_session()):
        definition = workflow_of(version).definition
        if policy.may_view_workflow(_actor(), definition):
            out.append((version, definition))
    return out


def _sees_workbench() -> bool:
    return policy.may_create_workflow(_actor()) or bool(_viewable())


nav.add("ui.workflows", N_("Workflows"), _sees_workbench, prefix="ui.workflow")


def _workflow(key: str) -> tuple[WorkflowVersion | None, Definition | None]:
    """The latest version of `key` and its definition, once the user may see it; 404 for anyone who may not,
    and for a key nobody has published unless the user may start it (a process owner's new workflow)."""
    if len(key) > MAX_KEY:
        abort(404)
    version = latest_version(db_session(), key)
    if version is None:
        if not policy.may_create_workflow(_actor()):
            abort(404)
        return None, None
    definition = workflow_of(version).definition
    if not policy.may_view_workflow(_actor(), definition):
        abort(404)
    return version, definition


def _owner_of(definition: Definition | None) -> None:
    if not policy.is_process_owner(_actor(), definition):
        abort(403)


# -- the workflows area ----------------------------------------------------------------------------


@bp.get("/workflows")
def workflows() -> str:
    shown = _viewable()
    if not shown and not policy.may_create_workflow(_actor()):
        abort(403)
    owned = {v.key for v, d in shown if policy.is_process_owner(_actor(), d)}
    return _render("workbench/workflows.html", workflows=shown, owned=owned,
                           may_create=policy.may_create_workflow(_actor()), max_key=MAX_KEY)


def _templates(definition: Definition) -> list[ScoreSheet]:
    """The score-sheet templates a workflow scores against, each at its latest version, for a workflow with a
    score sheet."""
    if not any(spec.type == "scoresheet" for spec in definition.fields.values()):
        return []
    found = (sheet_templates.resolve(db_session(), key)[0] for key in sheet_templates.template_keys(db_session()))
    return [sheet for sheet in found if sheet is not None]


def _chosen_version(key: str, latest: WorkflowVersion) -> WorkflowVersion:
    wanted = request.args.get("version", type=int)
    if wanted is None or wanted == latest.version:
        return latest
    for version in engine_drafts.versions_of(db_session(), key):
        if version.version == wanted:
            return version
    abort(404)


@bp.get("/workflows/<key>")
def workflow_page(key: str) -> str:
    latest, definition = _workflow(key)
    owner = policy.is_process_owner(_actor(), definition)
    drafts = engine_drafts.list_drafts(db_session(), _actor(), key) if owner else []
    if latest is None or definition is None:  # a new workflow: its drafts only
        return _render("workbench/new_workflow.html", key=key, drafts=drafts)
    version = _chosen_version(key, latest)
    shown = workflow_of(version).definition
    return _render(
        "workbench/workflow.html", key=key, version=version, latest=latest, definition=shown,
        versions=engine_drafts.versions_of(db_session(), key), rules=present.rules(shown),
        diagram=present.plain_svg(shown, lang()), templates=_templates(shown), owner=owner, drafts=drafts,
    )


@bp.get("/workflows/<key>/bpmn")
def download_bpmn(key: str) -> Response:
    """A version as BPMN 2.0 XML, for another BPM tool; the same file as the API's, for whoever reads the rules."""
    latest, definition = _workflow(key)
    if latest is None:
        abort(404)
    version = _chosen_version(key, latest)
    return Response(bpmn.to_bpmn(workflow_of(version).definition, version.version), mimetype="application/xml",
                    headers={"Content-Disposition": f"attachment; filename={key}-v{version.version}.bpmn"})


@bp.get("/workflows/<key>/bpmn/view")
def view_bpmn(key: str) -> str:
    """A version's BPMN export drawn by the vendored bpmn-js viewer, which fetches the file above (same policy)."""
    latest, definition = _workflow(key)
    if latest is None or definition is None:
        abort(404)
    version = _chosen_version(key, latest)
    return _render("workbench/bpmn.html", key=key, version=version, definition=workflow_of(version).definition)


@bp.post("/workflows/new")
def new_workflow() -> Response:
    if not policy.may_create_workflow(_actor()):
        abort(403)
    key = request.form.get("key", "").strip()
    if len(key) > MAX_KEY or latest_version(db_session(), key) is not None:
        flash(_("A workflow with this key exists already: start a draft on its page."), "error")
        return redirect(url_for("ui.workflows"))
    return _create_draft(key, None)


def _create_draft(key: str, source: str | None) -> Response:
    try:
        draft = engine_drafts.create_draft(db_session(), _actor(), key, clock().now(), source)
        db_session().commit()
    except NotFound:
        db_session().rollback()
        flash(_("A workflow key is a lower-case name: letters, digits and _, starting with a letter."), "error")
        return redirect(url_for("ui.workflows"))
    except WorkflowError as exc:
        db_session().rollback()
        if exc.code == "role_refused":
            abort(403)
        flash(_refused(exc), "error")
        return redirect(url_for("ui.workflow_page", key=key))
    flash(_("Draft %(id)d started.", id=draft.id), "success")
    return redirect(url_for("ui.edit_draft", key=key, draft_id=draft.id))


def _uploaded_text() -> str | None:
    """The uploaded YAML file's text; None when no file was sent. Refuses what is not UTF-8 text."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise WorkflowError("The file is too large for a definition", "文件过大，不是流程定义",
                            {"file": {"en": "too large", "zh": "过大"}})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorkflowError("The file is not UTF-8 text", "文件不是 UTF-8 文本",
                            {"file": {"en": "not UTF-8 text", "zh": "不是 UTF-8 文本"}}) from None


@bp.post("/workflows/<key>/drafts")
def start_draft(key: str) -> Response:
    """A new draft of `key`: a copy of its latest version, or the uploaded file's text."""
    definition = _workflow(key)[1]
    _owner_of(definition)
    try:
        source = _uploaded_text()
    except WorkflowError as exc:
        flash(_refused(exc), "error")
        return redirect(url_for("ui.workflow_page", key=key))
    return _create_draft(key, source)


# -- the editor ------------------------------------------------------------------------------------


def _draft(key: str, draft_id: int) -> tuple[WorkflowVersion | None, Definition | None, engine_drafts.Draft]:
    latest, definition = _workflow(key)
    _owner_of(definition)
    return latest, definition, engine_drafts.get_draft(db_session(), _actor(), key, draft_id)


_preview_cache: OrderedDict[tuple[str, str], Markup] = OrderedDict()
_preview_lock = threading.Lock()


def _preview(definition: Definition, source: str) -> Markup:
    """The draft's diagram; kept for the last texts checked, since the editor asks again as one types."""
    cache_key = (hashlib.sha256(source.encode("utf-8")).hexdigest(), lang())
    with _preview_lock:
        if cache_key in _preview_cache:
            _preview_cache.move_to_end(cache_key)
            return _preview_cache[cache_key]
    svg = present.plain_svg(definition, lang())
    with _preview_lock:
        _preview_cache[cache_key] = svg
        while len(_preview_cache) > 64:
            _preview_cache.popitem(last=False)
    return svg


def _check(key: str, source: str) -> tuple[list[dict[str, Any]], Markup | None]:
    definition, problems = engine_drafts.check_source(key, source)
    preview = _preview(definition, source) if definition is not None and not problems else None
    return problems, preview


def _editor(key: str, draft: engine_drafts.Draft, source: str, status: int = 200,
            message: str | None = None) -> tuple[str, int]:
    problems, preview = _check(key, source)
    return _render(
        "workbench/editor.html", key=key, draft=draft, source=source, problems=problems, preview=preview,
        message=message, max_chars=engine_drafts.MAX_DRAFT_CHARS, editable=draft.status == engine_drafts.OPEN,
    ), status


@bp.get("/workflows/<key>/drafts/<id:draft_id>")
def edit_draft(key: str, draft_id: int) -> tuple[str, int]:
    draft = _draft(key, draft_id)[2]
    return _editor(key, draft, draft.source)


@bp.post("/workflows/<key>/drafts/<id:draft_id>")
def save_draft(key: str, draft_id: int) -> Any:
    """Validate (nothing saved) or save the text of the form; the editor's two buttons."""
    draft = _draft(key, draft_id)[2]
    source = request.form.get("source", "").replace("\r\n", "\n")
    if request.form.get("do") != "save":
        return _editor(key, draft, source)
    try:
        engine_drafts.update_draft(db_session(), _actor(), key, draft_id, source, clock().now())
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        return _editor(key, engine_drafts.get_draft(db_session(), _actor(), key, draft_id), source,
                       _status(exc), _refused(exc))
    flash(_("Draft saved."), "success")
    return redirect(url_for("ui.edit_draft", key=key, draft_id=draft_id))


@bp.post("/workflows/<key>/drafts/<id:draft_id>/check")
def check_draft(key: str, draft_id: int) -> Response:
    """The editor's check as one types: the problems at their lines and the diagram, as JSON. Saves nothing."""
    _draft(key, draft_id)
    source = request.form.get("source", "").replace("\r\n", "\n")
    problems, preview = _check(key, source)
    return jsonify({"problems": problems, "svg": str(preview) if preview is not None else None})


# -- the diff, publishing --------------------------------------------------------------------------


@bp.get("/workflows/<key>/drafts/<id:draft_id>/diff")
def draft_diff(key: str, draft_id: int) -> tuple[str, int]:
    latest, _definition, draft = _draft(key, draft_id)
    against = request.args.get("against", type=int)
    try:
        diff = engine_drafts.diff_draft(db_session(), clock(), _actor(), key, draft_id, against)
    except NotFound:
        abort(404)
    versions = engine_drafts.versions_of(db_session(), key)
    base = next((v for v in versions if v.version == diff["against"]), None)
    new, problems = engine_drafts.check_source(key, draft.source)
    old = workflow_of(base).definition if base is not None else None
    picture = (present.diff_svg(old, new, diff["structure"], lang())
               if new is not None and diff["structure"] is not None else None)
    return _render(
        "workbench/diff.html", key=key, draft=draft, diff=diff, lines=present.diff_lines(diff["yaml"]),
        picture=picture, problems=problems, versions=versions, latest=latest, old=old, new=new,
        shift_words=present.shift_words, four_eyes=_four_eyes(), max_reason=engine_drafts.MAX_REASON,
        state_label=lambda d, s: label(d.states[s].label, s) if d is not None and s in d.states else s,
        timer_labels={t.name: label(t.label, t.name) for d in (old, new) if d is not None for t in d.timers},
    ), 200


def _four_eyes() -> bool:
    return bool(current_app.config.get("WORKBENCH_FOUR_EYES", False))


@bp.post("/workflows/<key>/drafts/<id:draft_id>/publish")
def publish_draft(key: str, draft_id: int) -> Response:
    _draft(key, draft_id)
    base = engine_drafts.get_draft(db_session(), _actor(), key, draft_id).base_version
    try:
        outcome = engine_drafts.publish_draft(db_session(), _actor(), key, draft_id, request.form.get("reason", ""),
                                              clock().now(), four_eyes=_four_eyes())
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(_refused(exc), "error")
        return redirect(url_for("ui.draft_diff", key=key, draft_id=draft_id))
    return _after_publishing(key, draft_id, outcome, base)


@bp.post("/workflows/<key>/drafts/<id:draft_id>/approve")
def approve_draft(key: str, draft_id: int) -> Response:
    _draft(key, draft_id)
    base = engine_drafts.get_draft(db_session(), _actor(), key, draft_id).base_version
    try:
        outcome = engine_drafts.approve_draft(db_session(), _actor(), key, draft_id, clock().now())
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(_refused(exc), "error")
        return redirect(url_for("ui.draft_diff", key=key, draft_id=draft_id))
    return _after_publishing(key, draft_id, outcome, base)


def _after_publishing(key: str, draft_id: int, outcome: dict[str, Any], base: int | None) -> Response:
    if outcome["status"] != "published":
        flash(_("Submitted: a second process owner must approve the publication."), "info")
        return redirect(url_for("ui.draft_diff", key=key, draft_id=draft_id))
    flash(_("Version %(version)d published.", version=outcome["version"]), "success")
    if base is None:
        return redirect(url_for("ui.workflow_page", key=key))
    return redirect(url_for("ui.migrate_cases", key=key, from_version=base, to_version=outcome["version"]))


# -- migrating running cases -----------------------------------------------------------------------


def _version_numbers(key: str) -> list[int]:
    return [v.version for v in engine_drafts.versions_of(db_session(), key)]


def _mapping_rows(key: str, source: int, target: int, chosen: dict[str, str]) -> list[dict[str, Any]]:
    """One row per state of the older version: its label and the states of the newer one to choose from."""
    found = {v.version: v for v in engine_drafts.versions_of(db_session(), key)}
    if source not in found or target not in found:
        return []
    old, new = workflow_of(found[source]).definition, workflow_of(found[target]).definition
    choices = [(s.name, label(s.label, s.name)) for s in new.states.values()]
    return [{"name": s.name, "label": label(s.label, s.name), "choices": choices,
             "chosen": chosen.get(s.name, s.name if s.name in new.states else "")}
            for s in old.states.values()]


def _state_map(form: Any) -> dict[str, str]:
    return {name[4:]: value for name, value in form.items() if name.startswith("map-") and value}


@bp.route("/workflows/<key>/migrate", methods=["GET", "POST"])
def migrate_cases(key: str) -> tuple[str, int]:
    from workflow.engine import migration  # the migration module is the engine's; asked only on this page

    definition = _workflow(key)[1]
    _owner_of(definition)
    numbers = _version_numbers(key)
    values = request.form if request.method == "POST" else request.args
    source = values.get("from_version", type=int) or (numbers[1] if len(numbers) > 1 else None)
    target = values.get("to_version", type=int) or (numbers[0] if numbers else None)
    chosen = _state_map(values)
    result, message, status = None, None, 200
    if request.method == "POST" and source is not None and target is not None:
        dry_run = request.form.get("do") != "run"
        try:
            if dry_run:
                result = migration.plan_migration(db_session(), clock(), key, source, target, chosen or None)
            else:
                result = migration.run_migration(db_session(), clock(), _actor(), key, source, target,
                                                 chosen or None)
            db_session().commit()
        except WorkflowError as exc:
            db_session().rollback()
            message, status = _refused(exc), _status(exc)
    return _render(
        "workbench/migrate.html", key=key, definition=definition, numbers=numbers, source=source, target=target,
        rows=_mapping_rows(key, source, target, chosen) if source and target else [], result=result,
        message=message,
    ), status
