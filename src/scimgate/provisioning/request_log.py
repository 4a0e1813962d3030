"""The provisioning log: every SCIM request, kept with its bodies (secrets redacted) and, when it failed, a named
reason and what to change.

The middleware records each request under ``/scim/v2/`` in memory; a background task writes them in batches (one
transaction per half second, off the request's path, so logging never slows or fails a provisioning request) and
prunes the log to ``request_log_days`` and ``request_log_max_rows``. A burst that outruns the writer drops the
oldest unwritten entries (counted in the metrics), never the requests.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.context import RequestContext, current_request
from scimgate.ids import new_id
from scimgate.observability.metrics import Metrics
from scimgate.provisioning.explain import Explanation, explain, unverified_warning
from scimgate.provisioning.redact import parse_body, redact_body, redact_query
from scimgate.provisioning.terms import entry_terms
from scimgate.scim.errors import ScimError
from scimgate.store.database import Database
from scimgate.store.hot import Statement
from scimgate.store.tables import request_log, request_log_terms

logger = logging.getLogger("scimgate.provisioning")
_PREFIX = "/scim/v2/"
_MAX_CAPTURE = 1_048_576 + 1
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@dataclass
class Entry:
    context: RequestContext
    time: datetime
    method: str
    path: str
    query: str | None
    status: int
    latency_ms: float
    request_body: bytes
    response_body: bytes
    source: str = ""
    """The client's address, as the server saw it (a trusted proxy's X-Forwarded-For)."""


@dataclass
class LogWriter:
    db: Database
    metrics: Metrics
    retention: timedelta = timedelta(days=14)
    max_rows: int = 500_000
    max_bytes: int = 1 << 30
    body_chars: int = 16_384
    capacity: int = 2_000
    _queue: deque[Entry] = field(default_factory=deque)
    _last_prune: float = 0.0

    def add(self, entry: Entry) -> None:
        if len(self._queue) >= self.capacity:
            self._queue.popleft()
            self.metrics.log_dropped.inc()
        self._queue.append(entry)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except TimeoutError:
                pass
            await self.flush()

    async def flush(self) -> None:
        entries = [self._queue.popleft() for _ in range(len(self._queue))]
        try:
            if entries:
                await run_in_threadpool(self._write, entries)
            if time.monotonic() - self._last_prune > 300:
                self._last_prune = time.monotonic()
                await run_in_threadpool(self.prune)
                # The same five-minute housekeeping keeps SQLite's planner statistics current.
                await run_in_threadpool(self.db.optimize)
        except sa.exc.SQLAlchemyError as error:
            # The log must never take provisioning down with it: a busy database costs these entries only.
            logger.warning("could not write %d provisioning log entries: %s", len(entries), type(error).__name__)
        except Exception:
            logger.exception("could not write %d provisioning log entries", len(entries))

    def _write(self, entries: list[Entry]) -> None:
        rows = [self.stored_row(entry) for entry in entries]
        try:
            with self.db.write() as conn:
                insert_entries(conn, rows)
        except sa.exc.DataError:
            # One unstorable row must not cost the batch (and let a hostile request hide the others): one by one.
            for row in rows:
                try:
                    with self.db.write() as conn:
                        insert_entries(conn, [row])
                except sa.exc.DataError:
                    logger.warning("a provisioning log entry could not be stored: %s %s", row["method"], row["id"])

    def stored_row(self, entry: Entry) -> dict[str, Any]:
        """The entry as written: redacted, explained, with its target and search terms (``terms``)."""
        context = entry.context
        error = context.error if isinstance(context.error, ScimError) else None
        explanation: Explanation | None = None
        if error is not None:
            explanation = explain(error, entry.method, context.resource_type, context.directory_id)
        elif entry.status >= 400:  # answered without passing through the error handler (none does today)
            explanation = Explanation("failed", f"HTTP {entry.status}")
        elif context.unverified_domains:  # accepted under the `flag` domain policy: a warning on a success
            explanation = unverified_warning(context.unverified_domains)
        # A request no credential opened keeps only its method, path (cut short), status, source and the reason it
        # was refused: an anonymous client must not be able to fill the disk or flush the log (security plan,
        # issue 20 finding 3). Its query and bodies are not kept.
        kept = context.token_id is not None
        query = _clean(redact_query(entry.query)) if kept else None
        # Each body parsed once, for redaction and for the search terms.
        request = parse_body(entry.request_body, unique_keys=context.body_read) if kept else None
        response = parse_body(entry.response_body, unique_keys=True) if kept else None
        terms, target = (
            entry_terms(query, request, response, context.resource_id)
            if kept
            else ({context.resource_id.lower()} if context.resource_id else set(), None)
        )
        row = {
            "id": context.id,
            "directory_id": _clean(context.directory_id),
            "time": entry.time,
            "method": _clean(entry.method)[:10],
            "path": _clean(entry.path)[: 2000 if kept else 200],
            "query": query,
            "status": entry.status,
            "latency_ms": round(entry.latency_ms, 2),
            "resource_type": context.resource_type,
            "resource_id": _clean(context.resource_id),
            "scim_type": error.scim_type if error is not None and explanation is not None else None,
            "reason": explanation.reason if explanation else None,
            "advice": _clean(explanation.advice) if explanation else None,
            "request_body": _clean(redact_body(entry.request_body, self.body_chars, request)) if kept else None,
            "response_body": _clean(redact_body(entry.response_body, self.body_chars, response)) if kept else None,
            "token_id": context.token_id,
            "ignored": [_clean(name)[:300] for name in context.ignored[:50]] or None,
            "source": _clean(entry.source)[:64],
            "target": _clean(target),
            "presented_prefix": None if kept else _clean(context.presented_prefix),
        }
        row["size"] = sum(len(value) for value in row.values() if isinstance(value, str))
        row["terms"] = [_clean(term) for term in terms]
        return row

    def prune(self) -> int:
        """Drop entries older than the retention, then the oldest beyond ``max_rows`` and ``max_bytes``: the
        oldest requests no credential opened first, so that anonymous traffic never evicts the audit record."""
        removed = 0
        with self.db.write() as conn:
            cutoff = datetime.now(UTC) - self.retention
            removed += conn.execute(request_log.delete().where(request_log.c.time < cutoff)).rowcount
            for anonymous_first in (True, False):
                rows = conn.execute(sa.select(sa.func.count()).select_from(request_log)).scalar_one()
                removed += _delete_oldest(conn, rows - self.max_rows, anonymous_first)
        removed += self._trim_bytes()
        return removed

    def _trim_bytes(self) -> int:
        """The oldest entries, anonymous first, until the log's text fits ``max_bytes``: the total is read once
        (outside the writer), then each short write transaction deletes a batch and subtracts what it held."""
        with self.db.read() as conn:
            total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(request_log.c.size), 0))).scalar_one()
        removed = 0
        for anonymous_only in (True, False):
            while total > self.max_bytes:
                with self.db.write() as conn:
                    oldest = sa.select(request_log.c.id, request_log.c.size).order_by(request_log.c.time).limit(1000)
                    if anonymous_only:
                        oldest = oldest.where(request_log.c.token_id.is_(None))
                    batch = conn.execute(oldest).all()
                    if batch:
                        conn.execute(request_log.delete().where(request_log.c.id.in_([row.id for row in batch])))
                if not batch:
                    break
                total -= sum(row.size or 0 for row in batch)
                removed += len(batch)
        return removed


def insert_entries(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Entries (as ``LogWriter.stored_row`` makes them) and the terms they are searched by (provisioning/terms.py),
    in one transaction, on the DB-API cursor (scimgate.store.hot): every SCIM request writes one."""
    _INSERT_ENTRY.many(conn, rows)
    _INSERT_TERM.many(conn, [{"entry_id": row["id"], "term": term} for row in rows for term in row["terms"]])


