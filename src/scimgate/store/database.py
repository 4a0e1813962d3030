"""The database engine and its transactions: one request is one transaction.

SQLite specifics, each for a reason:

* WAL, so readers are never blocked by a writer; ``synchronous=FULL`` so an acknowledged write survives power loss.
* ``foreign_keys=ON`` on every connection (SQLite's default is off, which would leave memberships of deleted users).
* Writes open with ``BEGIN IMMEDIATE`` and wait on ``busy_timeout`` (the statement timeout): a deferred
  transaction that reads and then writes can fail with "database is locked" when it tries to upgrade its lock,
  which would surface as an error.
* Statements stop at the statement timeout (a progress handler; SQLite has no timeout of its own), so a
  pathological query is a ``503`` like on PostgreSQL, not a worker busy for minutes.
* Writers of one process take turns on a lock of ours before ``BEGIN IMMEDIATE``. SQLite has one write lock per
  file and its busy handler waits by sleeping and retrying with growing sleeps (up to 100 ms each): with 16
  concurrent writers that turned a 5 ms write into a one-second p99. A Python lock hands over the moment the
  previous writer commits; ``busy_timeout`` is still what makes several processes (``--workers``) take turns.

PostgreSQL specifics: a connect timeout and a statement timeout, so a database that is down or stuck becomes a
``503`` with ``Retry-After`` within seconds rather than a hung request; a ping of connections idle over a second
(``_ping_if_idle``, a cheaper ``pool_pre_ping``), so the pool recovers by itself when the database is back; and
``retrying``, which re-runs a whole transaction that lost a serialization conflict or a deadlock.

Pool sizing: each worker process keeps up to ``db_pool_size`` connections (plus as many again in overflow while
busy); N workers need N × 2 × ``db_pool_size`` connections below PostgreSQL's ``max_connections``.
"""

import asyncio
import math
import random
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scimgate.config import Settings
from scimgate.instants import sqlite_instant
from scimgate.jsonio import dumps_text
from scimgate.store.files import private_file, sqlite_file
from scimgate.store.group_commit import GroupCommit
from scimgate.store.hot import WRITE, run_sql
from scimgate.text import comparison_key

T = TypeVar("T")


@dataclass(frozen=True)
class DatabaseLimits:
    pool_size: int = 10
    statement_timeout: float = 30.0
    connect_timeout: int = 5


