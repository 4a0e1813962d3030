"""Where reads get their connections: on SQLite an event loop's thread keeps one for its inline reads (issue 21),
and that must never exhaust the pool, break a nested read, or outlive ``dispose``."""

import asyncio
import threading
from pathlib import Path

import sqlalchemy as sa

from scimgate.store import migrate
from scimgate.store.database import Database


def _sqlite(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    migrate.upgrade(db)
    return db


def test_many_event_loops_reading_at_once_do_not_exhaust_the_pool(tmp_path: Path) -> None:
    """More loop threads than the pool holds (5 + 10 overflow), all alive at once, each reading: every read
    answers, and the connections kept afterwards are a handful."""
    db = _sqlite(tmp_path)
    threads = 20
    together = threading.Barrier(threads, timeout=60)
    answers: list[int] = []

    def loop_thread() -> None:
        async def read() -> None:
            with db.read() as conn:
                answers.append(conn.exec_driver_sql("SELECT 1").scalar_one())
            together.wait()  # every thread alive (and its connection kept, if it kept one) until all have read

        asyncio.run(read())

    started = [threading.Thread(target=loop_thread) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=90)
    assert answers == [1] * threads
    assert db.engine.pool.checkedout() <= 4  # type: ignore[attr-defined]
    db.dispose()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_read_nested_in_another_reads_on_a_connection_of_its_own(tmp_path: Path) -> None:
    db = _sqlite(tmp_path)

    async def reads() -> list[int]:
        seen = []
        with db.read() as outer:
            with db.read() as inner:  # a read inside a read: another connection, not the kept one's BEGIN again
                seen.append(inner.exec_driver_sql("SELECT 2").scalar_one())
            seen.append(outer.exec_driver_sql("SELECT 1").scalar_one())
        with db.read() as conn:
            seen.append(conn.exec_driver_sql("SELECT 3").scalar_one())
        return seen

    try:
        assert asyncio.run(reads()) == [2, 1, 3]
    finally:
        db.dispose()


def test_a_connection_given_back_after_the_engine_was_disposed_is_closed(tmp_path: Path) -> None:
    """``engine.dispose()`` by itself (not only ``Database.dispose``): a connection checked out then, given back
    later, is closed rather than parked in the discarded pool until the garbage collector finds it open."""
    db = _sqlite(tmp_path)
    conn = db.engine.connect()
    conn.execute(sa.text("SELECT 1"))
    raw = conn.connection.dbapi_connection
    db.engine.dispose()
    conn.close()
    try:
        raw.execute("SELECT 1")  # type: ignore[union-attr]
    except Exception as error:  # sqlite3.ProgrammingError: Cannot operate on a closed database.
        assert "closed" in str(error)
    else:
        raise AssertionError("the connection was left open")
    finally:
        db.dispose()
