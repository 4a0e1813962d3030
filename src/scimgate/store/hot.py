"""The statements every SCIM request runs, run straight on the DB-API cursor (issue 21).

Through SQLAlchemy Core, running a statement that is already built and cached costs 40–60 µs of Python around the
5–10 µs SQLite takes to run it (a ``userName eq`` lookup: 100 µs against 10 µs raw, measured on the development
machine); a PATCH runs about ten of them. These statements are still written once, as SQLAlchemy Core, for both
backends: each is compiled once per dialect, and then run on the connection's DB-API cursor, inside the caller's
transaction. What SQLAlchemy would do around them is done here, the same way:

* the column types' own bind and result processors (JSON documents, SQLite's timestamps as text), taken from
  SQLAlchemy, so a value reads back exactly as through ``Connection.execute``;
* the ``before_cursor_execute`` listeners: the statement deadline (``database.py``), and tests that watch or pause
  at each statement (the interleaving suite);
* database errors raised as SQLAlchemy's exception classes (``IntegrityError``, ``OperationalError`` …), and a
  dropped connection invalidated, so the callers' handling (409 on a taken key, 503 when storage is unavailable)
  does not change.

``IN`` lists (``bindparam(..., expanding=True)``) are expanded per call, as SQLAlchemy does.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

Row = tuple[Any, ...]
WRITE = "scimgate_write"
"""The execution option of a write transaction's connection (``Database.write``)."""
_Processor = Callable[[Any], Any] | None
_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None
    """Parameter names in order (SQLite's qmark paramstyle); None when the driver takes them by name (psycopg)."""
    defaults: dict[str, Any]
    binds: dict[str, _Processor]
    results: tuple[_Processor, ...]
    expanding: frozenset[str]
    expansions: dict[tuple[tuple[str, int], ...], str] = field(default_factory=dict)
    """The SQL for given ``IN`` list lengths (``_expanded``)."""


