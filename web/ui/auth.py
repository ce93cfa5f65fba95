"""Signing in and out with a session cookie, and choosing the language.

The cookie names a server-side session (workflow.engine.sessions); Flask-Login's user loader checks it
on every request, so signing out, a new password or disabling the user ends it for good. Failed
sign-ins are counted per account and per address (web.security); past the limit the page says when
the next attempt is allowed.
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from workflow.engine import Actor, actor_of, policy
from workflow.engine.sessions import end_session, start_session, user_of_session
from workflow.engine.users import check_password, hash_password, password_needs_rehash, user_by_name
from workflow.models import User

from ..extensions import clock, db_session
from ..security import limit_sign_in_per_account, limit_sign_in_per_address
from .blueprint import LANGUAGES, bp


@functools.cache
def _no_such_user() -> str:
    """A hash checked against when the name is unknown, so that a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


class StaffUser(UserMixin):  # type: ignore[misc]  # flask_login ships no type hints
    """A signed-in person, as Flask-Login sees them. Their id in the cookie is their session's random id."""

    def __init__(self, user: User, session_id: str):
        self.user = user
        self.session_id = session_id
        self.id = user.id
        self.name = user.name
        self.display_name = user.display_name or user.name
        self.roles = user.roles
        self.actor: Actor = actor_of(user)
        self.read_only = policy.is_read_only(self.actor)  # the engine's answer, not a role name here

    def get_id(self) -> str:
        return self.session_id


def load_user(session_id: str) -> StaffUser | None:
    """The user of an open session named by the cookie, or None (ended, unknown, user disabled): asked on every
    request, so an ended session never comes back, whatever the cookie says."""
    user = user_of_session(db_session(), session_id, clock().now())
    if user is None:
        return None
    staff = StaffUser(user, session_id)
    if db_session().dirty:  # the session's last use, noted: kept even when the page itself changes nothing
        db_session().commit()
    return staff


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _fresh_session() -> None:
    """Drop whatever the cookie held before (but the language), so that nothing crosses a sign-in or sign-out."""
    language = session.get("lang")
    session.clear()
    if language in LANGUAGES:
        session["lang"] = language


def _begin(user: User, password: str) -> Response:
    if password_needs_rehash(user.password_hash):  # an older scheme or weaker parameters: today's from now on
        user.password_hash = hash_password(password)
    session_id = start_session(db_session(), user, clock().now())
    db_session().commit()
    _fresh_session()
    login_user(StaffUser(user, session_id))  # never remember=True: no long-lived cookie
    return redirect(safe_next(request.args.get("next"), url_for("ui.inbox")))


@bp.route("/sign-in", methods=["GET", "POST"])
@limit_sign_in_per_account
@limit_sign_in_per_address
def sign_in() -> Any:
    error = None
    status = 200
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        user = user_by_name(db_session(), name) if name else None
        valid = check_password(user.password_hash if user else _no_such_user(), password)
        if user is not None and valid and user.disabled_at is None:
            return _begin(user, password)
        if user is not None and valid:  # the right password: saying so gives nothing away
            error, status = _("This account is disabled. Ask an administrator to enable it."), 403
        else:  # 401: counted against the account and the address (web.security)
            error, status = _("Unknown user name or wrong password."), 401
    return render_template("sign_in.html", error=error, name=name), status


def too_many_attempts(retry_at: datetime, minutes: int) -> Response:
    """The sign-in page, refusing: too many failures for this account or from this address, and when to retry."""
    error = _(
        "Too many failed sign-ins for this account or from this address. Try again at %(time)s (in %(minutes)d min).",
        time=retry_at.strftime("%H:%M"), minutes=minutes,
    )
    name = request.form.get("name", "").strip()[:80]
    return make_response(render_template("sign_in.html", error=error, name=name), 429)


@bp.post("/sign-out")
def sign_out() -> Response:
    if current_user.is_authenticated:
        end_session(db_session(), current_user.session_id, clock().now())
        db_session().commit()
    logout_user()
    _fresh_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("ui.sign_in"))


@bp.get("/language/<code>")
def set_language(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("ui.inbox")))
