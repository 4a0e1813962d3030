"""Reads that may scan, kept apart so that one directory's costly searches cannot slow down the others.

A filter other than an indexed ``eq`` lookup, a count, a sorted or cursor page, ``/.search`` and a group's member list
may read a whole directory. Issue 20 (finding 2): 40 concurrent ``emails[value co "…"]`` searches on a directory of
8,000 users took all 40 threads of the shared pool, and another directory's ``GET /Users?count=1`` waited 58 s.
Such reads now run in a pool of threads of their own (``heavy_read_threads``), at most ``heavy_reads_per_directory``
of one directory at a time, each within ``heavy_read_seconds`` (waiting included): writes and lookups keep the main
pool, and another directory's scan finds a free thread. The pool's threads run at a lower CPU priority (nice 10, on
Linux): a scan still gets an idle core whole, but on a busy one it gives way to the requests that take milliseconds.
"""

import asyncio
import contextvars
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from scimgate.config import Settings
from scimgate.scim.errors import TooManyRequests
from scimgate.store.database import read_deadline, retrying

T = TypeVar("T")


class HeavyReads:
    def __init__(self, settings: Settings) -> None:
        self.threads = settings.heavy_read_threads
        self.per_directory = settings.heavy_reads_per_directory
        self.seconds = settings.heavy_read_seconds
        self._pool: ThreadPoolExecutor | None = None  # made at first use
        self._turns: dict[str, tuple[asyncio.Semaphore, int]] = {}  # a directory's turns, and who holds or waits

    async def run(self, directory_id: str, work: Callable[[], T]) -> T:
        """``work`` (one read transaction) in the pool, in ``directory_id``'s turn, within the deadline."""
        deadline = time.monotonic() + self.seconds  # waiting for the turn and in the pool's queue included
        semaphore = self._join(directory_id)
        try:
            await asyncio.wait_for(semaphore.acquire(), self.seconds)
        except TimeoutError:
            self._leave(directory_id)
            raise self._too_long() from None
        except BaseException:
            self._leave(directory_id)
            raise

        def done(_: object) -> None:
            # The turn is given back when the thread has finished, not when the request is: a request cancelled
            # mid-scan must not let its directory start another scan beside the one still running.
            semaphore.release()
            self._leave(directory_id)

        bounded = functools.partial(contextvars.copy_context().run, _within, deadline, work, self._too_long)
        future = asyncio.get_running_loop().run_in_executor(self._threads(), bounded)
        future.add_done_callback(done)
        return await asyncio.shield(future)

    def _too_long(self) -> TooManyRequests:
        return TooManyRequests(
            f"Searches that scan (heavy_read_threads: {self.threads} at a time, heavy_reads_per_directory: "
            f"{self.per_directory} per directory) kept this one waiting {self.seconds:g} s; retry later, or search "
            "by an indexed attribute (userName, externalId, displayName eq …).",
            "1",
        )

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, "scimgate-scan", initializer=_lower_priority)
        return self._pool

    def _join(self, directory_id: str) -> asyncio.Semaphore:
        semaphore, users = self._turns.get(directory_id) or (asyncio.Semaphore(self.per_directory), 0)
        self._turns[directory_id] = (semaphore, users + 1)
        return semaphore

    def _leave(self, directory_id: str) -> None:
        semaphore, users = self._turns[directory_id]
        if users <= 1:
            del self._turns[directory_id]  # nobody holds or waits: forget the directory
        else:
            self._turns[directory_id] = (semaphore, users - 1)


def _lower_priority() -> None:
    """Nice 10 for this thread (Linux schedules each thread on its own, and takes a thread id here)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass  # elsewhere, or not permitted: the pool still bounds how many scans run


def _within(deadline: float, work: Callable[[], T], too_long: Callable[[], Exception]) -> T:
    left = deadline - time.monotonic()
    if left <= 0:
        raise too_long()  # its time went waiting in the pool's queue: nothing was read
    with read_deadline(left):
        return retrying(work)
