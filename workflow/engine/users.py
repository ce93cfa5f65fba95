"""People and their roles. Passwords are stored as scrypt hashes, API tokens as SHA-256 digests.

A token is 32 random bytes, so a plain digest is enough to make a stolen table useless and still
lets a request find its user through the unique index. A user has several named tokens, each with an
expiry; disabling a user revokes them all and ends their sign-in sessions.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from werkzeug.security import check_password_hash, generate_password_hash

from ..definitions.schema import SYSTEM_ROLE
from ..models import ApiToken, User, UserRole
from . import driver
from .errors import NotFound, WorkflowError
from .policy import SYSTEM, Actor
from .sessions import end_all_sessions

__all__ = ["SYSTEM", "Actor"]  # re-exported: the engine's callers import them from here too

_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # the hashes written before werkzeug's: "scrypt$salt$digest"
# OWASP ASVS (2.1.1) asks at least 12 characters of a password, NIST SP 800-63B 15 for a password used
# as the only factor; the web layer passes its PASSWORD_MIN_LENGTH setting.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # a pass phrase is welcome; a megabyte to hash is not
TOKEN_DAYS = 90
# A token's last use is written at most this often, so that a busy client does not write on every call.
LAST_USED_PRECISION = timedelta(minutes=1)


def actor_of(user: User) -> Actor:
    return Actor(user.name, user.roles)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _current_method() -> str:
    """werkzeug's scrypt with today's parameters, e.g. "scrypt:32768:8:1"."""
    return hash_password("-").split("$", 1)[0]


def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored`, a werkzeug hash or one of the older "scrypt$salt$digest" ones."""
    if not stored:
        return False
    try:
        if stored.startswith("scrypt$"):
            _, salt, digest = stored.split("$")
            candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_LEGACY_SCRYPT)
            return hmac.compare_digest(candidate, base64.b64decode(digest))
        return check_password_hash(stored, password)
    except ValueError:  # a malformed hash, or one of a method this werkzeug does not know: nothing matches it
        return False


def password_needs_rehash(stored: str | None) -> bool:
    """True for a hash of an older scheme or weaker parameters than today's: rehash it at the next sign-in."""
    return not stored or stored.split("$", 1)[0] != _current_method()


def check_password_rules(password: str, min_length: int = MIN_PASSWORD_LENGTH) -> None:
    """Refuse a password too short (or absurdly long) to be set, saying what is needed."""
    if len(password) < min_length:
        raise WorkflowError(
            f"The password must be at least {min_length} characters long (this one has {len(password)})",
            f"密码至少需要 {min_length} 个字符（现在只有 {len(password)} 个）",
            {"password": {"en": f"at least {min_length} characters", "zh": f"至少 {min_length} 个字符"}},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WorkflowError(
            f"The password may be at most {MAX_PASSWORD_LENGTH} characters long",
            f"密码最多 {MAX_PASSWORD_LENGTH} 个字符",
            {"password": {"en": f"at most {MAX_PASSWORD_LENGTH} characters",
                          "zh": f"最多 {MAX_PASSWORD_LENGTH} 个字符"}},
        )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, name: str, roles: list[str], now: datetime, password: str | None = None,
    display_name: str | None = None, min_password_length: int = MIN_PASSWORD_LENGTH,
) -> User:
    """Create a user with roles."""
    if SYSTEM_ROLE in roles or name == SYSTEM_ROLE:
        raise WorkflowError("'system' is reserved for the timer runtime", "'system' 保留给计时器使用")
    if session.scalar(select(User).where(User.name == name)):
        raise WorkflowError(f"user {name!r} already exists", f"用户 {name!r} 已存在")
    if password is not None:
        check_password_rules(password, min_password_length)
    user = User(
        name=name, display_name=display_name, created_at=now,
        password_hash=hash_password(password) if password else None,
        role_rows=[UserRole(role=r) for r in sorted(set(roles))],
    )
    session.add(user)
    session.flush()
    return user


def set_password(
    session: Session, user: User, password: str, now: datetime, min_length: int = MIN_PASSWORD_LENGTH,
    revoke_tokens: bool = False,
) -> None:
    """Give `user` a new password and end all their sign-in sessions (and, if asked, revoke their API tokens)."""
    check_password_rules(password, min_length)
    user.password_hash = hash_password(password)
    end_all_sessions(session, user.id, now)
    if revoke_tokens:
        _revoke_all_tokens(session, user, now)
    session.flush()


def disable_user(session: Session, user: User, now: datetime) -> None:
    """Stop `user` signing in or using the API: end their sessions and revoke every token they hold.

    The tokens stay revoked when the user is enabled again, so that nothing issued before comes back to life.
    """
    if user.disabled_at is None:
        user.disabled_at = now
    end_all_sessions(session, user.id, now)
    _revoke_all_tokens(session, user, now)
    session.flush()