_ENTRY_COLUMNS = (
    *("id", "directory_id", "time", "method", "path", "query", "status", "latency_ms", "resource_type"),
    *("resource_id", "scim_type", "reason", "advice", "request_body", "response_body", "token_id", "ignored"),
    *("source", "target", "presented_prefix", "size"),
)
_INSERT_ENTRY = Statement(request_log.insert().values({name: sa.bindparam(name) for name in _ENTRY_COLUMNS}))
_INSERT_TERM = Statement(
    request_log_terms.insert().values(entry_id=sa.bindparam("entry_id"), term=sa.bindparam("term"))
)


def _delete_oldest(conn: Any, count: int, anonymous_only: bool) -> int:
    if count <= 0:
        return 0
    oldest = sa.select(request_log.c.id).order_by(request_log.c.time).limit(count)
    if anonymous_only:
        oldest = oldest.where(request_log.c.token_id.is_(None))
    return int(conn.execute(request_log.delete().where(request_log.c.id.in_(oldest.scalar_subquery()))).rowcount)


def _clean(text: Any) -> Any:
    """Text the database can store: PostgreSQL refuses NUL characters (and a URL may carry one)."""
    return text.replace("\x00", "\\0") if isinstance(text, str) else text


def _resource(path: str) -> tuple[str | None, str | None]:
    parts = [part for part in path[len(_PREFIX) :].split("/") if part][1:]
    if not parts:
        return None, None
    kind = {"users": "User", "groups": "Group", "bulk": "Bulk", ".search": "Search"}.get(parts[0].lower())
    resource_id = parts[1] if kind in ("User", "Group") and len(parts) > 1 and parts[1] != ".search" else None
    return kind, resource_id[:40] if resource_id else None


