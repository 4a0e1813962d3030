"""Group commit on SQLite: the SCIM writes of one process share their transactions and their fsyncs (issue 21).

Each SCIM write used to open its own transaction: take this process's write lock, ``BEGIN IMMEDIATE``, run, and
``COMMIT`` with an fsync, while up to 15 other requests' threads queued on the lock (each hand-over a round of
context switches and GIL hand-offs). Here one writer thread takes the waiting writes in turn and runs a batch of
them in one transaction, each inside its own ``SAVEPOINT``:

* a write that fails (a 409, a 412, a refused domain, a bug) rolls back to its savepoint, alone: its neighbours
  are committed, it changed nothing;
* the batch commits once; only then does any of its requests get its answer, so nothing is acknowledged that a crash
  could lose, and if the ``COMMIT`` fails every request of the batch gets that error (nothing of it was written);
* if SQLite rolled the whole transaction back by itself (a full disk, an I/O error), every request that ran in it
  gets the error, and the ones not yet run start a new transaction.

A write waits at most ``statement_timeout`` for its turn, then gets the "busy" error (a 503), as it would have
waiting for the write lock; once it has started it is waited for (its statements have their own deadlines). Other
writers (the admin page, the provisioning log, the event sequencer) still take the process's write lock, between
batches. PostgreSQL does not need this: its writers run side by side.
"""

import concurrent.futures
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.hot import run_sql

logger = logging.getLogger("scimgate.store")
T = TypeVar("T")
MAX_BATCH = 64
"""Writes per transaction at most: bounds how long the first of them waits for the batch to commit."""


class Host(Protocol):
    """What the writer needs of ``Database``: its write transactions and the fault it reports to readiness."""

    def write(self) -> Any: ...  # a context manager of a write transaction, as Database.write

    def note_fault(self, error: BaseException) -> None: ...


@dataclass(eq=False)
class _Job:
    work: Callable[[Connection], Any]
    context: contextvars.Context
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    outcome: tuple[bool, Any] | None = None
    """(True, result) or (False, exception), held until the batch has committed."""
    started: bool = False

    def start(self) -> bool:
        """Whether to run it: once its turn has come, its caller can no longer give up (``run``)."""
        if not self.started:
            self.started = self.future.set_running_or_notify_cancel()
            return self.started
        return not self.future.done()

    def answer(self) -> None:
        assert self.outcome is not None
        ok, value = self.outcome
        if ok:
            self.future.set_result(value)
        else:
            self.future.set_exception(value)

    def fail(self, error: BaseException) -> None:
        if not self.future.done() and (self.started or self.future.set_running_or_notify_cancel()):
            self.started = True
            self.future.set_exception(error)


class _RolledBack(Exception):
    """SQLite ended the batch's transaction by itself: every write that ran in it is lost."""


class GroupCommit:
    def __init__(self, host: Host, wait: float) -> None:
        self.host = host
        self.wait = wait
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a write transaction (its own savepoint); its result once the transaction has committed."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a SCIM write started inside another one would wait for itself")
        job = _Job(work, contextvars.copy_context())
        self._ensure_thread()
        self._queue.put(job)
        try:
            result: T = job.future.result(timeout=self.wait)
        except concurrent.futures.TimeoutError:
            if job.future.cancel():  # never started: nothing of it can be written now
                raise sa.exc.TimeoutError("timed out waiting for this process's SQLite writer") from None
            result = job.future.result()
        return result

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_thread(self) -> None:
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="scimgate-sqlite-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            pending = [first]
            while len(pending) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                pending.append(more)
            try:
                while pending:
                    pending = self._batch(pending)
            except BaseException as error:  # a bug here must not leave requests waiting for ever
                logger.exception("the SQLite writer failed a batch")
                for job in pending:
                    job.fail(error)

    def _batch(self, jobs: list[_Job]) -> list[_Job]:
        """Run ``jobs`` in one transaction and answer them; those to run again if SQLite rolled it back early."""
        ran: list[_Job] = []
        try:
            with self.host.write() as conn:
                for job in jobs:
                    if not job.start():  # its caller stopped waiting before its turn: it never runs
                        continue
                    ran.append(job)
                    job.outcome = self._in_savepoint(conn, job)
                    if not _in_transaction(conn):
                        raise _RolledBack
        except _RolledBack:
            return self._after_rollback(jobs, ran)
        except BaseException as error:  # BEGIN, a savepoint or the COMMIT failed: nothing of the batch was written
            for job in jobs:
                job.fail(error)
            return []
        for job in ran:
            job.answer()
        return []

    def _after_rollback(self, jobs: list[_Job], ran: list[_Job]) -> list[_Job]:
        """SQLite ended the transaction by itself (a statement stopped at its deadline, a full disk): the write that
        was running fails with its error; those that ran before it lost their work, but none was answered, so they
        run again in the next transaction (those that had failed keep their own error)."""
        culprit = ran[-1]
        if culprit.outcome is not None and culprit.outcome[0]:  # it swallowed the error: its work is lost all the same
            culprit.outcome = (False, sa.exc.OperationalError("COMMIT", None, Exception("rolled back by SQLite")))
        culprit.answer()
        if culprit.outcome is not None:
            self.host.note_fault(culprit.outcome[1])
        again = []
        for job in ran[:-1]:
            if job.outcome is not None and job.outcome[0]:
                again.append(job)
            else:
                job.answer()
        after = next(index for index, job in enumerate(jobs) if job is culprit) + 1
        return again + jobs[after:]

    def _in_savepoint(self, conn: Connection, job: _Job) -> tuple[bool, Any]:
        """The job's work in its own savepoint: kept on success, rolled back alone on failure."""
        run_sql(conn, "SAVEPOINT scimgate_write")
        try:
            result = job.context.run(job.work, conn)
        except Exception as error:
            self.host.note_fault(error)
            if _in_transaction(conn):
                run_sql(conn, "ROLLBACK TO scimgate_write")
                run_sql(conn, "RELEASE scimgate_write")
            return False, error
        run_sql(conn, "RELEASE scimgate_write")
        return True, result


def _in_transaction(conn: Connection) -> bool:
    """Whether SQLite still has the transaction open (it rolls it back by itself on some failures)."""
    raw = conn.connection.dbapi_connection
    return bool(raw is not None and raw.in_transaction)
