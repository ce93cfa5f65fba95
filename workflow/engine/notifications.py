"""In-app notifications to people, fanned out from roles, and their e-mail outbox.

A notification is written in the same transaction as whatever caused it, so a timer that fires
exactly once notifies exactly once. E-mail is sent afterwards from the outbox (`email_status =
'pending'`), so a mail server that is down delays mail but never loses a notification.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..definitions.schema import HOLDERS, SYSTEM_ROLE, Label
from ..models import Case, Notification, User, UserRole
from . import policy


def holder_roles(definition: Definition, state: str) -> set[str]:
    """The roles that may act on a case in `state`: the people a reminder goes to."""
    return {r for t in definition.transitions_from(state) for r in t.roles} - {SYSTEM_ROLE}


_KEPT = "workflow.notifications.recipients"  # Session.info: recipients by set of roles, inside recipients_kept


@contextmanager
def recipients_kept(session: Session) -> Iterator[None]:
    """Inside the block, the people holding a set of roles are read once: a timer sweep's batch, say, whose
    cases notify the same roles again and again, and which changes no user or role."""
    session.info[_KEPT] = {}
    try:
        yield
    finally:
        session.info.pop(_KEPT, None)


def recipients(session: Session, roles: Iterable[str]) -> list[User]:
    wanted = frozenset(roles)
    if not wanted:
        return []
    kept: dict[frozenset[str], list[User]] | None = session.info.get(_KEPT)
    if kept is not None and wanted in kept:
        return list(kept[wanted])
    people = list(session.scalars(
        select(User).where(User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(wanted)))).order_by(User.id)
    ))
    if kept is not None:
        kept[wanted] = people
    return list(people)


def resolve_roles(definition: Definition, case: Case, names: Iterable[str]) -> set[str]:
    roles: set[str] = set()
    for name in names:
        roles |= holder_roles(definition, case.state) if name == HOLDERS else {name}
    return roles


def notify(
    session: Session, roles: Iterable[str], *, case: Case | None, kind: str, message: Label, at: datetime,
    timer_id: int | None = None, email: bool = False, flush: bool = True,
) -> list[Notification]:
    """Write one notification per person holding any of `roles` who may see the case.

    flush=False leaves the rows to the session's next flush (a timer sweep flushes once per case).
    """
    people = recipients(session, roles)
    if case is not None:  # a role-wide message must not tell a department head of another department's sheet
        people = [u for u in people if policy.may_see(session, policy.Actor(u.name, u.roles), case)]
        people = _assignee_first(people, case, kind)
    rows = [
        Notification(
            user_id=user.id, case_id=case.id if case else None, timer_id=timer_id, kind=kind, message=message,
            created_at=at, email_status="pending" if email and user.email else "none",
        )
        for user in people
    ]
    session.add_all(rows)
    if flush:
        session.flush()
    return rows


# (choice) A warning before a deadline is for the person working the case; once it is overdue (or on any
# other notice), everyone holding the role hears of it too, so that a case is never stuck with one person.
ASSIGNEE_ONLY_KINDS = frozenset({"warning"})


def _assignee_first(people: list[User], case: Case, kind: str) -> list[User]:
    """The recipients with the case's assignee first; only the assignee for a warning, when they are one."""
    mine = [u for u in people if u.name == case.assignee]
    if not mine:
        return people
    return mine if kind in ASSIGNEE_ONLY_KINDS else mine + [u for u in people if u.name != case.assignee]


def for_user(session: Session, user_name: str, limit: int = 10, unread_only: bool = False) -> list[Notification]:
    """The user's newest notifications."""
    query = select(Notification).join(User, User.id == Notification.user_id).where(User.name == user_name)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user_name: str, notification_id: int, at: datetime) -> bool:
    """Mark one of the user's notifications read; False if it is not theirs or was read already."""
    user_id = select(User.id).where(User.name == user_name).scalar_subquery()
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=at)
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "workflow@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False


def send_pending_emails(session: Session, smtp: SmtpSettings, at: datetime, batch: int = 50) -> int:
    """Send up to `batch` pending e-mails, each claimed with a row lock so two workers never send one twice."""
    rows = session.execute(
        select(Notification, User.email)
        .join(User, User.id == Notification.user_id)
        .where(Notification.email_status == "pending")
        .order_by(Notification.id).limit(batch)
        .with_for_update(skip_locked=True, of=Notification)
    ).all()
    if not rows:
        return 0
    sent = 0
    with smtplib.SMTP(smtp.host, smtp.port, timeout=30) as server:
        if smtp.starttls:
            server.starttls()
        if smtp.username:
            server.login(smtp.username, smtp.password or "")
        for notification, address in rows:
            mail = EmailMessage()
            mail["From"], mail["To"] = smtp.sender, address
            mail["Subject"] = f"[{notification.kind}] {notification.message['zh']} / {notification.message['en']}"[:200]
            mail.set_content(f"{notification.message['zh']}\n\n{notification.message['en']}\n")
            try:
                server.send_message(mail)
                notification.email_status, notification.emailed_at = "sent", at
                sent += 1
            except smtplib.SMTPRecipientsRefused:
                notification.email_status = "failed"
    session.flush()
    return sent