class RequestLog:
    """ASGI middleware: a request id for every request (``X-Request-Id``), and SCIM requests into the log."""

    def __init__(
        self,
        app: ASGIApp,
        writer: LogWriter,
        metrics: Metrics,
        capture_bytes: int,
        on_unexpected: Callable[[Scope, BaseException], Response],
    ) -> None:
        self.app = app
        self.writer = writer
        self.metrics = metrics
        self.capture = min(capture_bytes + 1, _MAX_CAPTURE)
        self.on_unexpected = on_unexpected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(new_id("req"))
        path: str = scope["path"]
        scim = path.startswith(_PREFIX)
        if scim:
            # What the URL addresses, read once: the log and the metrics file the request under it, answered or not.
            named = path[len(_PREFIX) :].split("/", 1)[0][:40]
            # Only an id is filed as a directory: "…/scim/v2/Users" (an id left out of the URL) names none.
            context.directory_id = named if named.startswith("dir_") else None
            context.resource_type, context.resource_id = _resource(path)
        started = time.perf_counter()
        request_body = bytearray()
        response_body = bytearray()
        status = 500

        async def receiving() -> Message:
            message = await receive()
            if scim and message["type"] == "http.request" and len(request_body) < self.capture:
                request_body.extend(message.get("body", b"")[: self.capture - len(request_body)])
            return message

        status_sent = False

        async def sending(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", context.id.encode())]
            elif scim and message["type"] == "http.response.body" and len(response_body) < self.capture:
                response_body.extend(message.get("body", b"")[: self.capture - len(response_body)])
            await send(message)

        ids = current_request.set(context)
        try:
            await self.app(scope, receiving, sending)
        except Exception as error:
            # Here, inside this layer, so that the traceback and the answer carry the request id. A sub-application
            # that answered already (the management API) re-raises after answering, as Starlette always does.
            response = self.on_unexpected(scope, error)
            if not status_sent:
                await response(scope, receive, sending)
        finally:
            current_request.reset(ids)
            latency = (time.perf_counter() - started) * 1000
            if scim:
                # Labels only from what is known good: an unauthenticated client must not mint new series.
                directory = context.directory_id if context.token_id else None
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                self.metrics.observe(directory, context.resource_type, method, status, latency / 1000)
                if context.ignored:
                    self.metrics.ignored.labels(context.resource_type or "").inc(len(context.ignored))
                query = scope.get("query_string", b"").decode("latin-1") or None
                self.writer.add(
                    Entry(
                        context,
                        datetime.now(UTC),
                        scope["method"],
                        path,
                        query,
                        status,
                        latency,
                        bytes(request_body),
                        bytes(response_body),
                        str(scope["client"][0]) if scope.get("client") else "",
                    )
                )
