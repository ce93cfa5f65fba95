"""Signing in and out with a session cookie, and choosing the language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, login_user, logout_user
from werkzeug.wrappers import Response

from workflow.engine import Actor, actor_of
from workflow.engine.users import check_password, user_by_name
from workflow.models import User

from ..extensions import db
from .blueprint import LANGUAGES, bp

READ_ONLY_ROLES = frozenset({"auditor"})  # sees every case, changes none
# Checked against when the name is unknown, so that a wrong name costs as long as a wrong password.
_NO_SUCH_USER = "scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class StaffUser(UserMixin):
    """A signed-in person, as Flask-Login sees them."""

    def __init__(self, user: User):
        self.user = user
        self.id = user.id
        self.name = user.name
        self.display_name = user.display_name or user.name
        self.roles = user.roles
        self.actor: Actor = actor_of(user)
        self.read_only = bool(self.roles & READ_ONLY_ROLES)


def load_user(user_id: str) -> StaffUser | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return StaffUser(user) if user is not None else None


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        user = user_by_name(db.session, name) if name else None
        valid = check_password(user.password_hash if user else _NO_SUCH_USER, password)
        if user is not None and valid:
            login_user(StaffUser(user))
            return redirect(safe_next(request.args.get("next"), url_for("ui.inbox")))
        error = _("Unknown user name or wrong password.")
    status = 401 if error else 200
    return render_template("sign_in.html", error=error, name=name), status


@bp.post("/sign-out")
def sign_out() -> Response:
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("ui.sign_in"))


@bp.get("/language/<code>")
def set_language(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("ui.inbox")))
