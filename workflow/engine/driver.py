"""The few statements every move runs, sent on the driver's own cursor of the session's connection.

Through SQLAlchemy, even a prebuilt Core statement costs 40–60 µs of Python per execution (an execution
context, parameter processing, a result object, events); on the driver's cursor the same statement costs
4–10 µs, and a move runs three of them (load, compare-and-set, history row) besides a COMMIT that costs
about as much as all of them (docs/performance.md). So these statements, and only these, are run here:

- each is an ordinary Core statement, compiled once per dialect by SQLAlchemy: the SQL text is exactly the
  one SQLAlchemy sends (quoting, casts, RETURNING, the driver's paramstyle);
- values go in and come out through the columns' own type processors, so rows are byte-identical to those
  a Core statement writes (JSON text, datetimes on SQLite) and loaded values equal what the ORM hands back;
- the connection's `before_cursor_execute` and `after_cursor_execute` listeners hear every statement, as for
  any other (the request's write tracking in web/extensions.py, the tests' statement counts);
- the cursor is the one of the session's connection, so the statement is part of the session's transaction
  (and of its SAVEPOINT, if one is open), and a driver error comes out as SQLAlchemy's DBAPIError.

On PostgreSQL, statements sent inside `pipeline` go to the server together and their results come back
together at the block's end (psycopg's pipeline mode): a move's writes cost one round trip instead of one
each. What `send` hands back is read after the block; on SQLite each statement simply runs as it is sent.

An INSERT gets the scalar defaults of the columns the caller leaves out, as SQLAlchemy would fill them in;
any other parameter the caller does not give (a default computed by a function, say) sends the statement
through SQLAlchemy instead, so nothing is ever written differently here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Insert, exc, inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from ..models import Base

Processor = Callable[[Any], Any] | None


@dataclass
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order a positional paramstyle sends them
    binds: tuple[Processor, ...]
    positional: bool
    fixed: dict[str, Any]  # the values written into the statement (`status == "running"`), by parameter name
    results: list[Processor] | None = None  # from the first result's description


class Prebuilt:
    """A Core statement run on the driver's cursor (see the module's docstring)."""

    def __init__(self, statement: Executable, keys: Sequence[str] | None = None):
        """`keys`: for an INSERT or UPDATE, the columns it writes (as SQLAlchemy's `column_keys`)."""
        self.statement = statement
        self.defaults: dict[str, Any] = {}
        if isinstance(statement, Insert) and keys is not None:
            self.defaults = {column.key: cast(ScalarElementColumnDefault, column.default).arg
                             for column in statement.table.columns
                             if column.key not in keys and column.default is not None and column.default.is_scalar}
        self.keys = [*keys, *self.defaults] if keys is not None else None
        self._result_types = [c.type for c in getattr(statement, "exported_columns", ())]
        # By dialect object (a weak dictionary would cost a weak reference per statement): one per engine,
        # bounded for processes that make many (the tests).
        self._by_dialect: dict[Dialect, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect)
        if found is None:
            if len(self._by_dialect) >= 64:
                self._by_dialect.clear()
            assert isinstance(self.statement, ClauseElement)
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect, column_keys=self.keys))
            positional = bool(compiled.positional)
            names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
            binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
            fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
            found = self._by_dialect[dialect] = _Compiled(compiled.string, names, binds, positional, fixed)
        return found

    def _missing(self, conn: Connection, params: Mapping[str, Any]) -> bool:
        compiled = self._compiled(conn.dialect)
        return any(name not in params and name not in self.defaults and name not in compiled.fixed
                   for name in compiled.names)

    def _args(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        if self.defaults or compiled.fixed:
            params = {**self.defaults, **compiled.fixed, **params}
        values = [params[name] if proc is None else proc(params[name])
                  for name, proc in zip(compiled.names, compiled.binds, strict=True)]
        return values if compiled.positional else dict(zip(compiled.names, values, strict=True))

    def _cursor(
        self, conn: Connection, params: Mapping[str, Any] | None, many: Sequence[Mapping[str, Any]] = ()
    ) -> Any:
        """Run the statement with `params` (or each of `many`) on a new DBAPI cursor of `conn`; the cursor."""
        compiled = self._compiled(conn.dialect)
        args: Any = [self._args(compiled, p) for p in many] if params is None else self._args(compiled, params)
        cursor = conn.connection.cursor()
        dispatch: Any = conn.dispatch
        dispatch.before_cursor_execute(conn, cursor, compiled.sql, args, None, params is None)
        try:
            if params is None:
                cursor.executemany(compiled.sql, args)
            else:
                cursor.execute(compiled.sql, args)
        except conn.dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise _wrapped(conn, error, compiled.sql, args) from error
        dispatch.after_cursor_execute(conn, cursor, compiled.sql, args, None, params is None)
        return cursor

    def send(self, conn: Connection, params: Mapping[str, Any]) -> Sent:
        """Send the statement; its rows or row count are read from what this hands back (in a pipeline: after it)."""
        self._complete(conn, params)
        return Sent(self, conn.dialect, self._cursor(conn, params))

    def send_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> Sent:
        """`send` for each of `rows` at once (the driver's executemany)."""
        self._complete(conn, *rows)
        return Sent(self, conn.dialect, self._cursor(conn, None, rows))

    def _complete(self, conn: Connection, *params: Mapping[str, Any]) -> None:
        """What is sent must be whole: only `rows` and `rowcount` hand an incomplete statement to SQLAlchemy."""
        if any(self._missing(conn, p) for p in params):
            raise ValueError(f"parameters missing for {self._compiled(conn.dialect).sql!r}")  # a caller's mistake

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows the statement returns, each value as its column's type hands it back."""
        if self._missing(conn, params):  # SQLAlchemy fills in what the caller left out
            return [tuple(row) for row in conn.execute(self.statement, dict(params))]
        return Sent(self, conn.dialect, self._cursor(conn, params)).rows()

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run the statement; the number of rows it matched."""
        if self._missing(conn, params):
            return int(conn.execute(self.statement, dict(params)).rowcount)
        return Sent(self, conn.dialect, self._cursor(conn, params)).rowcount()

    def _result_processors(self, dialect: Dialect, cursor: Any) -> list[Processor]:
        compiled = self._compiled(dialect)
        if compiled.results is None:
            # Read once: psycopg builds a Column object per column on each read of `description`.
            compiled.results = [
                type_.dialect_impl(dialect).result_processor(dialect, column[1])
                for type_, column in zip(self._result_types, cursor.description, strict=True)
            ]
        return compiled.results


class Sent:
    """A statement sent on the driver, its results not read yet. Each is read once."""

    def __init__(self, prebuilt: Prebuilt, dialect: Dialect, cursor: Any):
        self.prebuilt, self.dialect, self.cursor = prebuilt, dialect, cursor

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows the statement returned, each value as its column's type hands it back."""
        try:
            raw = self.cursor.fetchall()
            processors = self.prebuilt._result_processors(self.dialect, self.cursor)
        finally:
            self.cursor.close()
        return [tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in raw]

    def rowcount(self) -> int:
        """The number of rows the statement matched (-1 when the statement never ran: a pipeline failed first)."""
        try:
            return int(self.cursor.rowcount)
        finally:
            self.cursor.close()

    def close(self) -> None:
        """Done with it, its answer not needed (an INSERT without RETURNING)."""
        self.cursor.close()


@contextlib.contextmanager
def pipeline(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, what is sent inside travels together and is answered at the block's end (see the module).

    The first error of the pipeline comes out at the end as SQLAlchemy's DBAPIError; the statements sent after
    it did not run. Only statements sent on the driver belong inside: SQLAlchemy's own reads would find no
    result yet.
    """
    dbapi: Any = conn.connection.dbapi_connection
    if not (hasattr(dbapi, "pipeline") and _pipelines()):  # sqlite3; a libpq older than 14
        yield
        return
    try:
        with dbapi.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(conn, error, "(pipeline)", None) from error


@functools.cache
def _pipelines() -> bool:
    """Whether psycopg's libpq has pipeline mode (14 and later; psycopg[binary] brings its own)."""
    import psycopg  # only where the connection is psycopg's

    return bool(psycopg.Pipeline.is_supported())


def _wrapped(conn: Connection, error: Any, sql: str, args: Any) -> exc.StatementError:
    """The driver's `error` as SQLAlchemy raises it; a lost connection is invalidated, as SQLAlchemy does."""
    if conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None):
        conn.invalidate(error)
    wrapped: exc.StatementError = exc.DBAPIError.instance(
        sql, args, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect)
    return wrapped


def loaded_columns(cls: type[Base]) -> list[tuple[str, Column[Any]]]:
    """(attribute, column) of every column the ORM loads with an instance of `cls` (deferred ones aside)."""
    return [(prop.key, cast(Column[Any], prop.columns[0])) for prop in inspect(cls).column_attrs if not prop.deferred]


def persistent(cls: type[Base], values: dict[str, Any]) -> Any:
    """An instance of `cls` as the ORM builds a loaded row (values straight into __dict__), not yet in a session."""
    instance = inspect(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)  # persistent state: committed values, the rest loaded on access
    return instance
