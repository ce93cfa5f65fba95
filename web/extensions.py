"""Flask extensions, created unbound and wired by `init_app` in the app factory."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workflow.engine.clock import Clock
from workflow.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)  # batch: SQLite cannot ALTER most things


def db_session() -> Session:
    """The current request's (or CLI command's) database session, as the engine's functions take it.

    `db.session` is a scoped proxy; calling it gives the one Session behind it, so web code passes a real
    `Session` to the engine and mypy checks the call. Use `db_session()` in web/ rather than `db.session`.
    """
    return db.session()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys only when asked, per connection; WAL lets readers work during writes.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def clock() -> Clock:
    """The service's clock (time zone, working hours, holidays), made once by the app factory."""
    return cast(Clock, current_app.extensions["workflow_clock"])
