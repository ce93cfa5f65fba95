"""The staff web UI: HTML pages over the engine's operations. Views only, no business rules.

Sign-in with session cookies (Flask-Login), CSRF on every form (Flask-WTF), English and Chinese
(Flask-Babel; the labels of states, actions and fields come from the definitions themselves).
"""

from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, gettext
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from .. import slices
from . import errors, present
from .blueprint import LANGUAGES, bp

__all__ = ["babel", "bp", "csrf", "errors", "init_app", "login_manager"]

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def select_language() -> str:
    """The user's choice (kept in the session cookie), else the browser's preference."""
    if not has_request_context():
        return "en"
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES, default="en")


def init_app(app: Flask) -> None:
    """Wire sign-in, CSRF, translations and the UI's pages into `app`."""
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session: a long form never expires
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:  # Flask's default is None: say Lax
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    # One catalog (gettext domain) per slice beside the core's "messages", all in web/translations.
    app.config.setdefault("BABEL_DOMAIN", ";".join(slices.DOMAINS))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join("translations" for _ in slices.DOMAINS))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_language)
    login_manager.init_app(app)
    login_manager.login_view = "ui.sign_in"
    login_manager.login_message_category = "info"

    from . import auth, nav, views  # noqa: F401

    slices.modules("ui")  # each registers its pages on bp and its menu entries in nav

    login_manager.user_loader(auth.load_user)
    login_manager.localize_callback = gettext
    login_manager.login_message = present.N_("Please sign in to see this page.")
    app.register_blueprint(bp)
    app.jinja_env.globals.update(present.JINJA_GLOBALS, nav_entries=nav.entries, case_panels=nav.case_panels)
    app.jinja_env.filters.update(present.JINJA_FILTERS)
