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

An INSERT gets the scalar defaults of the columns the caller leaves out, as SQLAlchemy would fill them in;
any other parameter the caller does not give (a default computed by a function, say) sends the statement
through SQLAlchemy instead, so nothing is ever written differently here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
            if conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor):
                conn.invalidate(error)
            raise exc.DBAPIError.instance(
                compiled.sql, args, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from error
        dispatch.after_cursor_execute(conn, cursor, compiled.sql, args, None, params is None)
        return cursor

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows the statement returns, each value as its column's type hands it back."""
        if self._missing(conn, params):  # SQLAlchemy fills in what the caller left out
            return [tuple(row) for row in conn.execute(self.statement, dict(params))]
        cursor = self._cursor(conn, params)
        try:
            raw = cursor.fetchall()
            processors = self._result_processors(conn.dialect, cursor)
        finally:
            cursor.close()
        return [tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True)) for row in raw]

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run the statement; the number of rows it matched."""
        if self._missing(conn, params):
            return int(conn.execute(self.statement, dict(params)).rowcount)
        cursor = self._cursor(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each of `rows` (the driver's executemany); nothing is handed back."""
        if not rows:
            return
        if any(self._missing(conn, row) for row in rows):
            conn.execute(self.statement, [dict(row) for row in rows])
            return
        self._cursor(conn, None, rows).close()

    def _result_processors(self, dialect: Dialect, cursor: Any) -> list[Processor]:
        compiled = self._compiled(dialect)
        if compiled.results is None:
            # Read once: psycopg builds a Column object per column on each read of `description`.
            compiled.results = [
                type_.dialect_impl(dialect).result_processor(dialect, column[1])
                for type_, column in zip(self._result_types, cursor.description, strict=True)
            ]
        return compiled.results


def loaded_columns(cls: type[Base]) -> list[tuple[str, Column[Any]]]:
    """(attribute, column) of every column the ORM loads with an instance of `cls` (deferred ones aside)."""
    return [(prop.key, cast(Column[Any], prop.columns[0])) for prop in inspect(cls).column_attrs if not prop.deferred]


def persistent(cls: type[Base], values: dict[str, Any]) -> Any:
    """An instance of `cls` as the ORM builds a loaded row (values straight into __dict__), not yet in a session."""
    instance = inspect(cls).class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)  # persistent state: committed values, the rest loaded on access
    return instance