class Statement:
    """One statement, compiled once per dialect and run on the DB-API cursor."""

    def __init__(self, build: sa.Executable) -> None:
        self.statement = build
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        # Per dialect class and JSON encoder, both of which the bind processors depend on (every engine of
        # scimgate's shares them, so each statement is compiled once per backend, not once per engine).
        key = (type(dialect), dialect.paramstyle, getattr(dialect, "_json_serializer", None))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _compile(self.statement, dialect)
        return compiled

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Row]:
        """Run it with these parameters; the rows it returns (none for a statement without RETURNING)."""
        compiled = self._for(conn.dialect)
        sql, args = _arguments(compiled, params)
        cursor = _execute(conn, sql, args, many=False)
        try:
            if cursor.description is None:
                return []
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        results = compiled.results
        if not any(results):
            return [tuple(row) for row in fetched]
        return [
            tuple(value if fn is None else fn(value) for fn, value in zip(results, row, strict=True)) for row in fetched
        ]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Row | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]

    def many(self, conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run it once per parameter set, in one DB-API ``executemany`` (an INSERT of several rows)."""
        if not params:
            return
        compiled = self._for(conn.dialect)
        arguments = [_arguments(compiled, each) for each in params]
        cursor = _execute(conn, arguments[0][0], [args for _sql, args in arguments], many=True)
        cursor.close()


def run_sql(conn: Connection, sql: str, *, opening: bool = False) -> None:
    """One statement without parameters (``SAVEPOINT``…), on the DB-API cursor with the same listeners;
    ``opening``: it starts the transaction (``BEGIN IMMEDIATE``)."""
    _execute(conn, sql, (), many=False, opening=opening).close()


def _execute(conn: Connection, sql: str, args: Any, *, many: bool, opening: bool = False) -> Any:
    raw = conn.connection
    if not opening and conn.dialect.name == "sqlite" and conn.get_execution_options().get(WRITE):
        # SQLite rolls a transaction back by itself on some failures (a statement stopped at its deadline, a full
        # disk); the connection would then run each further statement in a transaction of its own, committed: a
        # failed request could leave part of its work. Refused instead.
        if not getattr(raw.dbapi_connection, "in_transaction", True):
            raise sa.exc.OperationalError(sql, None, Exception("the write transaction was rolled back by SQLite"))
    cursor = raw.cursor()
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, args, None, many)
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as error:
        cursor.close()
        raise _wrapped(conn, sql, args, error, cursor) from error
    except BaseException:
        cursor.close()
        raise
    return cursor


def _wrapped(conn: Connection, sql: str, args: Any, error: Exception, cursor: Any) -> BaseException:
    """The error as SQLAlchemy would raise it: the DBAPIError subclass for its kind, the connection invalidated if
    it was lost (the pool then replaces it)."""
    dialect = conn.dialect
    lost = bool(dialect.is_disconnect(cast(Any, error), conn.connection.dbapi_connection, cursor))
    if lost:
        # As SQLAlchemy does on a disconnect: every pooled connection older than now is replaced when next
        # checked out (the server went away for all of them), then this one is discarded.
        conn.engine.pool._invalidate(conn.connection, error)
        conn.invalidate(error)
    return sa.exc.DBAPIError.instance(
        sql, args, error, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> tuple[str, Any]:
    values = {**compiled.defaults, **params} if compiled.defaults else dict(params)
    for name, process in compiled.binds.items():
        if process is not None and name in values:  # None too: a JSON column stores None as SQLAlchemy does
            value = values[name]
            values[name] = [process(item) for item in value] if name in compiled.expanding else process(value)
    if not compiled.expanding:
        if compiled.positional is None:
            return compiled.sql, values
        return compiled.sql, tuple(values[name] for name in compiled.positional)
    lists = {name: list(values[name]) for name in compiled.expanding}
    sql = _expanded(compiled, {name: len(items) for name, items in lists.items()})
    if compiled.positional is None:
        for name, items in lists.items():
            values.update({f"{name}_{index}": item for index, item in enumerate(items)})
        return sql, values
    args: list[Any] = []
    for name in compiled.positional:
        if name in lists:
            args += lists[name]
        else:
            args.append(values[name])
    return sql, tuple(args)


def _expanded(compiled: _Compiled, lengths: dict[str, int]) -> str:
    """The SQL with one placeholder per value of each ``IN`` list, in the driver's paramstyle (SQLAlchemy's
    "post-compile"); remembered for short lists, which are most of them (a user's groups, one member)."""
    key = tuple(sorted(lengths.items()))
    sql = compiled.expansions.get(key)
    if sql is not None:
        return sql

    def placeholders(match: re.Match[str]) -> str:
        name = match.group(1)
        if not lengths[name]:
            return "NULL) AND (1 != 1"  # "x IN (NULL) AND (1 != 1)": matches nothing, as SQLAlchemy renders it
        if compiled.positional is not None:
            return ", ".join("?" for _ in range(lengths[name]))
        return ", ".join(f"%({name}_{index})s" for index in range(lengths[name]))

    sql = _EXPANDING.sub(placeholders, compiled.sql)
    if max(lengths.values()) <= _REMEMBERED_LENGTH:
        compiled.expansions[key] = sql
    return sql


_REMEMBERED_LENGTH = 64


def _compile(statement: sa.Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    binds: dict[str, _Processor] = {}
    defaults: dict[str, Any] = {}
    expanding: set[str] = set()
    for name, bind in compiled.binds.items():
        binds[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.expanding:
            expanding.add(name)
        elif not bind.required and bind.value is not None:
            defaults[name] = bind.effective_value
    positional = tuple(compiled.positiontup) if compiled.positional else None
    columns = _returned(statement)
    results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
    if "NOT IN (__[POSTCOMPILE_" in compiled.string:  # an empty list would render as matching nothing
        raise NotImplementedError("NOT IN with an expanding list")
    if positional is not None and dialect.paramstyle != "qmark":
        raise NotImplementedError(f"paramstyle {dialect.paramstyle}")  # SQLite is qmark, psycopg takes names
    return _Compiled(compiled.string, positional, defaults, binds, results, frozenset(expanding))


def _returned(statement: sa.Executable) -> list[sa.ColumnElement[Any]]:
    if isinstance(statement, sa.Select):
        return list(statement.selected_columns)
    columns = getattr(statement, "exported_columns", None)
    return list(columns) if columns is not None else []
