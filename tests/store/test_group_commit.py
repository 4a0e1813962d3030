"""Group commit on SQLite (scimgate.store.group_commit, issue 21): the SCIM writes waiting at the same time share one
transaction, each in its own savepoint, and none is answered before that transaction has committed."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.database import Database, DatabaseLimits
from scimgate.store.tables import instance_secrets


@pytest.fixture
def sqlite(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "group.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", DatabaseLimits(statement_timeout=5))
    yield db
    db.dispose()


def _insert(name: str) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(instance_secrets.insert().values(name=name, value="v"))
        return name

    return work


def _names(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(sa.select(instance_secrets.c.name)).scalars())


def _begins(db: Database) -> list[str]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement == "BEGIN IMMEDIATE":  # a write transaction
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    return seen


def _behind_a_held_batch(db: Database, works: list[Callable[[Connection], Any]]) -> list[Future[Any]]:
    """Run ``works`` as one batch: a first write holds the writer until all of them are queued behind it."""
    release, started = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        started.set()
        release.wait(10)

    pool = ThreadPoolExecutor(max_workers=len(works) + 1)
    first = pool.submit(db.run_write, hold)
    assert started.wait(10)
    futures = []
    for work in works:
        futures.append(pool.submit(db.run_write, work))
        time.sleep(0.01)  # each reaches the writer's queue before the next
    time.sleep(0.1)
    release.set()
    first.result(10)
    pool.shutdown(wait=True)
    return futures


def test_waiting_writes_share_one_transaction_and_a_failing_one_rolls_back_alone(sqlite: Database) -> None:
    """Five writes queued together: one transaction (one BEGIN), the one that fails gets its own error and leaves
    nothing, its neighbours before and after it are committed."""
    begins = _begins(sqlite)

    def fails(conn: Connection) -> None:
        conn.execute(instance_secrets.insert().values(name="doomed", value="v"))
        raise ValueError("refused after writing")

    works = [_insert("a"), _insert("b"), fails, _insert("c"), _insert("a")]  # the last one: a taken key
    futures = _behind_a_held_batch(sqlite, works)
    assert [f.result() for f in futures[:2]] == ["a", "b"] and futures[3].result() == "c"
    with pytest.raises(ValueError, match="refused after writing"):
        futures[2].result()
    with pytest.raises(sa.exc.IntegrityError):
        futures[4].result()
    assert len(begins) == 2  # the holding write's batch, then the five together
    assert {"a", "b", "c"} <= _names(sqlite) and "doomed" not in _names(sqlite)


def test_a_failed_commit_fails_every_write_of_the_batch_and_keeps_none(sqlite: Database) -> None:
    """If the COMMIT fails, no write of the batch was stored, so none of them may be answered as done."""
    failures = iter([False, True])  # the holding write commits; the batch behind it does not

    def fail_once(_conn: Any) -> None:
        if next(failures, False):
            raise sa.exc.OperationalError("COMMIT", None, Exception("disk I/O error"))

    futures: list[Future[Any]] = []
    sa.event.listen(sqlite.engine, "commit", fail_once)
    try:
        futures = _behind_a_held_batch(sqlite, [_insert("x"), _insert("y")])
    finally:
        sa.event.remove(sqlite.engine, "commit", fail_once)
    for future in futures:
        with pytest.raises(sa.exc.OperationalError):
            future.result()
    assert not {"x", "y"} & _names(sqlite)


def test_a_write_that_waited_too_long_is_refused_and_never_runs(tmp_path: Path, sqlite_template: Path) -> None:
    """Its turn did not come within the statement timeout: the "busy" error (a 503), and it is not run later,
    after its client was told it failed."""
    path = tmp_path / "slow.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", DatabaseLimits(statement_timeout=0.2))
    release = threading.Event()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            holder = pool.submit(db.run_write, lambda conn: release.wait(5))
            time.sleep(0.05)
            with pytest.raises(sa.exc.TimeoutError):
                db.run_write(_insert("late"))
            release.set()
            holder.result(5)
        db.run_write(_insert("after"))  # the writer carries on
        assert _names(db) >= {"after"} and "late" not in _names(db)
    finally:
        db.dispose()


_CHILD = """
import sys, threading, time
import sqlalchemy as sa
from scimgate.store.database import Database
from scimgate.store.tables import instance_secrets

