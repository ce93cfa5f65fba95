"""Notes on a case: a word to colleagues without taking a step, kept in the case's chain (kind `note`).

A note may name people with @name; each named person who may see the case is told (a notification of kind
`mention`). A name that is no user, or someone who may not see the case, is quietly not told: the note
must not reveal, to its writer, who exists or who reads what.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, HistoryEntry, Notification, User
from . import fulltext, history, policy
from .clock import Clock
from .errors import InvalidInputs, RoleRefused
from .numbering import case_name
from .users import actor_of

NOTE = "note"
MAX_NOTE = 4000  # characters: a note is a few paragraphs, not a document (attach one instead)
MAX_MENTIONS = 20
FIELD = "note"
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{1,80})")


def mentions(text: str) -> list[str]:
    """The user names a note mentions (@name), each once, in order."""
    names: list[str] = []
    for found in MENTION.findall(text):
        name = found.rstrip(".-")
        if name and name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def check_text(text: str, *, required: bool = True) -> str:
    """The note's text, stripped; InvalidInputs on the note field when empty (if required) or too long."""
    text = text.strip()
    if required and not text:
        raise _invalid("Write the note first: it is empty", "请填写备注：内容为空")
    if len(text) > MAX_NOTE:
        raise _invalid(f"A note may be at most {MAX_NOTE} characters (this one has {len(text)})",
                       f"备注最多 {MAX_NOTE} 个字符（当前 {len(text)} 个）")
    return text


def _invalid(en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {FIELD: {"en": en, "zh": zh}})


def refuse_unless_writer(session: Session, actor: policy.Actor, case: Case) -> None:
    policy.refuse_read_only(actor)
    if not policy.may_note(session, actor, case):
        raise RoleRefused("You may not write on this case", "您不能在此案件上留言")


def add_note(
    session: Session, clock: Clock, case: Case, actor: policy.Actor, text: str,
    *, action: str = NOTE, extra: dict[str, Any] | None = None, required: bool = True,
) -> HistoryEntry:
    """Append a note to the case's chain and tell the people it mentions. Flushes; the caller commits.

    `extra` goes into the row's inputs (an attachment's record), so the chain's hash covers it too.
    """
    refuse_unless_writer(session, actor, case)
    text = check_text(text, required=required)
    named = mentions(text)
    inputs: dict[str, Any] = {**(extra or {}), **({"mentions": named} if named else {})}
    entry = history.append(
        session, case, at=clock.now(), actor=actor.name, action=action, from_state=case.state,
        to_state=case.state, inputs=inputs, comment=text or None, kind=NOTE,
    )
    fulltext.index_case(session, case, comment=text, inputs=inputs)
    notify_mentioned(session, clock, case, actor, named)
    return entry


def notify_mentioned(session: Session, clock: Clock, case: Case, actor: policy.Actor, names: list[str]) -> list[str]:
    """Tell each mentioned person who may see the case (the writer aside); the names told."""
    if not names:
        return []
    name = case_name(case)
    told = []
    for user in session.scalars(select(User).where(User.name.in_(names), User.disabled_at.is_(None))):
        if user.name == actor.name or not policy.may_see(session, actor_of(user), case):
            continue
        session.add(Notification(
            user_id=user.id, case_id=case.id, kind="mention", created_at=clock.now(),
            message={"en": f"{actor.name} mentioned you on case {name['en']}",
                     "zh": f"{actor.name} 在案件 {name['zh']} 中提到了您"},
            email_status="pending" if user.email else "none",
        ))
        told.append(user.name)
    session.flush()
    return told
