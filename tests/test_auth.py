"""Sessions that cannot be forged or outlive their end, sign-in limits, security headers, API tokens, passwords.

Everything runs against the real app and database (SQLite, or PostgreSQL when DATABASE_URL says so): the
cookie replayed after sign-out is the very cookie the browser held, the tokens are issued by the CLI.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import os
import re
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import flask
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from web import create_app
from web.extensions import db
from web.security import CONTENT_SECURITY_POLICY, SecretKeyMissing
from workflow.engine import WorkflowError
from workflow.engine.users import create_user, issue_token, user_by_name, user_by_token
from workflow.models import ApiToken, User, UserRole, UserSession

LEAD_PASSWORD = "lead-demo-pass"
NEW_PASSWORD = "a new and longer pass phrase"
FAILURE = "Unknown user name or wrong password."


def csrf_token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


class Browser:
    """One browser: its own cookies, each request outside the test's request context (as in a server)."""

    def __init__(self, app: Flask, address: str = "127.0.0.1", language: str = "en",
                 base_url: str = "http://localhost"):
        self.client: FlaskClient = app.test_client()
        self.environ = {"REMOTE_ADDR": address}
        self.base_url = base_url
        # Flask-WTF wants a same-site Referer on HTTPS posts, as a browser sends.
        self.headers = {"Accept-Language": "zh-CN,zh;q=0.9" if language == "zh" else "en",
                        "Referer": f"{base_url}/sign-in"}
        self.token = ""

    def get(self, path: str, **kw):
        response = contextvars.Context().run(
            self.client.get, path, headers=self.headers, environ_base=self.environ, base_url=self.base_url, **kw)
        if response.mimetype == "text/html" and 'name="csrf_token"' in response.text:
            self.token = csrf_token_of(response.text)
        return response

    def post(self, path: str, data: dict | None = None):
        body = {"csrf_token": self.token, **(data or {})}
        return contextvars.Context().run(
            self.client.post, path, data=body, headers=self.headers, environ_base=self.environ, base_url=self.base_url)

    def sign_in(self, name: str, password: str):
        if not self.token:
            self.get("/sign-in")
        return self.post("/sign-in", {"name": name, "password": password})

    def signed_in(self) -> bool:
        response = self.get("/cases")
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/sign-in")
            return False
        assert response.status_code == 200
        return True

    @property
    def cookie(self) -> str:
        cookie = self.client.get_cookie("session")
        assert cookie is not None
        return cookie.value


@pytest.fixture
def lead(app, staff) -> str:
    return staff("lead", "service_lead")


def dispose(other: Flask) -> None:
    """Close the connections of an extra app made by a test (the fixture's app closes its own)."""
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def cli(runner, *args: str):
    return runner.invoke(args=list(args))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_token(runner, *args: str) -> str:
    result = cli(runner, "users", "token", *args)
    assert result.exit_code == 0, result.output
    return result.output.strip()


# -- the secret key ---------------------------------------------------------------------------------


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    """No key in the environment, no debug, and an instance folder of our own (empty)."""
    for variable in ("SECRET_KEY", "SECRET_KEY_FILE", "FLASK_DEBUG"):
        monkeypatch.delenv(variable, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(instance))
    return instance


def production_app(tmp_path: Path, **config) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **config})


def test_the_app_refuses_to_start_without_a_secret_key_and_says_which_setting(bare_env, tmp_path):
    with pytest.raises(SecretKeyMissing) as refused:
        production_app(tmp_path)
    message = str(refused.value)
    assert "no SECRET_KEY is set" in message and "SECRET_KEY_FILE" in message and "secret_key" in message


@pytest.mark.parametrize(("key", "why"), [
    ("dev-only-change-me", "published example value"),
    ("short-but-not-empty", "shorter than 32 characters"),
])
def test_the_published_key_and_a_short_one_are_refused(bare_env, tmp_path, monkeypatch, key, why):
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(SecretKeyMissing, match=why):
        production_app(tmp_path)


def test_the_key_comes_from_the_environment_else_a_file_else_the_instance_folder(bare_env, tmp_path, monkeypatch):
    bare_env.mkdir()
    (bare_env / "secret_key").write_text("i" * 40 + "\n")
    assert production_app(tmp_path).secret_key == "i" * 40
    named = tmp_path / "key-file"
    named.write_text("f" * 40)
    monkeypatch.setenv("SECRET_KEY_FILE", str(named))
    assert production_app(tmp_path).secret_key == "f" * 40
    monkeypatch.setenv("SECRET_KEY", "e" * 40)
    assert production_app(tmp_path).secret_key == "e" * 40
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretKeyMissing, match="SECRET_KEY_FILE names .*missing"):
        production_app(tmp_path)


