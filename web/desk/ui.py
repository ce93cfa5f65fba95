"""The desk's pages and forms: assign a case, write a note, attach a file, fetch a file or its thumbnail,
the printable record, CSV export of any list, saved filters.

Every change goes through an engine operation (workflow/engine/assignment.py, notes.py, attachments.py,
search.py) and is committed once; a refusal re-renders the case page with the message next to the field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from workflow.engine import NotFound, WorkflowError, assignment, attachments, notes, policy, search
from workflow.models import Case

from .. import limits, safe_csv
from ..extensions import db_session
from ..ui import lists, present
from ..ui.blueprint import bp
from ..ui.present import clock, label, lang
from ..ui.views import STATUS, render_case
from . import files, panel, printing

# The step form may carry the files of its `file` inputs: its body may be as large as an upload's.
limits.UPLOADS.add("ui.take_action")
MAX_EXPORT = 10_000  # rows of one CSV export: a list bigger than this is narrowed by its filters first


def _refused(case: Case, exc: WorkflowError, forms: panel.DeskForms) -> tuple[str, int]:
    db_session().rollback()
    forms.errors = {name: text[lang()] for name, text in exc.fields.items()}
    forms.message = exc.messages[lang()]
    fresh = policy.visible_case(db_session(), current_user.actor, case.id)
    return render_case(fresh, status=STATUS.get(exc.code, 422), desk=forms)


@bp.post("/cases/<id:case_id>/assignee")
def assign_case(case_id: int) -> Any:
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    chosen = request.form.get("assignee", "")[:200]
    wanted = current_user.name if chosen == "@me" else chosen.strip() or None
    try:
        entry = assignment.assign(db_session(), clock(), case, current_user.actor, wanted)
        db_session().commit()
    except NotFound:
        raise
    except WorkflowError as exc:
        return _refused(case, exc, panel.DeskForms(assignee=chosen))
    if entry is not None:
        flash(_("Assigned to %(who)s.", who=wanted) if wanted else _("The case is unassigned."), "success")
    return redirect(url_for("ui.show_case", case_id=case.id, _anchor="owner"))


@bp.post("/cases/<id:case_id>/notes")
def add_note(case_id: int) -> Any:
    """A note, a file, or both (the note then describes the file)."""
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    text = request.form.get("note", "")
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            data = upload.stream.read(files.rules().max_bytes + 1)
            attachments.attach(db_session(), clock(), case, current_user.actor, upload.filename, data,
                               files.storage(), files.rules(), note=text)
        else:
            notes.add_note(db_session(), clock(), case, current_user.actor, text)
        db_session().commit()
    except NotFound:
        raise
    except WorkflowError as exc:
        return _refused(case, exc, panel.DeskForms(note=text[: notes.MAX_NOTE + 100]))
    flash(_("Saved to the case's history."), "success")
    return redirect(url_for("ui.show_case", case_id=case.id, _anchor="notes"))


def _file(case_id: int, digest: str) -> tuple[dict[str, Any], bytes]:
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    return attachments.read(db_session(), case, digest, files.storage())


@bp.get("/cases/<id:case_id>/files/<digest>")
def download_file(case_id: int, digest: str) -> Response:
    record, data = _file(case_id, digest)
    # Always a download, never shown by the browser as a page of this site; the type is the one sniffed
    # on upload, and nosniff stops the browser from guessing another.
    return Response(data, mimetype=record["type"], headers={
        "Content-Disposition": safe_csv.attachment(record["name"]),
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600",
    })


@bp.get("/cases/<id:case_id>/files/<digest>/thumbnail.png")
def file_thumbnail(case_id: int, digest: str) -> Response:
    record, data = _file(case_id, digest)
    small = files.thumbnail(data) if record["type"] in attachments.IMAGES else None
    if small is None:
        raise NotFound("no thumbnail", "没有缩略图")
    return Response(small, mimetype="image/png", headers={
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"})


@bp.get("/cases/<id:case_id>/print")
def print_case(case_id: int) -> str:
    case = policy.visible_case(db_session(), current_user.actor, case_id)
    return render_template("desk/print.html", record=printing.record(db_session(), case), case=case)


# -- lists: CSV export and saved filters -------------------------------------------------------------


def _scope() -> str:
    scope = request.args.get("scope", request.form.get("scope", "all"))
    return scope if scope in search.SCOPES else "all"


@bp.get("/cases/export.csv")
def export_cases() -> Response:
    """The list as it is filtered on screen (every page of it, up to MAX_EXPORT rows), as CSV."""
    scope = _scope()
    filters = lists.Filters.from_args(request.args)
    rows = lists.export_rows(db_session(), clock(), current_user.actor, filters, scope, MAX_EXPORT)
    header = [_("Case"), _("Workflow"), _("State"), _("Summary"), _("Assigned to"), _("Due"), _("Opened"),
              _("Last change")]
    body = [[present.case_name(r.case), label(r.definition.title, r.case.workflow_key),
             label(r.definition.states[r.case.state].label, r.case.state) if r.case.state in r.definition.states
             else r.case.state, r.headline, r.case.assignee, present.when(r.due_at),
             present.when(r.case.created_at), present.when(r.case.updated_at)] for r in rows]
    name = f"cases-{scope}-{clock().local(clock().now()):%Y%m%d-%H%M}.csv"
    return safe_csv.download([header, *body], name)


def _list_url(scope: str, query: str = "") -> str:
    base = url_for("ui.inbox" if scope == "inbox" else "ui.all_cases")
    return f"{base}?{query}" if query else base


@bp.post("/filters")
def save_filter() -> WerkzeugResponse:
    scope = _scope()
    # Only the list's own filter arguments are kept: the saved query is the list's, nothing else.
    filters = lists.Filters.from_args(request.form)
    query = urlencode(filters.args(page=""))
    try:
        search.save_filter(db_session(), clock(), current_user.name, request.form.get("name", "")[:200], scope,
                           query)
        db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        flash(next(iter(exc.fields.values()), exc.messages)[lang()], "error")
    else:
        flash(_("Filter saved."), "success")
    return redirect(_list_url(scope, query))


@bp.post("/filters/<id:filter_id>/delete")
def delete_filter(filter_id: int) -> WerkzeugResponse:
    search.delete_filter(db_session(), current_user.name, filter_id)
    db_session().commit()
    return redirect(_list_url(_scope()))


@bp.app_context_processor
def _desk_globals() -> dict[str, Any]:
    return {"print_url": lambda case: url_for("ui.print_case", case_id=case.id), "file_record": panel.file_record}