def set_roles(session: Session, user: User, roles: set[str]) -> None:
    """Give `user` exactly `roles`. Rows of the roles kept stay as they are, so the change is only what differs."""
    if not roles:
        raise WorkflowError("a user needs at least one role", "用户至少需要一个角色")
    if SYSTEM_ROLE in roles:
        raise WorkflowError("'system' is reserved for the timer runtime", "'system' 保留给计时器使用")
    kept = [r for r in user.role_rows if r.role in roles]
    user.role_rows = kept + [UserRole(role=r) for r in sorted(roles - user.roles)]
    session.flush()


def enable_user(session: Session, user: User) -> None:
    user.disabled_at = None
    session.flush()


def _revoke_all_tokens(session: Session, user: User, now: datetime) -> None:
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


def _check_token_request(name: str, days: int) -> None:
    if not name or len(name) > 80 or not name.isprintable():
        raise WorkflowError(
            "A token name is 1 to 80 printable characters", "令牌名称须为 1 至 80 个可打印字符",
            {"name": {"en": "1 to 80 printable characters", "zh": "1 至 80 个可打印字符"}},
        )
    if not 1 <= days <= 3660:
        raise WorkflowError(
            "A token is valid for 1 to 3660 days", "令牌有效期须为 1 至 3660 天",
            {"days": {"en": "1 to 3660", "zh": "1 至 3660"}},
        )


def issue_token(
    session: Session, user: User, now: datetime, name: str = "default", days: int = TOKEN_DAYS,
) -> str:
    """Give `user` a new API token called `name`, valid for `days`, and return it; only its digest is kept.

    A live token of the same name is revoked: issuing again under a name replaces that token.
    """
    _check_token_request(name, days)
    revoke_token(session, user, name, now, missing_ok=True)
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(
        user_id=user.id, name=name, digest=token_digest(token), created_at=now, expires_at=now + timedelta(days=days),
    ))
    session.flush()
    return token


def revoke_token(session: Session, user: User, name: str, now: datetime, missing_ok: bool = False) -> None:
    """Revoke `user`'s live token called `name`; it stops working with the next request."""
    found = session.scalar(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if found is None:
        if missing_ok:
            return
        raise NotFound(f"user {user.name!r} has no live token called {name!r}",
                       f"用户 {user.name!r} 没有名为 {name!r} 的有效令牌")
    found.revoked_at = now
    session.flush()  # before a new token of the same name is added: the unique index counts live rows only


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """Every token `user` has been issued, newest first. Rows carry digests: show callers only the metadata."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


# The token's user with each of their roles, in one statement on the driver (as a move's load, cases.py):
# through the ORM (a joined eager load, identity-map refresh) this query cost more CPU than the move itself.
_USER_COLUMNS = driver.loaded_columns(User)
_TOKENS, _USERS, _ROLES = (cast(Table, m.__table__) for m in (ApiToken, User, UserRole))
_BY_TOKEN = driver.Prebuilt(
    select(*(c for _, c in _USER_COLUMNS), _TOKENS.c.id, _TOKENS.c.last_used_at, _ROLES.c.role)
    .select_from(_TOKENS.join(_USERS, _USERS.c.id == _TOKENS.c.user_id)
                 .outerjoin(_ROLES, _ROLES.c.user_id == _USERS.c.id))
    .where(_TOKENS.c.digest == bindparam("b_digest"), _TOKENS.c.revoked_at.is_(None),
           _TOKENS.c.expires_at > bindparam("b_now"), _USERS.c.disabled_at.is_(None))
)
_NOTE_USE = driver.Prebuilt(
    update(_TOKENS).where(_TOKENS.c.id == bindparam("b_id")).values(last_used_at=bindparam("b_now"))
)


def user_by_token(session: Session, token: str, now: datetime) -> User | None:
    """The enabled user whose live, unexpired token this is, else None.

    One query (the roles joined in), nothing cached: a revoked token or a disabled user is refused from the
    very next request. Writes the token's `last_used_at` when it is older than LAST_USED_PRECISION; the
    caller commits it (a read-only request would otherwise roll it back).
    """
    rows = _BY_TOKEN.rows(session.connection(), {"b_digest": token_digest(token), "b_now": now})
    if not rows:
        return None
    width = len(_USER_COLUMNS)
    first = rows[0]
    values = {key: value for (key, _), value in zip(_USER_COLUMNS, first, strict=False)}
    token_id, last_used_at = first[width], first[width + 1]
    if last_used_at is None or last_used_at <= now - LAST_USED_PRECISION:
        _NOTE_USE.rowcount(session.connection(), {"b_id": token_id, "b_now": now})
    held = session.identity_map.get(identity_key(User, values["id"]))
    if held is not None:
        # Fresh even in a session that holds the user already (sessions are not expired on commit): roles
        # taken away count from the next request.
        session.refresh(held)
        return held
    roles = [driver.persistent(UserRole, {"user_id": values["id"], "role": row[width + 2]})
             for row in rows if row[width + 2] is not None]
    user = cast(User, driver.persistent(User, values))
    set_committed_value(user, "role_rows", roles)  # a collection: through its adapter, not into __dict__
    session.add(user)  # and its role rows, by the relationship's cascade
    return user


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))