def test_testing_and_debug_apps_start_without_a_key_with_a_random_one(bare_env, tmp_path):
    first = production_app(tmp_path, TESTING=True).secret_key
    second = production_app(tmp_path, DEBUG=True).secret_key
    assert first and second and first != second and len(first) >= 32
    assert production_app(tmp_path, TESTING=True, SECRET_KEY="dev-only-change-me").secret_key != "dev-only-change-me"


# -- the cookie -------------------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_lax_and_secure_when_configured(app, lead, monkeypatch, frozen_clock):
    response = Browser(app).sign_in("lead", LEAD_PASSWORD)
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith("session=")  # no remember-me cookie
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0] and "Secure" not in cookies[0]
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")  # not bool("0")
    plain = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    behind_tls = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                             "WORKFLOW_NOW": frozen_clock})
    response = Browser(behind_tls, base_url="https://localhost").sign_in("lead", LEAD_PASSWORD)
    assert response.status_code == 302, response.text
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    dispose(behind_tls)


# -- sessions end -----------------------------------------------------------------------------------


def test_signing_out_ends_the_session_even_for_a_copy_of_the_cookie(app, lead):
    browser = Browser(app)
    assert browser.sign_in("lead", LEAD_PASSWORD).status_code == 302
    stolen = browser.cookie
    thief = Browser(app)
    thief.client.set_cookie("session", stolen)
    assert thief.signed_in()  # the copy works while the session lasts: the test below means something
    browser.get("/cases")
    assert browser.post("/sign-out").status_code == 302
    assert not browser.signed_in()
    replay = Browser(app)
    replay.client.set_cookie("session", stolen)
    assert not replay.signed_in()
    row = db.session.scalar(sa.select(UserSession))
    assert row is not None and row.ended_at is not None
    assert stolen not in row.digest  # the table keeps digests only


def test_a_cookie_naming_a_user_id_opens_nothing(app, lead):
    """The old cookies carried the user's id; an id (or any guess) is not a session."""
    user = user_by_name(db.session, "lead")
    browser = Browser(app)
    browser.get("/sign-in")
    with browser.client.session_transaction() as cookie:
        cookie["_user_id"] = str(user.id)
        cookie["_fresh"] = True
    assert not browser.signed_in()