class Database:
    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        limits = DatabaseLimits(pool_size=settings.db_pool_size, statement_timeout=settings.db_statement_timeout)
        return cls(settings.resolved_database_url(), limits)

    def __init__(self, url: str, limits: DatabaseLimits | None = None) -> None:
        self.url = sa.make_url(url)
        if self.url.drivername in ("postgresql", "postgres"):
            # A plain postgresql:// URL means psycopg 3 here (SQLAlchemy's own default would be psycopg2).
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.limits = limits or DatabaseLimits()
        path = sqlite_file(self.url)
        if path is not None:
            private_file(path)  # 0600, not SQLite's 0644: it holds keys, secrets and personal data (finding 7)
        self.engine = _create_engine(self.url, self.limits)
        self._disposed = False
        sa.event.listen(self.engine, "connect", self._note_pool)
        self._kept: dict[int, Connection] = {}  # thread → its read connection (``_loop_connection``)
        self._kept_lock = threading.Lock()
        sa.event.listen(self.engine, "checkin", self._close_if_disposed)
        self._writer = threading.Lock() if self.is_sqlite else None
        # SQLite: the SCIM writes of this process share transactions and fsyncs (store/group_commit.py).
        self._group = GroupCommit(self, self.limits.statement_timeout) if self.is_sqlite else None
        # When a write last failed because storage could not take it (full, read-only, down, too slow), and why:
        # readiness (/readyz) stays false for a while after one, so a load balancer sends writes elsewhere.
        self.last_write_fault: tuple[float, str] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """A read-only transaction: its statements see one snapshot. ``snapshot=False``, for a read whose
        statements need not agree to the instant (a resource, then its groups): on PostgreSQL each statement runs
        on its own (autocommit), which saves the BEGIN and COMMIT round trips, 90 µs of a 310 µs lookup here.
        Inside ``read_deadline`` it is a transaction all the same: that is what bounds each statement there."""
        if self.is_sqlite and asyncio._get_running_loop() is not None:
            with self._loop_connection() as conn, conn.begin():
                yield conn
            return
        if snapshot or self.is_sqlite or _read_deadline.get() is not None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _loop_connection(self) -> Iterator[Connection]:
        """SQLite, on an event loop's thread (the SCIM reads that run inline, scimgate.scim.endpoints): a connection
        kept for that thread, not taken from the pool and given back each time, which cost a tenth of a lookup's
        CPU in SQLAlchemy (issue 21). Only an event loop's thread keeps one: the thread pool's forty threads would
        each hold one of the pool's connections. A read nested in another, or after dispose: a pooled one."""
        conn = self._kept.get(threading.get_ident())
        if conn is None or not _reusable(conn):
            conn = self._keep(conn)
        if conn is None or conn.in_transaction():
            with self.engine.connect() as pooled:
                yield pooled
            return
        yield conn

    def _keep(self, stale: Connection | None) -> Connection | None:
        """A new kept connection for this thread (``stale`` closed), or None once disposed or when ``_MOST_KEPT``
        threads keep one already. The connections of
        threads that have ended go back first: each test client, each embedding application's loop runs on a
        thread of its own, and their connections must not pile up until the pool is exhausted."""
        with self._kept_lock:
            if stale is not None:
                stale.close()
            alive = {thread.ident for thread in threading.enumerate()}
            for ident in [ident for ident in self._kept if ident not in alive or self._kept[ident] is stale]:
                self._kept.pop(ident).close()
            if self._disposed or len(self._kept) >= _MOST_KEPT:
                return None
            conn = self._kept[threading.get_ident()] = self.engine.connect()
            return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends and rolls back everything if it raises."""
        try:
            with self._serialised(), self._transaction() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as error:
            self.note_fault(error)
            raise

    def run_write(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in a write transaction; its result once committed, or its exception (nothing written).
        On SQLite, with other SCIM writes of this process in the same transaction, each in its own savepoint
        (group commit); elsewhere, in a transaction of its own. ``work`` must not start another write."""
        if self._group is None:
            with self.write() as conn:
                return work(conn)
        return self._group.run(work)

    def note_fault(self, error: BaseException) -> None:
        """Remember a write that failed because storage could not take it (readiness turns false for a while)."""
        if isinstance(error, sa.exc.SQLAlchemyError) and is_unavailable(error) and not _lost_race(error):
            self.last_write_fault = (time.monotonic(), fault_name(error))

    def write_fault_within(self, seconds: float) -> tuple[float, str] | None:
        """How long ago a write last failed on storage, and why, if that was within ``seconds``."""
        fault = self.last_write_fault
        if fault is None or time.monotonic() - fault[0] > seconds:
            return None
        return time.monotonic() - fault[0], fault[1]

    @contextmanager
    def _serialised(self) -> Iterator[None]:
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=self.limits.statement_timeout):
            # Waiting this long for the write lock is "busy", as when busy_timeout runs out: a 503, not a 500.
            raise sa.exc.TimeoutError("timed out waiting for this process's SQLite write lock")
        try:
            yield
        finally:
            self._writer.release()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    def optimize(self) -> None:
        """Refresh SQLite's query-planner statistics (PostgreSQL's autovacuum keeps its own). Without them SQLite
        cannot tell a selective index (a declared, indexed custom attribute) from scanning a directory in id
        order. ``analysis_limit`` samples each index, so this takes milliseconds whatever the table's size."""
        if not self.is_sqlite:
            return
        with self.write() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self._disposed = True
        if self._group is not None:
            self._group.stop()
        with self._kept_lock:
            for conn in self._kept.values():
                conn.close()
            self._kept.clear()
        self.engine.dispose()

    def _note_pool(self, _dbapi_conn: Any, record: Any) -> None:
        record.info["scimgate_pool"] = weakref.ref(self.engine.pool)

    def _close_if_disposed(self, dbapi_conn: Any, record: Any) -> None:
        # engine.dispose() (ours, or a test's) closes the pooled connections only: one still checked out (a scan
        # abandoned at its deadline, a request running at shutdown) would come back to the discarded pool and stay
        # open until the garbage collector found it, holding a server backend meanwhile. Closed as it comes back.
        pool = record.info.get("scimgate_pool")
        if dbapi_conn is not None and (self._disposed or pool is None or pool() is not self.engine.pool):
            record.invalidate()


