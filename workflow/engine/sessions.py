"""Sign-in sessions of the web UI, kept on the server.

Why records and not a per-user session version: a version number in the cookie can only end every
session of a user at once, so signing out on one computer would sign the user out everywhere. A row
per sign-in ends exactly the session that signs out, still lets a new password or disabling the user
end all of theirs, and shows when each was last used. The cookie carries a random id (32 bytes); only
its SHA-256 digest is stored, so a copy of the table opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from ..models import User, UserSession

# A session's last use is written at most this often, so that reading pages does not write on every click.
LAST_SEEN_PRECISION = timedelta(minutes=5)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(session: Session, user: User, now: datetime) -> str:
    """Record a new sign-in of `user` and return its random id, for the cookie alone."""
    session_id = secrets.token_urlsafe(32)
    session.add(UserSession(digest=_digest(session_id), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return session_id


def end_session(session: Session, session_id: str, now: datetime) -> None:
    """End the session named by `session_id` for good: its cookie opens nothing from now on."""
    session.execute(
        update(UserSession)
        .where(UserSession.digest == _digest(session_id), UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_all_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user (new password, disabled); returns how many were open."""
    result = session.execute(
        update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None)).values(ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def user_of_session(session: Session, session_id: str, now: datetime) -> User | None:
    """The enabled user of an open session, else None. One query, nothing cached.

    Sets the session's `last_seen_at` when it is older than LAST_SEEN_PRECISION, which leaves the
    ORM session dirty: the caller commits it.
    """
    row = session.execute(
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .options(joinedload(User.role_rows))
        .where(UserSession.digest == _digest(session_id), UserSession.ended_at.is_(None), User.disabled_at.is_(None))
        # Fresh even in a session that holds the user already (sessions are not expired on commit): roles
        # taken away count from the next request.
        .execution_options(populate_existing=True)
    ).unique().first()
    if row is None:
        return None
    user, found = row
    if found.last_seen_at <= now - LAST_SEEN_PRECISION:
        found.last_seen_at = now
    return user
