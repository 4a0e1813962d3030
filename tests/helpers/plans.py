"""Query plans, as the database would run a statement: for tests that a lookup is served by an index."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from scimgate.store.database import Database


def plan(database: Database, statement: str, parameters: Any) -> str:
    """SQLite's EXPLAIN QUERY PLAN or PostgreSQL's EXPLAIN of a statement, one line per step."""
    with database.read() as conn:
        if database.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(str(row[-1]) for row in rows)
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))


@contextmanager
def recorded_selects(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements this thread sends inside the block, with their parameters (filled in as they are
    sent). Only this thread's: the app's background work (the provisioning log, the event sequencer) reads too."""
    statements: list[tuple[str, Any]] = []
    owner = threading.get_ident()

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if threading.get_ident() == owner and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def analyze(database: Database) -> None:
    """Fresh statistics, so the planner picks what it would pick in production."""
    with database.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
