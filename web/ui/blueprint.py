"""The UI blueprint and what every one of its requests goes through: a signed-in user, auditors read-only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from flask_login import current_user

bp = Blueprint("ui", __name__)

LANGUAGES = ["en", "zh"]
PUBLIC = {"ui.sign_in", "ui.set_language"}
# POSTs that change no case, so a read-only user (an auditor) may send them too.
READ_ONLY_POSTS = {"ui.sign_in", "ui.sign_out", "ui.read_notification"}


@bp.before_request
def _signed_in_and_allowed() -> Any:
    if request.endpoint in PUBLIC:
        return None
    if not current_user.is_authenticated:
        from . import login_manager

        return login_manager.unauthorized()
    if request.method == "POST" and current_user.read_only and request.endpoint not in READ_ONLY_POSTS:
        abort(403)
    return None