db = Database(sys.argv[1])
hold = threading.Event()

def insert(name, block=False):
    def work(conn):
        conn.execute(instance_secrets.insert().values(name=name, value="v"))
        if block:
            print("blocked", flush=True)
            time.sleep(60)  # killed here, in the middle of its batch
        return name
    return work

def client(name, block=False):
    db.run_write(insert(name, block))
    print("ack", name, flush=True)

client("first")
first = threading.Thread(target=lambda: db.run_write(lambda conn: hold.wait(10)))
first.start()
time.sleep(0.2)
names = ["b1", "b2", "b3"]
workers = [threading.Thread(target=client, args=(n,)) for n in names]
workers.append(threading.Thread(target=client, args=("blocker", True)))
for w in workers:
    w.start()
    time.sleep(0.05)
hold.set()
for w in workers:
    w.join()
"""


def test_a_crash_in_the_middle_of_a_batch_loses_only_what_was_never_acknowledged(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """kill -9 while a batch is half done (three writes ran, the fourth is running): none of the four was answered,
    and none is in the database after recovery; the write acknowledged before is there."""
    path = tmp_path / "crash.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url], stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "blocked":
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert lines == ["ack first", "blocked"]
    db = Database(url)
    try:
        assert _names(db) & {"first", "b1", "b2", "b3", "blocker"} == {"first"}
    finally:
        db.dispose()


def test_a_write_stopped_at_its_deadline_costs_its_neighbours_nothing(tmp_path: Path, sqlite_template: Path) -> None:
    """A statement stopped at the statement timeout makes SQLite roll the whole transaction back: the slow write
    fails (503), and the writes of its batch that had run before it, never answered, run again and are committed."""
    path = tmp_path / "deadline.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", DatabaseLimits(statement_timeout=0.3))

    def slow(conn: Connection) -> None:
        conn.execute(instance_secrets.insert().values(name="slow", value="v"))
        # A write that runs far past the 0.3 s deadline: SQLite interrupts it and, an interrupted write being
        # inside a transaction, rolls the whole transaction back.
        conn.exec_driver_sql(
            "INSERT INTO instance_secrets (name, value) WITH RECURSIVE n(i) AS "
            "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT 'n' || i, 'v' FROM n"
        )

    try:
        futures = _behind_a_held_batch(db, [_insert("one"), _insert("two"), slow])
        assert [futures[0].result(), futures[1].result()] == ["one", "two"]
        with pytest.raises(sa.exc.OperationalError):
            futures[2].result()
        assert {"one", "two"} <= _names(db) and "slow" not in _names(db)
    finally:
        db.dispose()


def test_a_write_whose_turn_has_not_come_can_still_be_given_up(tmp_path: Path, sqlite_template: Path) -> None:
    """Writes queued in one batch behind slow ones: each is given up after the statement timeout if its own turn
    has not come, and then never runs (an IdP that retries must not find it done twice)."""
    path = tmp_path / "turns.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}", DatabaseLimits(statement_timeout=0.5))

    def slow(name: str) -> Callable[[Connection], str]:
        def work(conn: Connection) -> str:
            time.sleep(0.3)
            return _insert(name)(conn)

        return work

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(db.run_write, slow(f"w{i}")) for i in range(6)]
            outcomes = [f.exception() for f in futures]
        given_up = [i for i, error in enumerate(outcomes) if isinstance(error, sa.exc.TimeoutError)]
        assert given_up, "six writes of 0.3 s each cannot all start within 0.5 s"
        assert not {f"w{i}" for i in given_up} & _names(db)
    finally:
        db.dispose()