def _create_engine(url: sa.URL, limits: DatabaseLimits) -> Engine:
    if url.get_backend_name() != "sqlite":
        engine = sa.create_engine(
            url,
            json_serializer=dumps_text,
            pool_size=limits.pool_size,
            max_overflow=limits.pool_size,
            pool_timeout=limits.connect_timeout * 2,
            connect_args={
                "connect_timeout": limits.connect_timeout,
                "options": f"-c statement_timeout={int(limits.statement_timeout * 1000)}",
            },
        )

        @sa.event.listens_for(engine, "checkout")
        def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            # pool_pre_ping pinged on every checkout: a round trip (60 µs here) before every request's first
            # statement (issue 21). A connection is pinged only when the server may have dropped it: it sat in the
            # pool for over a second, or something arrived on it while it sat there (a restart, a failover or a
            # terminated backend sends its goodbye; an idle connection is sent nothing else). A dead one is
            # replaced: SQLAlchemy takes another connection on DisconnectionError.
            idle = time.monotonic() - record.info.get("scimgate_returned", 0.0)
            if idle > _PING_AFTER_IDLE or _spoken_to(dbapi_conn):
                try:
                    engine.dialect.do_ping(dbapi_conn)
                except Exception as error:
                    raise sa.exc.DisconnectionError(str(error)) from error

        @sa.event.listens_for(engine, "checkin")
        def _returned(_dbapi_conn: Any, record: Any) -> None:
            record.info["scimgate_returned"] = time.monotonic()

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _shorter_timeout(conn: Connection, cursor: Any, *_args: Any) -> None:
            # Inside read_deadline: each statement gets what is left of the read's time, so the read as a whole ends
            # by its deadline (an extra round trip, for the reads that may scan only).
            deadline = _read_deadline.get()
            if deadline is not None and conn.in_transaction():
                left = min(deadline - time.monotonic(), limits.statement_timeout)
                cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")

        return engine
    # Waiting for another writer's lock is SQLite's "statement running long": the same limit applies, then 503.
    busy_ms = int(limits.statement_timeout * 1000)
    engine = sa.create_engine(
        url, json_serializer=dumps_text, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000}
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own transaction handling is deferred-only).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            f"busy_timeout={busy_ms}",
            # LIKE must respect case as on PostgreSQL: co/sw/ew on id and externalId are case-exact, and the
            # case-insensitive attributes are compared on their already-folded key columns.
            "case_sensitive_like=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        # fold() in scimgate.store.sql: the same comparison key as the indexed *_key columns.
        dbapi_conn.create_function("scimgate_fold", 1, _fold, deterministic=True)
        # instant() in scimgate.store.sql: dateTime values compared as instants (PostgreSQL: migration 0015).
        dbapi_conn.create_function("scimgate_instant", 1, sqlite_instant, deterministic=True)
        # SQLite has no statement timeout: a pathological query (a co filter on a multi-valued attribute over a
        # million users) would run to its end. The progress handler aborts it past the deadline ("interrupted":
        # a 503, as PostgreSQL's statement_timeout gives), and the connection goes back to the pool as it was.
        deadline = record.info.setdefault("scimgate_deadline", [math.inf])
        dbapi_conn.set_progress_handler(lambda: time.monotonic() > deadline[0], _PROGRESS_STEPS)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _start_clock(conn: Connection, *_args: Any) -> None:
        unlimited = conn.get_execution_options().get(UNLIMITED)
        deadline = (
            math.inf
            if unlimited
            else min(time.monotonic() + limits.statement_timeout, _read_deadline.get() or math.inf)
        )
        conn.connection.info.setdefault("scimgate_deadline", [math.inf])[0] = deadline

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # On the DB-API cursor (hot.py): through exec_driver_sql, BEGIN cost more than the lookup it wraps.
        run_sql(conn, "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN", opening=True)

    return engine


