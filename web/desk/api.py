"""The desk's JSON API: a case's assignee, its notes and its files.

A file is uploaded to the case (multipart/form-data, recorded in its history like the web form's); a step's
`file` input then names it by its sha256 in the step's JSON (web/api.py, docs/definitions.md "File inputs")."""

from __future__ import annotations

from flask import g, request

from workflow.engine import assignment, attachments, notes, policy

from .. import limits
from ..api import bp
from ..contract import operation
from ..extensions import clock, db_session
from . import files, panel
from .models import AssigneeOut, AttachmentList, AttachmentOut, NewAttachment, NewNote, NoteOut, SetAssignee

# The upload's body may carry a file of ATTACHMENT_MAX_BYTES, beyond the API's MAX_CONTENT_LENGTH.
limits.UPLOADS.add("api.upload_attachment")


@bp.put("/cases/<id:case_id>/assignee")
@operation(answer=AssigneeOut, body=SetAssignee, errors=(403, 404, 409, 422))
def set_assignee(case_id: int, json: SetAssignee) -> AssigneeOut:
    """Assign the case to a person who works its step, or unassign it (null)"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    assignment.assign(db_session(), clock(), case, g.actor, json.assignee)
    db_session().commit()
    return AssigneeOut(case_id=case.id, assignee=case.assignee)


@bp.post("/cases/<id:case_id>/notes")
@operation(answer=NoteOut, status=201, body=NewNote, errors=(403, 404, 409, 422))
def add_note(case_id: int, json: NewNote) -> tuple[NoteOut, int]:
    """Write a note on the case (kept in its history); mentioned people who may see the case are told"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    entry = notes.add_note(db_session(), clock(), case, g.actor, json.text)
    db_session().commit()
    mentioned = entry.inputs.get("mentions", []) if isinstance(entry.inputs, dict) else []
    return NoteOut(case_id=case.id, seq=entry.seq, at=entry.at, actor=entry.actor, text=entry.comment,
                   mentions=list(mentioned)), 201


@bp.get("/cases/<id:case_id>/attachments")
@operation(answer=AttachmentList, errors=(404,))
def list_attachments(case_id: int) -> AttachmentList:
    """The files recorded on the case (download them from the web UI, signed in)"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    return AttachmentList(items=[AttachmentOut(sha256=f.sha256, name=f.name, type=f.type, size=f.size, actor=f.actor,
                                               at=f.at) for f in panel.files(case)])


@bp.post("/cases/<id:case_id>/attachments")
@operation(answer=AttachmentOut, status=201, form=NewAttachment, errors=(403, 404, 409, 422))
def upload_attachment(case_id: int, form: NewAttachment) -> tuple[AttachmentOut, int]:
    """Attach a file to the case (multipart/form-data: `file`, optional `note`); a step's `file` input names it
    by the sha256 answered here"""
    case = policy.visible_case(db_session(), g.actor, case_id)
    upload = request.files.get("file")
    rules = files.rules()
    data = upload.stream.read(rules.max_bytes + 1) if upload is not None else b""
    name = (upload.filename or "") if upload is not None else ""
    entry = attachments.attach(db_session(), clock(), case, g.actor, name, data, files.storage(), rules,
                               note=request.form.get("note", ""))
    db_session().commit()
    record = attachments.record_of(entry) or {}
    return AttachmentOut(sha256=record["sha256"], name=record["name"], type=record["type"], size=record["size"],
                         actor=entry.actor, at=entry.at), 201
