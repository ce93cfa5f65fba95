"""GET /healthz and GET /readyz: the probes of a load balancer, an orchestrator or systemd (docs/operations.md).

/healthz says the process answers and touches nothing else: a database outage must not get every server
restarted. /readyz says this process can serve now: the database answers and its schema is at the head of
the migrations shipped with this code (the code may need columns an older schema lacks; a newer schema means
this code is the stale one). Neither needs a session, reads a cookie or says anything about a case; the
reason of a 503 is short and names no host, user or password.
"""

from __future__ import annotations

from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db


def _head(app: Flask) -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code, read once per app."""
    heads: frozenset[str] | None = app.extensions.get("migration_heads")
    if heads is None:
        config = Config()
        config.set_main_option("script_location", app.extensions["migrate"].directory)
        heads = frozenset(ScriptDirectory.from_config(config).get_heads())
        app.extensions["migration_heads"] = heads
    return heads


def not_ready_because() -> str | None:
    """Why this process cannot serve now, or None when it can."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        current_app.logger.warning("readyz: database check failed: %s", exc)
        return "database unreachable or alembic_version unreadable"
    head = _head(current_app._get_current_object())  # type: ignore[attr-defined]  # the real app, to cache on
    if not current:
        return "database not migrated (no alembic_version)"
    if current != head:
        return f"database at migration {', '.join(sorted(current))}; this code needs {', '.join(sorted(head))}"
    return None


def healthz() -> Any:
    return {"status": "ok"}


def readyz() -> Any:
    reason = not_ready_because()
    if reason is not None:
        return {"status": "not ready", "reason": reason}, 503
    return {"status": "ready"}


def init_app(app: Flask) -> None:
    from .security import without_https_redirect

    app.add_url_rule("/healthz", "healthz", without_https_redirect(app, healthz))
    app.add_url_rule("/readyz", "readyz", without_https_redirect(app, readyz))
