"""In-app notifications to people, fanned out from roles, and their e-mail outbox.

A notification is written in the same transaction as whatever caused it, so a timer that fires
exactly once notifies exactly once. E-mail is sent afterwards from the outbox (`email_status =
'pending'`), so a mail server that is down delays mail but never loses a notification.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session, joinedload

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
    return list(keep_recipients(session, [wanted])[wanted]) if wanted else []


def keep_recipients(session: Session, role_sets: Iterable[frozenset[str]]) -> dict[frozenset[str], list[User]]:
    """The people of each of `role_sets`, those not kept yet read in one statement, roles and all.

    Inside `recipients_kept`, what is read is kept for the block; outside it, only handed back.
    """
    kept: dict[frozenset[str], list[User]] = session.info.get(_KEPT, {})
    missing = {roles for roles in role_sets if roles and roles not in kept}
    if missing:
        wanted = frozenset().union(*missing)
        # Each user's role rows joined in (all of them: may_see asks for every role), where `recipients`
        # would read them with a second statement.
        people = session.scalars(
            select(User).where(User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(wanted))))
            .options(joinedload(User.role_rows)).order_by(User.id)
        ).unique().all()
        for roles in missing:
            kept[roles] = [user for user in people if user.roles & roles]
    return kept


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

    flush=False leaves the rows to the session's next flush (a move's, at its COMMIT). A timer sweep writes
    its batch's with `notify_many`.
    """
    people = recipients(session, roles)
    if case is not None:
        people = _addressees(session, people, case, kind)
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


def _addressees(session: Session, people: list[User], case: Case, kind: str) -> list[User]:
    # A role-wide message must not tell a department head of another department's sheet.
    people = [u for u in people if policy.may_see(session, policy.Actor(u.name, u.roles), case)]
    return _assignee_first(people, case, kind)


@dataclass(frozen=True)
class Pending:
    """A notification to the people of `roles` about `case`, to be written by `notify_many`."""

    roles: frozenset[str]
    case: Case
    kind: str
    message: Label
    at: datetime
    timer_id: int | None
    email: bool


_INSERT = insert(cast(Table, Notification.__table__))


def notify_many(session: Session, pending: Sequence[Pending]) -> int:
    """Write every notification of `pending`, as `notify` writes each, with two statements in all.

    The people of every set of roles are read together (or taken from `recipients_kept`), and the rows
    go in by one executemany, in `pending`'s order, without ORM objects: a timer sweep's batch, which
    reads none of them back. The number of rows written.
    """
    kept = keep_recipients(session, (p.roles for p in pending))
    rows: list[dict[str, Any]] = []
    for p in pending:
        people = _addressees(session, kept[p.roles], p.case, p.kind) if p.roles else []
        rows += [
            {"user_id": user.id, "case_id": p.case.id, "timer_id": p.timer_id, "kind": p.kind, "message": p.message,
             "created_at": p.at, "email_status": "pending" if p.email and user.email else "none"}
            for user in people
        ]
    if rows:
        session.connection().execute(_INSERT, rows)
    return len(rows)


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
