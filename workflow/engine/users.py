"""People and their roles. Passwords are stored as scrypt hashes, API tokens as SHA-256 digests.

A token is 32 random bytes, so a plain digest is enough to make a stolen table useless and still
lets a request find its user through the unique index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions.schema import SYSTEM_ROLE
from ..models import User, UserRole
from .errors import RoleRefused, WorkflowError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class Actor:
    """Who is acting, with the roles they hold at that moment."""

    name: str
    roles: frozenset[str]


SYSTEM = Actor(SYSTEM_ROLE, frozenset({SYSTEM_ROLE}))
# PROCESSES glossary: an auditor reads everything and changes nothing, whatever other roles they hold.
READ_ONLY_ROLES = frozenset({"auditor"})


def refuse_read_only(actor: Actor) -> None:
    """Raise RoleRefused for an actor whose roles make them a reader only."""
    if actor.roles & READ_ONLY_ROLES:
        raise RoleRefused("Auditors read everything and change nothing", "审计员只能查看，不能更改")


def actor_of(user: User) -> Actor:
    return Actor(user.name, user.roles)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(stored: str | None, password: str) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, name: str, roles: list[str], now: datetime, password: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create a user with roles."""
    if SYSTEM_ROLE in roles or name == SYSTEM_ROLE:
        raise WorkflowError("'system' is reserved for the timer runtime", "'system' 保留给计时器使用")
    if session.scalar(select(User).where(User.name == name)):
        raise WorkflowError(f"user {name!r} already exists", f"用户 {name!r} 已存在")
    user = User(
        name=name, display_name=display_name, created_at=now,
        password_hash=hash_password(password) if password else None,
        role_rows=[UserRole(role=r) for r in sorted(set(roles))],
    )
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, user: User) -> str:
    """Give `user` a new API token (the old one stops working) and return it; only its digest is kept."""
    token = secrets.token_urlsafe(32)
    user.token_hash = token_digest(token)
    session.flush()
    return token


def user_by_token(session: Session, token: str) -> User | None:
    return session.scalar(select(User).where(User.token_hash == token_digest(token)))


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))
