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
        loop = asyncio.get_running_loop()
        started = loop.time()
        semaphore = self._join(directory_id)
        try:
            try:
                await asyncio.wait_for(semaphore.acquire(), self.seconds)
            except TimeoutError:
                raise TooManyRequests(
                    f"This directory's searches that scan (heavy_reads_per_directory: {self.per_directory} at a time) "
                    f"kept this one waiting {self.seconds:g} s; retry later, or search by an indexed attribute "
                    "(userName, externalId, displayName eq …).",
                    "1",
                ) from None
            try:
                left = max(self.seconds - (loop.time() - started), 0.1)
                bounded = functools.partial(contextvars.copy_context().run, _within, left, work)
                return await loop.run_in_executor(self._threads(), bounded)
            finally:
                semaphore.release()
        finally:
            self._leave(directory_id)

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


def _within(seconds: float, work: Callable[[], T]) -> T:
    with read_deadline(seconds):
        return retrying(work)