# Event loops' threads that keep a read connection at most; the others' reads take one from the pool as usual (a
# `serve` worker has one loop; an embedding application or a test suite may run many at once, and each kept
# connection is one fewer in the pool).
_MOST_KEPT = 4


def _reusable(conn: Connection) -> bool:
    """A kept connection SQLAlchemy has not closed or invalidated, not inside a transaction SQLite still holds."""
    if conn.closed or conn.invalidated:
        return False
    return not getattr(conn.connection.dbapi_connection, "in_transaction", False) or conn.in_transaction()


# Seconds a PostgreSQL connection may sit in the pool before its next checkout pings it.
_PING_AFTER_IDLE = 1.0


def _spoken_to(dbapi_conn: Any) -> bool:
    """Whether the server sent something to this idle connection, told by its socket without a round trip."""
    try:
        return bool(select.select([dbapi_conn.fileno()], [], [], 0)[0])
    except (OSError, ValueError):  # closed already
        return True


# An execution option for work that may take longer than any request should: schema migrations.
UNLIMITED = "scimgate_unlimited"
# When the reads of this context must have ended (``read_deadline``), on the ``time.monotonic`` clock.
_read_deadline: ContextVar[float | None] = ContextVar("scimgate_read_deadline", default=None)


@contextmanager
def read_deadline(seconds: float) -> Iterator[None]:
    """The statements run in this block stop ``seconds`` from now at the latest (or at the statement timeout, if
    sooner), with the error a statement timeout gives (a 503): for the reads that may scan, which must not hold a
    thread for long. The time is for the block, not for each statement."""
    reset = _read_deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _read_deadline.reset(reset)


# SQLite virtual-machine steps between two looks at the clock: a few microseconds of work, so the deadline is met
# within a millisecond and costs nothing measurable.
_PROGRESS_STEPS = 10_000


def _fold(value: object) -> str | None:
    return comparison_key(value) if isinstance(value, str) else None


# PostgreSQL SQLSTATEs of a transaction that lost a race and can simply run again.
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_ATTEMPTS = 4


def retrying(work: Callable[[], T]) -> T:
    """Run a whole transaction, again (with a short jittered backoff) when it lost a serialization race."""
    for attempt in range(_ATTEMPTS):
        try:
            return work()
        except sa.exc.DBAPIError as error:
            if sqlstate(error) not in _RETRYABLE or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.01 * 2**attempt + random.random() * 0.01)
    raise AssertionError("unreachable")


def sqlstate(error: sa.exc.DBAPIError) -> str | None:
    code = getattr(error.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "not now" (down, unreachable, timed out, locked) rather than a bug."""
    if isinstance(error, sa.exc.TimeoutError):  # no pool connection free in time
        return True
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError) or error.connection_invalidated:
        return True
    code = sqlstate(error) or ""
    # 08 connection exception, 53 insufficient resources, 57 operator intervention (incl. statement timeout),
    # 40 transaction rollback (a race that outlived its retries).
    # 25006: read_only_sql_transaction (a read-only database or replica; SQLite's SQLITE_READONLY is above).
    return code[:2] in ("08", "53", "57", "40") or code == "25006"


def _lost_race(error: sa.exc.SQLAlchemyError) -> bool:
    return isinstance(error, sa.exc.DBAPIError) and sqlstate(error) in _RETRYABLE


def fault_name(error: sa.exc.SQLAlchemyError) -> str:
    """What went wrong, without the statement or its parameters: "disk full", "read-only", a SQLSTATE or a class."""
    orig = getattr(error, "orig", None)
    name = getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
    return f"{type(error).__name__} ({name})" if isinstance(name, str) else type(error).__name__


def utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
