"""The desk API's request and response bodies (one contract: validation, answers and OpenAPI from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from workflow.engine import InvalidInputs
from workflow.engine.notes import MAX_NOTE, check_text

from ..contract import Answer, Contract


class SetAssignee(Contract):
    assignee: str | None = Field(default=None, max_length=80, description="a user name; null unassigns the case")


class AssigneeOut(Answer):
    case_id: int
    assignee: str | None


def _note(raw: object) -> None:
    """The engine's own words for an empty or overlong note: a 422 on the body's `text`."""
    if isinstance(raw, str):
        try:
            check_text(raw)
        except InvalidInputs as exc:
            raise InvalidInputs(exc.messages["en"], exc.messages["zh"], {"text": next(iter(exc.fields.values()))}) \
                from None


class NewNote(Contract):
    text: str = Field(min_length=1, max_length=MAX_NOTE, description="the note; @name mentions a colleague")
    refusals = {"text": _note}


class NoteOut(Answer):
    case_id: int
    seq: int
    at: datetime
    actor: str
    text: str | None
    mentions: list[str]


class AttachmentOut(Answer):
    sha256: str
    name: str
    type: str
    size: int
    actor: str
    at: datetime


def _binary(schema: dict[str, Any]) -> None:
    """A file part, as OpenAPI names one: binary text, no default."""
    schema.pop("default", None)
    schema.update(type="string", format="binary")


class NewAttachment(Contract):
    """A multipart/form-data upload. Both parts are optional here so that every refusal (no file, too large,
    a refused type, a note too long) is the engine's, in the one error body, next to the part it names."""

    file: Any = Field(default=None, json_schema_extra=_binary,
                      description="the file; at most ATTACHMENT_MAX_BYTES, of a type in ATTACHMENT_TYPES")
    note: str | None = Field(default=None, description=f"what the file is (at most {MAX_NOTE} characters)")


class AttachmentList(Answer):
    items: list[AttachmentOut]
