"""Fixtures: a real database per test (SQLite file, or a PostgreSQL schema when DATABASE_URL says so).

The schema is built once per run through the Alembic migrations, exactly as in production. On
SQLite every test gets a copy of that file; on PostgreSQL every test starts from truncated tables.
A PostgreSQL that cannot be reached is an error, never a skip.
"""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade

from web import create_app
from web.extensions import db
from workflow.definitions import shipped_files
from workflow.engine import Actor, publish_definition
from workflow.engine.users import create_user, issue_token

ROOT = Path(__file__).resolve().parent.parent
# The CLI and servers that tests start as subprocesses (`flask workflow tick`, gunicorn in the drills) are
# not in testing mode, so they need a real key, as in production; in-process test apps make their own.
os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))


def _postgres_url(variable: str = "DATABASE_URL") -> str | None:
    url = os.environ.get(variable, "")
    if not url.startswith("postgres"):
        return None
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _empty_tables(owner: sa.Engine) -> None:
    """Empty every table as the owner. History's TRUNCATE trigger is off only inside this transaction,
    which holds the table's exclusive lock until it commits: no one else ever sees it off."""
    with owner.begin() as conn:
        # Every table the migrations made (the slices' too), read from the schema: no test sees another's rows.
        tables = conn.execute(sa.text(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'")).scalars().all()
        conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER history_no_truncate"))
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER history_no_truncate"))


@dataclass
class FrozenClock:
    """The service's idea of now, moved by the tests."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return self.now


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The migrated database of this run: a template SQLite file, or a fresh PostgreSQL schema.

    On PostgreSQL the owner (MIGRATION_DATABASE_URL, else DATABASE_URL) makes and migrates the schema,
    and the service runs as DATABASE_URL's role, which the migrations grant only what it needs: the
    suite proves the service works with that much. `owner` is the owner's engine, for cleaning up and
    for the tests that tamper on purpose.
    """
    pg = _postgres_url()
    if pg:
        owner = _postgres_url("MIGRATION_DATABASE_URL") or pg
        schema = f"test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(owner)
        with admin.begin() as conn:  # fails loudly if PostgreSQL is unreachable
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url, owner_url = _in_schema(pg, schema), _in_schema(owner, schema)
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "MIGRATION_DATABASE_URL": owner_url})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        owner_engine = sa.create_engine(owner_url)
        yield {"kind": "postgresql", "url": url, "owner_url": owner_url, "owner": owner_engine}
        owner_engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        template = tmp_path_factory.mktemp("db") / "template.db"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{template}",
                          "MIGRATION_DATABASE_URL": ""})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield {"kind": "sqlite", "template": template}


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def app(database: dict[str, Any], tmp_path: Path, frozen_clock: FrozenClock) -> Iterator[Flask]:
    if database["kind"] == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(database["template"], path)
        url = f"sqlite:///{path}"
    else:
        url = database["url"]
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WORKFLOW_NOW": frozen_clock,
                      "MIGRATION_DATABASE_URL": database.get("owner_url", "")})
    with app.app_context():
        yield app
        # Every session of the test, also those of requests sent from a context of their own (Person, a
        # streamed export) whose teardown a test client may not reach: one left in a transaction would hold
        # its locks, and the TRUNCATE below would wait for it for ever.
        gc.collect()  # a streamed response nobody holds any more closes, and with it its request
        for session in list(db.session.registry.registry.values()):  # type: ignore[attr-defined]
            session.close()
        db.session.remove()
        if database["kind"] == "postgresql":
            _empty_tables(database["owner"])
        db.engine.dispose()


@pytest.fixture
def owner_engine(app: Flask, database: dict[str, Any]) -> sa.Engine:
    """The database as its owner reaches it, around the service's role: for tests that tamper on purpose.
    SQLite has no roles, so there it is the service's own engine."""
    return database["owner"] if database["kind"] == "postgresql" else db.engine


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def clock(app: Flask):
    return app.extensions["workflow_clock"]


@pytest.fixture
def published(app: Flask, clock) -> dict[str, int]:
    """The shipped workflows, published as version 1."""
    versions = {}
    for f in shipped_files():
        version, _ = publish_definition(db.session, f.read_text("utf-8"), str(f), "tests", clock.now(), f.stem)
        versions[version.key] = version.id
    db.session.commit()
    return versions


class Api:
    """Calls the JSON API as named users, creating each user (with the roles asked) on first use."""

    def __init__(self, client: FlaskClient, clock):
        self.client = client
        self.clock = clock
        self.tokens: dict[str, str] = {}

    def user(self, name: str, *roles: str, password: str | None = None) -> Actor:
        """`name` with `roles` (default: a role of the same name); a password lets them sign in to the UI too."""
        if name not in self.tokens:
            user = create_user(db.session, name, list(roles or [name]), self.clock.now(), password=password)
            # Ten years: the tests move the clock by months, and these tokens are not what they test.
            self.tokens[name] = issue_token(db.session, user, self.clock.now(), days=3650)
            db.session.commit()
        return Actor(name, frozenset(roles or [name]))

    def headers(self, name: str) -> dict[str, str]:
        self.user(name)
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def get(self, name: str, path: str, **kw: Any):
        return self.client.get(path, headers=self.headers(name), **kw)

    def post(self, name: str, path: str, body: Any = None, **kw: Any):
        return self.client.post(path, headers=self.headers(name), json=body, **kw)

    def open(self, name: str, workflow: str, data: dict[str, Any]) -> dict[str, Any]:
        response = self.post(name, "/api/v1/cases", {"workflow": workflow, "data": data})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def act(self, name: str, case: dict[str, Any], action: str, inputs: dict[str, Any] | None = None,
            comment: str | None = None, status: int = 200, expected_version: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": inputs or {}, "comment": comment}
        body["expected_version"] = case["lock_version"] if expected_version is None else expected_version
        response = self.post(name, f"/api/v1/cases/{case['id']}/actions/{action}", body)
        assert response.status_code == status, (action, response.get_json())
        return response.get_json()


@pytest.fixture
def api(client: FlaskClient, clock, published) -> Api:
    return Api(client, clock)


def snapshot(case_id: int) -> dict[str, Any]:
    """Every stored byte of a case: its row, its history rows and its timer rows, as the database has them."""
    with db.engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(
                sa.text(f"SELECT * FROM {table} WHERE {column} = :id ORDER BY id"), {"id": case_id}
            )]
            for table, column in (("cases", "id"), ("history", "case_id"), ("timers", "case_id"))
        }


@pytest.fixture
def staff(app: Flask, clock, published):
    """Makes people who sign in to the web UI: `staff("lead", "service_lead")`, whose password is
    `<name>-demo-pass` (as in the demo: long enough for PASSWORD_MIN_LENGTH)."""
    from workflow.engine.users import user_by_name

    def make(name: str, *roles: str) -> str:
        if user_by_name(db.session, name) is None:
            create_user(db.session, name, list(roles or [name]), clock.now(), password=f"{name}-demo-pass")
            db.session.commit()
        return name

    return make