def test_a_new_password_ends_every_session_of_that_user_and_only_theirs(app, lead, staff, runner):
    staff("lead2", "service_lead")
    desk, phone, other = Browser(app), Browser(app), Browser(app)
    for browser, name in ((desk, "lead"), (phone, "lead"), (other, "lead2")):
        assert browser.sign_in(name, f"{name}-demo-pass").status_code == 302
    token = new_token(runner, "lead")
    result = cli(runner, "users", "set-password", "lead", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert not desk.signed_in() and not phone.signed_in()
    assert other.signed_in()
    assert app.test_client().get("/api/v1/workflows", headers=bearer(token)).status_code == 200  # tokens stay
    fresh = Browser(app)
    assert fresh.sign_in("lead", LEAD_PASSWORD).status_code == 401
    assert fresh.sign_in("lead", NEW_PASSWORD).status_code == 302
    result = cli(runner, "users", "set-password", "lead", "--password", LEAD_PASSWORD, "--revoke-tokens")
    assert result.exit_code == 0 and "tokens revoked" in result.output
    assert not fresh.signed_in()
    assert app.test_client().get("/api/v1/workflows", headers=bearer(token)).status_code == 401


def test_a_disabled_user_loses_sessions_and_tokens_and_cannot_sign_in_until_enabled(app, lead, runner):
    browser = Browser(app)
    assert browser.sign_in("lead", LEAD_PASSWORD).status_code == 302
    token = new_token(runner, "lead")
    api = app.test_client()
    assert api.get("/api/v1/workflows", headers=bearer(token)).status_code == 200
    assert cli(runner, "users", "disable", "lead").exit_code == 0
    assert not browser.signed_in()
    assert api.get("/api/v1/workflows", headers=bearer(token)).status_code == 401
    refused = Browser(app).sign_in("lead", LEAD_PASSWORD)
    assert refused.status_code == 403 and "This account is disabled" in refused.text
    assert cli(runner, "users", "enable", "lead").exit_code == 0
    assert Browser(app).sign_in("lead", LEAD_PASSWORD).status_code == 302
    assert api.get("/api/v1/workflows", headers=bearer(token)).status_code == 401  # revoked for good
    assert api.get("/api/v1/workflows", headers=bearer(new_token(runner, "lead"))).status_code == 200


def test_a_disabled_user_is_refused_a_token_call_even_with_a_token_issued_afterwards(app, lead, clock):
    user = user_by_name(db.session, "lead")
    user.disabled_at = clock.now()
    token = issue_token(db.session, user, clock.now())
    db.session.commit()
    assert app.test_client().get("/api/v1/workflows", headers=bearer(token)).status_code == 401


# -- passwords --------------------------------------------------------------------------------------


def legacy_hash(password: str) -> str:
    """A hash as the service wrote them before werkzeug's: scrypt$salt$digest, n=2**14."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def test_new_hashes_are_werkzeugs_and_an_old_one_still_signs_in_and_is_rehashed(app, lead):
    user = user_by_name(db.session, "lead")
    assert user.password_hash.startswith("scrypt:") and LEAD_PASSWORD not in user.password_hash
    user.password_hash = legacy_hash("the old pass phrase")
    db.session.commit()
    assert Browser(app).sign_in("lead", "not the old pass phrase").status_code == 401
    assert db.session.scalar(sa.select(User.password_hash).where(User.name == "lead")).startswith("scrypt$")
    assert Browser(app).sign_in("lead", "the old pass phrase").status_code == 302
    rehashed = db.session.scalar(sa.select(User.password_hash).where(User.name == "lead"))
    assert rehashed.startswith("scrypt:") and rehashed.split("$", 1)[0] == "scrypt:32768:8:1"
    assert Browser(app).sign_in("lead", "the old pass phrase").status_code == 302


def test_a_short_password_is_refused_with_the_rule_and_changes_nothing(app, lead, runner, clock):
    created = cli(runner, "users", "create", "wang", "--role", "fg_qa", "--password", "elevenchars")
    assert created.exit_code != 0
    assert "The password must be at least 12 characters long (this one has 11)" in created.output
    assert user_by_name(db.session, "wang") is None
    changed = cli(runner, "users", "set-password", "lead", "--password", "short")
    assert changed.exit_code != 0 and "at least 12 characters" in changed.output
    assert Browser(app).sign_in("lead", LEAD_PASSWORD).status_code == 302
    with pytest.raises(WorkflowError) as refused:
        create_user(db.session, "zhao", ["fg_qa"], clock.now(), password="x" * 15, min_password_length=16)
    assert refused.value.messages["zh"] == "密码至少需要 16 个字符（现在只有 15 个）"
    app.config["PASSWORD_MIN_LENGTH"] = 20
    assert cli(runner, "users", "create", "li", "--role", "fg_qa", "--password", "x" * 19).exit_code != 0
    assert cli(runner, "users", "create", "li", "--role", "fg_qa", "--password", "x" * 20).exit_code == 0


# -- sign-in limits ---------------------------------------------------------------------------------


def test_the_tenth_failure_for_an_account_locks_it_and_the_page_says_until_when(app, lead):
    attacker = Browser(app, address="10.0.0.1")
    for _ in range(10):
        response = attacker.sign_in("lead", "a wrong guess")
        assert response.status_code == 401 and FAILURE in response.text
    owner = Browser(app, address="10.0.0.2")  # from elsewhere, with the right password: the account is locked
    locked = owner.sign_in("lead", LEAD_PASSWORD)
    assert locked.status_code == 429
    found = re.search(r"Too many failed sign-ins for this account or from this address\. "
                      r"Try again at (\d\d:\d\d) \(in (\d+) min\)\.", locked.text)
    assert found and found.group(2) == "15", locked.text
    assert 890 <= int(locked.headers["Retry-After"]) <= 900
    assert not owner.signed_in()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0
    chinese = Browser(app, address="10.0.0.3", language="zh").sign_in("lead", LEAD_PASSWORD)
    assert chinese.status_code == 429 and "该账号或该地址登录失败次数过多" in chinese.text
    assert "15 分钟后" in chinese.text


def test_failures_from_one_address_lock_that_address_for_every_account(app, lead, staff):
    staff("lead2", "service_lead")
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    noisy = Browser(app, address="10.0.0.9")
    for name in ("lead", "lead2", "nobody"):
        assert noisy.sign_in(name, "guess").status_code == 401
    assert noisy.sign_in("lead2", "lead2-demo-pass").status_code == 429
    assert Browser(app, address="10.0.0.10").sign_in("lead2", "lead2-demo-pass").status_code == 302


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(app, lead, frozen_clock):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    for proxies, second_client in ((0, 429), (1, 401)):
        served = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WORKFLOW_NOW": frozen_clock,
                             "TRUSTED_PROXIES": proxies, "SIGN_IN_LIMIT_PER_ADDRESS": "2 per 15 minutes"})
        statuses = []
        for client_address in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
            browser = Browser(served, address="10.0.0.254")  # every request comes from the proxy
            browser.headers["X-Forwarded-For"] = client_address
            statuses.append(browser.sign_in(f"nobody-{len(statuses)}", "guess").status_code)
        assert statuses == [401, 401, second_client], proxies
        dispose(served)


def test_signing_in_at_the_first_try_counts_against_nothing(app, lead):
    app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    for _ in range(4):
        browser = Browser(app)
        assert browser.sign_in("lead", LEAD_PASSWORD).status_code == 302
        assert browser.signed_in()  # and the page gives the form's new token: the sign-in began a new session
        assert browser.post("/sign-out").status_code == 302


def test_token_less_api_calls_are_limited_per_address(app, lead, runner):
    app.config["API_UNAUTHORIZED_LIMIT"] = "3 per minute"
    token = new_token(runner, "lead")
    client = app.test_client()
    prober = {"REMOTE_ADDR": "10.0.1.1"}
    for header in ({}, bearer("guess"), bearer("another guess")):
        assert client.get("/api/v1/workflows", headers=header, environ_base=prober).status_code == 401
    for _ in range(3):  # calls with a valid token are never counted, nor held up
        assert client.get("/api/v1/workflows", headers=bearer(token), environ_base=prober).status_code == 200
    blocked = client.get("/api/v1/cases", headers=bearer("a third guess"), environ_base=prober)
    assert blocked.status_code == 429
    assert_security_headers(blocked)
    error = blocked.get_json()["error"]
    assert error["code"] == "too_many_requests" and "try again in" in error["message"]
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    chinese = client.get("/api/v1/workflows", headers={"Accept-Language": "zh"}, environ_base=prober)
    assert "此地址未携带有效 API 令牌的请求过多" in chinese.get_json()["error"]["message"]
    elsewhere = {"REMOTE_ADDR": "10.0.1.2"}
    assert client.get("/api/v1/workflows", environ_base=elsewhere).status_code == 401


# -- security headers -------------------------------------------------------------------------------


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP and no HSTS_SECONDS


def test_every_kind_of_response_carries_the_security_headers(app, lead, runner, published):
    browser = Browser(app)
    browser.sign_in("lead", LEAD_PASSWORD)
    token = new_token(runner, "lead")
    api = app.test_client()
    responses = {
        "sign-in page": Browser(app).get("/sign-in"),
        "UI page": browser.get("/cases"),
        "UI 404 page": browser.get("/no-such-page"),
        "static file": browser.get("/static/app.js"),
        "API JSON": api.get("/api/v1/workflows", headers=bearer(token)),
        "API 401": api.get("/api/v1/workflows"),
        "API 404": api.get("/api/v1/cases/999", headers=bearer(token)),
        "API SVG": api.get("/api/v1/workflows/return_inspection/diagram.svg", headers=bearer(token)),
        "OpenAPI document": api.get("/api/v1/openapi.json"),
    }
    expected = {"sign-in page": 200, "UI page": 200, "UI 404 page": 404, "static file": 200, "API JSON": 200,
                "API 401": 401, "API 404": 404, "API SVG": 200, "OpenAPI document": 200}
    assert {name: r.status_code for name, r in responses.items()} == expected
    assert responses["API SVG"].mimetype == "image/svg+xml"
    for name, response in responses.items():
        try:
            assert_security_headers(response)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{name}: {exc!r}") from exc
        finally:
            response.close()  # the static file is streamed from an open file


def test_an_unexpected_error_page_carries_them_too(app, lead):
    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", broken)
    browser = Browser(app)
    browser.sign_in("lead", LEAD_PASSWORD)
    response = browser.get("/broken")
    assert response.status_code == 500
    assert_security_headers(response)


def test_the_policy_allows_no_inline_script_and_the_pages_need_none(app, lead, staff):
    assert CONTENT_SECURITY_POLICY["script-src"] == "'self'"
    browser = Browser(app)
    browser.sign_in("lead", LEAD_PASSWORD)
    templates = Path(__file__).resolve().parent.parent / "web" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline <script> in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"an on...= handler in {template.name}"
        assert "javascript:" not in text and "style=" not in text and "<style" not in text, template.name
    assert "<script" not in browser.get("/cases").text  # most pages need no script at all
    staff("hr", "hr")
    hr = Browser(app)
    hr.sign_in("hr", "hr-demo-pass")
    appraisal = hr.get("/appraisal")
    assert appraisal.status_code == 200
    assert re.findall(r"<script[^>]*>", appraisal.text) == ['<script src="/static/app.js" defer>']


def test_hsts_only_when_configured_and_no_https_redirect_by_default(app):
    plain = app.test_client().get("/sign-in", base_url="https://localhost")
    assert plain.status_code == 200 and "Strict-Transport-Security" not in plain.headers
    assert app.test_client().get("/sign-in").status_code == 200  # http:// is served, not redirected
    configured = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                             "HSTS_SECONDS": 31536000})
    client = configured.test_client()
    assert client.get("/sign-in", base_url="https://localhost").headers["Strict-Transport-Security"] == \
        "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers  # never on plain HTTP
    dispose(configured)


# -- API tokens -------------------------------------------------------------------------------------


def test_tokens_are_named_several_per_user_listed_without_secrets_and_revoked_at_once(app, lead, runner):
    ci = new_token(runner, "lead", "--name", "ci", "--days", "30")
    laptop = new_token(runner, "lead", "--name", "laptop")
    client = app.test_client()
    assert client.get("/api/v1/workflows", headers=bearer(ci)).status_code == 200
    assert client.get("/api/v1/workflows", headers=bearer(laptop)).status_code == 200
    listing = cli(runner, "users", "tokens", "lead")
    assert listing.exit_code == 0
    lines = listing.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["laptop", "ci"]
    assert "expires 2026-12-20T09:00" in lines[1] and "expires 2027-02-18T09:00" in lines[0]
    assert lines[1].endswith("last used 2026-11-20T09:00+00:00\tactive")
    digests = db.session.scalars(sa.select(ApiToken.digest)).all()
    for secret in (ci, laptop, *digests):
        assert secret not in listing.output
    revoked = cli(runner, "users", "revoke-token", "lead", "ci")
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/workflows", headers=bearer(ci)).status_code == 401
    assert client.get("/api/v1/workflows", headers=bearer(laptop)).status_code == 200
    assert cli(runner, "users", "tokens", "lead").output.splitlines()[1].endswith("revoked")
    again = cli(runner, "users", "revoke-token", "lead", "ci")
    assert again.exit_code != 0 and "no live token called 'ci'" in again.output


def test_a_token_issued_again_under_its_name_replaces_the_old_one(app, lead, runner):
    first = new_token(runner, "lead")
    second = new_token(runner, "lead")
    client = app.test_client()
    assert client.get("/api/v1/workflows", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/workflows", headers=bearer(second)).status_code == 200
    states = [line.rsplit("\t", 1)[1] for line in cli(runner, "users", "tokens", "lead").output.splitlines()]
    assert states == ["active", "revoked"]


def test_a_token_stops_working_when_it_expires(app, lead, runner, frozen_clock):
    default = new_token(runner, "lead")
    short = new_token(runner, "lead", "--name", "short", "--days", "1")
    client = app.test_client()
    frozen_clock.advance(hours=23, minutes=59)
    assert client.get("/api/v1/workflows", headers=bearer(short)).status_code == 200
    frozen_clock.advance(minutes=1)
    response = client.get("/api/v1/workflows", headers=bearer(short))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    frozen_clock.advance(days=88, hours=23, minutes=59)  # the default is 90 days (API_TOKEN_DAYS)
    assert client.get("/api/v1/workflows", headers=bearer(default)).status_code == 200
    frozen_clock.advance(minutes=1)
    assert client.get("/api/v1/workflows", headers=bearer(default)).status_code == 401
    assert cli(runner, "users", "tokens", "lead").output.count("\texpired") == 2


def test_bad_token_requests_are_refused_and_change_nothing(app, lead, runner):
    for args, message in ((["--days", "0"], "0 is not in the range"), (["--name", ""], "1 to 80 printable")):
        result = cli(runner, "users", "token", "lead", *args)
        assert result.exit_code != 0 and message in result.output
    assert cli(runner, "users", "token", "nobody").exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_a_token_notes_its_last_use_without_writing_on_every_call(app, lead, runner, frozen_clock):
    token = new_token(runner, "lead")
    client = app.test_client()

    def last_used():
        db.session.expire_all()
        return db.session.scalar(sa.select(ApiToken.last_used_at))

    assert last_used() is None
    client.get("/api/v1/workflows", headers=bearer(token))
    assert last_used() == frozen_clock.now
    first = frozen_clock.now
    frozen_clock.advance(seconds=30)
    client.get("/api/v1/workflows", headers=bearer(token))
    assert last_used() == first
    frozen_clock.advance(seconds=30)
    client.get("/api/v1/workflows", headers=bearer(token))
    assert last_used() == frozen_clock.now


def test_a_token_s_user_comes_with_its_roles_as_they_are_now_even_in_a_session_that_holds_them(app, staff, runner,
                                                                                               frozen_clock):
    staff("both", "service_lead", "quality_director")
    token = new_token(runner, "both")
    first = user_by_token(db.session, token, frozen_clock.now)
    assert first is not None and first.roles == {"service_lead", "quality_director"}
    assert first in db.session  # as the ORM would have loaded it: one User per row in the session
    # A role taken away behind the session's back (another request, the CLI) counts at the next call,
    # although this session holds the user and its role rows already (sessions are not expired on commit).
    db.session.execute(sa.delete(UserRole).where(UserRole.user_id == first.id, UserRole.role == "quality_director"))
    again = user_by_token(db.session, token, frozen_clock.now)
    assert again is first and again.roles == {"service_lead"}
    assert user_by_token(db.session, token + "x", frozen_clock.now) is None


# -- the migration ----------------------------------------------------------------------------------


@pytest.fixture
def empty_database(database, tmp_path):
    """A database of our own, not yet migrated: a new SQLite file, or a new PostgreSQL schema."""
    if database["kind"] == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.db"
        return
    base = os.environ.get("MIGRATION_DATABASE_URL") or os.environ["DATABASE_URL"]
    base = "postgresql+psycopg://" + base.split("://", 1)[1]
    schema = f"auth_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_the_migration_keeps_each_users_token_roles_and_staff_row(empty_database, frozen_clock):
    token = secrets.token_urlsafe(32)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database, "MIGRATION_DATABASE_URL": "",
                      "WORKFLOW_NOW": frozen_clock})
    with app.app_context():
        upgrade(revision="794bc6ebd6b4")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO users (id, name, created_at, token_hash) VALUES (7, 'wang', :at, :digest)"
            ), {"at": "2026-11-01 00:00:00", "digest": hashlib.sha256(token.encode()).hexdigest()})
            conn.execute(sa.text("INSERT INTO user_roles (user_id, role) VALUES (7, 'fg_qa')"))
            conn.execute(sa.text("INSERT INTO staff (user_name, department, template, standard_pay, supervisor) "
                                 "VALUES ('wang', '售后服务部', 'repair', 1500, 'li')"))
        upgrade(revision="c1a7e5d20110")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT role FROM user_roles WHERE user_id = 7")).scalars().all() == ["fg_qa"]
            assert conn.execute(sa.text("SELECT user_name FROM staff")).scalars().all() == ["wang"]
            names = conn.execute(sa.text("SELECT name FROM api_tokens WHERE user_id = 7")).scalars().all()
            assert names == ["default"]
            columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
            assert "token_hash" not in columns and "disabled_at" in columns
        upgrade()  # the later migrations too, so that the app's models match the tables
        assert app.test_client().get("/api/v1/workflows", headers=bearer(token)).status_code == 200
        expires = db.session.scalar(sa.select(ApiToken.expires_at))
        assert timedelta(days=89) < expires - db.session.scalar(sa.select(ApiToken.created_at)) <= timedelta(days=90)
        db.session.remove()
        db.engine.dispose()
