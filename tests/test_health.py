"""GET /healthz and GET /readyz: the process, then the database and its migrations."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade

from web import MIGRATIONS, create_app
from web.extensions import db


def _previous_revision() -> str:
    """The revision just before the head: a schema one migration behind this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def behind(database: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """An app on a database of its own, migrated to one revision before the head."""
    if database["kind"] == "sqlite":
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'behind.db'}",
                          "MIGRATION_DATABASE_URL": ""})
        with app.app_context():
            upgrade(revision=_previous_revision())
            yield app
            db.engine.dispose()
        return
    schema = f"test_behind_{uuid.uuid4().hex[:10]}"
    # The owner makes the schema and migrates it; the app then reads it as the service's role.
    base_owner = database["owner"].url.render_as_string(hide_password=False).split("?", 1)[0]
    base_app = sa.make_url(database["url"]).render_as_string(hide_password=False).split("?", 1)[0]
    admin = sa.create_engine(base_owner)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": _in_schema(base_app, schema),
                          "MIGRATION_DATABASE_URL": _in_schema(base_owner, schema)
                          if os.environ.get("MIGRATION_DATABASE_URL") else ""})
        with app.app_context():
            upgrade(revision=_previous_revision())
            yield app
            db.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_healthz_answers_without_touching_the_database_or_a_session(tmp_path):
    # A database that cannot be opened at all: the process is still up, and says so.
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_200_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready"}
    assert "Set-Cookie" not in response.headers


def test_readyz_is_503_with_a_reason_when_the_migrations_are_behind(behind):
    response = behind.test_client().get("/readyz")
    assert response.status_code == 503
    reason = response.get_json()["reason"]
    assert _previous_revision() in reason and "this code needs" in reason


def test_readyz_is_503_on_a_database_never_migrated_or_unreachable(tmp_path):
    empty = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"})
    response = empty.test_client().get("/readyz")
    assert response.status_code == 503 and "not migrated" in response.get_json()["reason"]

    missing = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = missing.test_client().get("/readyz")
    assert response.status_code == 503 and "unreachable" in response.get_json()["reason"]
    assert str(tmp_path) not in response.get_data(as_text=True)  # no path, host or user in the answer


def test_the_probes_are_not_redirected_to_https(database, tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
                      "FORCE_HTTPS": True})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503  # answered here, not redirected: the database is empty
    assert client.get("/sign-in").status_code == 302  # the pages still are
