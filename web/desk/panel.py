"""What the case page shows of the desk: who works the case, who may be assigned it, its files, and the
forms to assign, write a note and attach a file (with what was typed and the messages, after a refusal)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask_login import current_user

from workflow.engine import assignment, attachments, notes, policy
from workflow.models import Case

from ..extensions import db_session


@dataclass
class DeskForms:
    """What was typed into the desk's forms on the case page, and the messages by field, after a refusal."""

    errors: dict[str, str] = field(default_factory=dict)
    note: str = ""
    assignee: str = ""
    message: str | None = None


@dataclass
class FileView:
    sha256: str
    name: str
    type: str
    size: int
    actor: str
    at: Any
    comment: str | None

    @property
    def image(self) -> bool:
        return self.type in attachments.IMAGES


def file_record(value: Any) -> dict[str, Any] | None:
    """The file a `file` input recorded, from its stored value or from the text the history shows of it."""
    if isinstance(value, str) and value.startswith("{") and len(value) < 2000:
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if attachments.is_record(value) else None


def files(case: Case) -> list[FileView]:
    return [FileView(r["sha256"], r["name"], r["type"], int(r["size"]), e.actor, e.at, e.comment)
            for e, r in attachments.attachments_of(db_session(), case)]


def context(case: Case, forms: DeskForms | None = None) -> dict[str, Any]:
    session, actor = db_session(), current_user.actor
    may_assign = policy.may_assign(session, actor, case)
    candidates = assignment.candidates(session, case) if may_assign else []
    return {
        "desk": forms or DeskForms(),
        "may_assign": may_assign,
        "may_take": may_assign and case.assignee != actor.name and policy.may_work(session, actor, case),
        "candidates": [(u.name, u.display_name or u.name) for u in candidates],
        "may_note": policy.may_note(session, actor, case),
        "files": files(case),
        "max_note": notes.MAX_NOTE,
    }
