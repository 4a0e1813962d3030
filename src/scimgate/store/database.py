"""The database engine and its transactions: one request is one transaction.

SQLite specifics, each for a reason:

* WAL, so readers are never blocked by a writer; ``synchronous=FULL`` so an acknowledged write survives power loss.
* ``foreign_keys=ON`` on every connection (SQLite's default is off, which would leave memberships of deleted users).
* Writes open with ``BEGIN IMMEDIATE`` and wait on ``busy_timeout``: a deferred transaction that reads and then
  writes can fail with "database is locked" when it tries to upgrade its lock, which would surface as an error.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scimgate.scim.compare import comparison_key

SQLITE_BUSY_TIMEOUT_MS = 10_000


class Database:
    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        if self.url.drivername in ("postgresql", "postgres"):
            # A plain postgresql:// URL means psycopg 3 here (SQLAlchemy's own default would be psycopg2).
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.engine = _create_engine(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends and rolls back everything if it raises."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(scimgate_write=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own transaction handling is deferred-only).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            # LIKE must respect case as on PostgreSQL: co/sw/ew on id and externalId are case-exact, and the
            # case-insensitive attributes are compared on their already-folded key columns.
            "case_sensitive_like=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        # fold() in scimgate.store.sql: the same comparison key as the indexed *_key columns.
        dbapi_conn.create_function("scimgate_fold", 1, _fold, deterministic=True)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("scimgate_write") else "BEGIN")

    return engine


def _fold(value: object) -> str | None:
    return comparison_key(value) if isinstance(value, str) else None
