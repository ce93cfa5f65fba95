"""Flask extensions, created unbound and wired by `init_app` in the app factory."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from workflow.engine.clock import Clock
from workflow.models import Base

# Not expired on commit: a request answers from the objects it holds (the case it just moved, the user it
# authenticated) rather than reading them again in a new transaction. Each request has its own session,
# so nothing outlives the request that loaded it.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(render_as_batch=True, compare_type=True)  # batch: SQLite cannot ALTER most things


def db_session() -> Session:
    """The current request's (or CLI command's) database session, as the engine's functions take it.

    `db.session` is a scoped proxy; calling it gives the one Session behind it, so web code passes a real
    `Session` to the engine and mypy checks the call. Use `db_session()` in web/ rather than `db.session`.
    """
    return db.session()


_WROTE = "wrote"  # Connection.info: a statement other than a SELECT since the transaction began


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    # Seen at the connection, every write counts: ORM flushes, and the engine's Core statements (a move's
    # UPDATE and INSERTs) that no ORM event reports. Anything not a SELECT counts, so a doubt rolls back.
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_WROTE] = True


def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


event.listen(Engine, "commit", _forget_writes)
event.listen(Engine, "rollback", _forget_writes)
# The pool's own reset ROLLBACK fires no connection event: forget at check-in too.
event.listen(Pool, "checkin", lambda _dbapi, record: record.info.pop(_WROTE, None))


def wrote(session: Session) -> bool:
    """Whether the session's transaction has written anything: pending ORM changes or any statement not a SELECT."""
    return bool(session.new or session.dirty or session.deleted) or bool(session.connection().info.get(_WROTE))


def end_transaction(exc: BaseException | None) -> None:
    """At the end of a request (or CLI command): commit a transaction that only read, roll back the rest.

    Ending on COMMIT rather than the pool's ROLLBACK keeps psycopg's prepared statements: a ROLLBACK
    empties its cache, and PostgreSQL would parse and plan every statement of the next request again.
    A write nobody committed (a request that failed half-way) is still rolled back, never committed here.
    """
    session = db.session()
    if not session.in_transaction():
        return
    if exc is None and not wrote(session):
        session.commit()
    else:
        session.rollback()


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
