"""What keeps sessions and responses safe: the secret key, the session cookie, rate limits, security headers.

`init_app` runs in the app factory before any blueprint is wired, so that an app without a real secret key
never starts.
"""

from __future__ import annotations

import math
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from flask.wrappers import Response
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_talisman import Talisman
from limits import parse
from werkzeug.middleware.proxy_fix import ProxyFix

# Values that were published (in this repository's history) and so sign nothing: refused as keys.
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-change-me"})
MIN_SECRET_KEY_LENGTH = 32
GENERATE_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"

# No inline script or style anywhere (templates and static files are written for this), no framing,
# forms post only here. img-src allows data: for the icons that Pico's stylesheet draws inline.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


class SecretKeyMissing(RuntimeError):
    """The app would sign its session cookies with no key, or with one that everybody knows."""


def _address() -> str:
    return "address:" + (request.remote_addr or "unknown")


def _account() -> str:
    # Names are at most 80 characters; a longer one matches nobody but must not bloat the storage's keys.
    return "account:" + request.form.get("name", "").strip()[:100]


def _refused(response: Response) -> bool:
    return response.status_code == 401


# Counts refusals only (deduct_when): a person who signs in at the first try never uses up anything.
# The limits themselves are settings, read on every request.
limiter = Limiter(
    key_func=_address,
    # A moving window: the next attempt is allowed when the oldest counted failure is older than the window,
    # which is also the moment that the refusal names.
    strategy="moving-window",
)
limit_sign_in_per_account = limiter.limit(
    lambda: str(current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"]), key_func=_account, methods=["POST"],
    deduct_when=_refused, scope="sign-in-account",
)
limit_sign_in_per_address = limiter.limit(
    lambda: str(current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"]), key_func=_address, methods=["POST"],
    deduct_when=_refused, scope="sign-in-address",
)


def _read_key_file(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretKeyMissing(f"{setting} names {path}, which cannot be read: {exc.strerror}") from None


def _configured_secret_key(app: Flask) -> tuple[str, str]:
    """The key and where it came from: SECRET_KEY, else the file SECRET_KEY_FILE, else instance/secret_key."""
    if app.config.get("SECRET_KEY"):
        return str(app.config["SECRET_KEY"]), "SECRET_KEY"
    if app.config.get("SECRET_KEY_FILE"):
        path = Path(app.config["SECRET_KEY_FILE"])
        return _read_key_file(path, "SECRET_KEY_FILE"), f"SECRET_KEY_FILE ({path})"
    default = Path(app.instance_path) / "secret_key"
    if default.exists():
        return _read_key_file(default, "instance/secret_key"), str(default)
    return "", "SECRET_KEY"


def _secret_key_problem(key: str) -> str | None:
    if not key:
        return "no SECRET_KEY is set"
    if key in PUBLISHED_SECRET_KEYS:
        return "SECRET_KEY is a published example value, so anybody could forge session cookies"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    return None


def configure_secret_key(app: Flask) -> None:
    """Set SECRET_KEY from its settings, or refuse to start; debug and testing apps get a random one instead."""
    key, source = _configured_secret_key(app)
    problem = _secret_key_problem(key)
    if problem is None:
        app.config["SECRET_KEY"] = key
        return
    if app.debug or app.testing:
        # Sessions then last as long as the process: enough for a developer or a test, useless to an attacker.
        app.config["SECRET_KEY"] = key if key and key not in PUBLISHED_SECRET_KEYS else secrets.token_hex(32)
        return
    where = f" (from {source})" if key or source != "SECRET_KEY" else " (nor SECRET_KEY_FILE, nor instance/secret_key)"
    raise SecretKeyMissing(
        f"Refusing to start: {problem}{where}. Set the SECRET_KEY environment variable, or "
        f"SECRET_KEY_FILE to a file holding the key, or write it to {Path(app.instance_path) / 'secret_key'} "
        f"(mode 600). Make one with: {GENERATE_KEY}"
    )


def _configure_cookies(app: Flask) -> None:
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Flask-Login's remember-me cookie is never asked for (login_user(remember=False)); say so for its settings too.
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]


def _headers(app: Flask) -> Talisman:
    hsts = int(app.config.get("HSTS_SECONDS") or 0)
    return Talisman(
        app,
        force_https=bool(app.config.get("FORCE_HTTPS")),  # off: TLS normally ends at the proxy
        strict_transport_security=hsts > 0,  # Talisman sends it on HTTPS responses only
        strict_transport_security_max_age=hsts,
        strict_transport_security_include_subdomains=False,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="same-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )


def _retry_at() -> float:
    """When the breached limit of this request lets the next attempt through (epoch seconds)."""
    current = limiter.current_limit
    return float(current.window[0]) if current is not None else time.time() + 60


def _too_many(exc: RateLimitExceeded) -> Any:
    """A sign-in past its limits: the page says when to try again (the UI's only limited route)."""
    from .ui import auth

    retry_at = _retry_at()
    seconds = max(1, math.ceil(retry_at - time.time()))
    when = datetime.fromtimestamp(retry_at, current_app.extensions["workflow_clock"].tz)
    response = auth.too_many_attempts(when, max(1, math.ceil(seconds / 60)))
    response.headers["Retry-After"] = str(seconds)
    return response


def count_unauthorized_call() -> float | None:
    """Count an API call about to be answered 401 against its address; past API_UNAUTHORIZED_LIMIT, return
    when the next one will be allowed (epoch seconds) instead of counting it.

    Asked only once a call turned out to have no valid token, so that a client with a valid token is never
    held up by others at the same address (an office behind one NAT). The counts share Flask-Limiter's
    storage and strategy.
    """
    limit = parse(str(current_app.config["API_UNAUTHORIZED_LIMIT"]))
    key = (_address(), "api-unauthorized")
    if limiter.limiter.hit(limit, *key):
        return None
    return float(limiter.limiter.get_window_stats(limit, *key).reset_time)


def too_many_unauthorized(retry_at: float) -> Response:
    """The API's 429 for an address that sent too many calls without a valid token."""
    from . import api

    seconds = max(1, math.ceil(retry_at - time.time()))
    message = {
        "en": f"Too many calls without a valid API token from this address: try again in {seconds} seconds",
        "zh": f"此地址未携带有效 API 令牌的请求过多，请 {seconds} 秒后再试",
    }[api.lang()]
    response, _ = api.error(429, "too_many_requests", message)
    response.headers["Retry-After"] = str(seconds)
    return response


def without_https_redirect(app: Flask, view: Any) -> Any:
    """`view` answered over plain HTTP even under FORCE_HTTPS: the health probes of a load balancer or
    orchestrator call the server directly, inside, and follow no redirect."""
    return app.extensions["talisman"](force_https=False)(view)


def init_app(app: Flask) -> None:
    """Refuse to start without a real secret key; then cookies, proxies, rate limits and headers."""
    configure_secret_key(app)
    _configure_cookies(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # the client's address and scheme as the proxies saw them, for the limits and HSTS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.extensions["talisman"] = _headers(app)
