"""Webhook delivery: at least once, with exponential backoff and jitter for about a day.

The dispatcher runs inside ``serve`` and as ``scimgate worker``, as many as you like on one database. Each round
it sequences new events (events/feed.py), claims due deliveries, posts them, and records every attempt. A claim
is a lease (``claimed_until``): with PostgreSQL, ``FOR UPDATE SKIP LOCKED`` makes each attempt one worker's;
a worker killed mid-delivery loses its lease when it runs out, and another worker (or itself, restarted) tries
again. Receivers may therefore see a message twice, with the same ``webhook-id``: de-duplicate on it.

Only the HTTP status and a fixed error class of each attempt are kept (issue 20, finding 6): never the receiver's
answer nor an exception's text, which turned the log into a reader of internal services and a port scanner.
Where a delivery may connect is events/egress.py's concern.

A delivery whose whole schedule failed is ``failed``; when no delivery to that endpoint succeeded meanwhile,
the endpoint is disabled, with the reason, until an operator enables it and redelivers.
"""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from scimgate.config import Settings
from scimgate.events import feed
from scimgate.events.egress import PUBLIC_ONLY, EgressPolicy, EgressRefused, error_class, guarded_client
from scimgate.events.webhooks import get_endpoint, set_enabled, sign
from scimgate.ids import new_id
from scimgate.observability.metrics import Metrics
from scimgate.store.database import Database, utc
from scimgate.store.tables import deliveries, delivery_attempts, events, webhook_endpoints

logger = logging.getLogger("scimgate.webhooks")

# Seconds before attempt 2, 3, …: about 28 hours in all, like Svix's schedule. Each wait gets ±20 % jitter so that
# an endpoint that comes back is not hit by every queued message at the same moment.
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
# Bytes of an answer read (and thrown away) before an attempt counts as answered: a receiver acknowledges by
# finishing its answer, but a long one need not be read to the end.
_ANSWER_BYTES = 2000


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    attempts: int
    created_at: datetime
    endpoint_id: str
    url: str
    secrets: list[str]
    message_id: str
    body: bytes
    claimed_until: datetime


@dataclass
class Dispatcher:
    db: Database
    timeout: float = 10.0
    lease: float = 60.0
    retention: timedelta = timedelta(days=30)
    schedule: tuple[float, ...] = SCHEDULE
    batch: int = 20
    poll: float = 0.5
    metrics: Metrics | None = None
    egress: EgressPolicy = PUBLIC_ONLY
    """Internal receivers allowed (webhook_allow_private); by default only public addresses are reached."""
    _last_prune: float = 0.0
    _inflight: set["asyncio.Task[None]"] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, metrics: Metrics | None = None) -> "Dispatcher":
        return cls(
            db,
            timeout=settings.webhook_timeout_seconds,
            lease=settings.webhook_claim_seconds,
            retention=timedelta(days=settings.event_retention_days),
            metrics=metrics,
            egress=EgressPolicy.parse(settings.webhook_allow_private),
        )

    def client(self) -> httpx2.AsyncClient:
        """The HTTP client deliveries go out with: it connects only where ``egress`` allows."""
        return guarded_client(self.egress, self.timeout)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a failing round is logged and retried, never fatal."""
        async with self.client() as client:
            while not stop.is_set():
                try:
                    busy = await self.round(client)
                except Exception:
                    logger.exception("webhook round failed; retrying")
                    busy = False
                if not busy:
                    try:
                        await asyncio.wait_for(stop.wait(), self.poll)
                    except TimeoutError:
                        pass
            await self.drain()

    async def round(self, client: httpx2.AsyncClient) -> bool:
        """Sequence, claim what there is room for, start delivering it; True when there was work.

        Each delivery runs on its own, bounded by ``timeout``: a slow receiver delays nobody else's messages."""
        await run_in_threadpool(feed.sequence, self.db)
        if time.monotonic() - self._last_prune > 3600:
            self._last_prune = time.monotonic()
            await run_in_threadpool(feed.prune, self.db, self.retention)
        room = self.batch - len(self._inflight)
        if room <= 0:
            await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
            return True
        claimed = await run_in_threadpool(self._claim, room)
        for item in claimed:
            task = asyncio.create_task(self._deliver(client, item))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return bool(claimed)

    async def drain(self) -> None:
        """Wait for the deliveries under way (each ends within ``timeout``)."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _claim(self, limit: int) -> list[Claimed]:
        now = datetime.now(UTC)
        with self.db.write() as conn:
            due = (
                sa.select(deliveries.c.id)
                .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at <= now,
                    sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
                    webhook_endpoints.c.disabled_at.is_(None),
                )
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=deliveries)
            )
            ids = [row.id for row in conn.execute(due)]
            if not ids:
                return []
            until = now + timedelta(seconds=self.lease)
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(claimed_until=until))
            return self._load(conn, ids, now, until)

    def _load(self, conn: Connection, ids: list[str], now: datetime, until: datetime) -> list[Claimed]:
        rows = conn.execute(
            sa.select(deliveries, events)
            .join(events, events.c.id == deliveries.c.event_id)
            .where(deliveries.c.id.in_(ids))
        ).all()
        claimed = []
        for row in rows:
            endpoint = get_endpoint(conn, row.endpoint_id)
            assert endpoint is not None
            body = json.dumps(feed.event_json(_EventRow(row)), separators=(",", ":")).encode()
            claimed.append(
                Claimed(
                    delivery_id=row.id,
                    attempts=row.attempts,
                    created_at=utc(row.created_at),
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    secrets=endpoint.signing_secrets(now),
                    message_id=row.event_id,
                    body=body,
                    claimed_until=until,
                )
            )
        return claimed

    async def _deliver(self, client: httpx2.AsyncClient, item: Claimed) -> None:
        timestamp = int(time.time())
        signatures = " ".join(sign(secret, item.message_id, timestamp, item.body) for secret in item.secrets)
        headers = {
            "content-type": "application/json",
            "user-agent": "scimgate-webhooks",
            "webhook-id": item.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # The whole attempt, answer included, within the timeout: a receiver that trickles its answer byte by
            # byte fails like one that never answers, long before its claim could run out.
            async with asyncio.timeout(self.timeout):
                async with client.stream("POST", item.url, content=item.body, headers=headers) as response:
                    read = 0
                    async for chunk in response.aiter_bytes():
                        read += len(chunk)
                        if read >= _ANSWER_BYTES:
                            break
                    status = response.status_code
        except TimeoutError:
            error = f"timeout: no complete answer within {self.timeout:g} s"
        except (httpx2.HTTPError, EgressRefused, OSError) as failure:
            error = error_class(failure)
        if status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        latency = int((time.perf_counter() - started) * 1000)
        try:
            await run_in_threadpool(self._record, item, status, error, latency)
        except sa.exc.SQLAlchemyError:
            # The claim runs out and the delivery is attempted again: at least once, never lost.
            logger.exception("could not record the attempt of delivery %s", item.delivery_id)

    def _record(self, item: Claimed, status: int | None, error: str | None, latency: int) -> None:
        now = datetime.now(UTC)
        succeeded = status is not None and 200 <= status < 300
        attempts = item.attempts + 1
        with self.db.write() as conn:
            conn.execute(
                delivery_attempts.insert().values(
                    id=new_id("att"),
                    delivery_id=item.delivery_id,
                    attempted_at=now,
                    status_code=status,
                    latency_ms=latency,
                    response_snippet=None,
                    error=error if not succeeded else None,
                )
            )
            values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now, "claimed_until": None}
            outcome = "succeeded" if succeeded else "gave_up" if attempts > len(self.schedule) else "failed"
            if self.metrics is not None:
                self.metrics.webhooks.labels(outcome).inc()
            mine = sa.and_(deliveries.c.id == item.delivery_id, deliveries.c.claimed_until == item.claimed_until)
            if conn.execute(sa.select(deliveries.c.id).where(mine).with_for_update()).first() is None:
                return  # the claim ran out and another worker owns the delivery now: its record counts
            if succeeded:
                values |= {"status": "succeeded", "next_attempt_at": None}
                conn.execute(
                    webhook_endpoints.update()
                    .where(webhook_endpoints.c.id == item.endpoint_id)
                    .values(last_success_at=now)
                )
            elif attempts > len(self.schedule):
                values |= {"status": "failed", "next_attempt_at": None}
                self._disable_if_dead(conn, item, now, status, error)
            else:
                wait = self.schedule[attempts - 1] * random.uniform(0.8, 1.2)
                values["next_attempt_at"] = now + timedelta(seconds=wait)
            conn.execute(deliveries.update().where(mine).values(**values))

    def _disable_if_dead(
        self, conn: Connection, item: Claimed, now: datetime, status: int | None, error: str | None
    ) -> None:
        endpoint = get_endpoint(conn, item.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            return
        if endpoint.last_success_at is not None and endpoint.last_success_at >= item.created_at:
            return  # other deliveries got through meanwhile: a bad message, not a dead endpoint
        hours = (now - item.created_at).total_seconds() / 3600
        last = f"HTTP {status}" if status is not None else (error or "no answer")
        reason = (
            f"Disabled at {now:%Y-%m-%d %H:%M} UTC: every attempt to deliver event {item.message_id} failed for "
            f"{hours:.1f} h (last: {last}), and no other delivery succeeded meanwhile. Fix the receiver, enable the "
            "endpoint, then redeliver its failed deliveries."
        )
        set_enabled(conn, item.endpoint_id, False, reason)
        logger.warning("webhook endpoint %s disabled: %s", item.endpoint_id, reason)


class _EventRow:
    """The event columns of a deliveries-join-events row, under the names event_json reads."""

    def __init__(self, row: Any) -> None:
        self.id = row.event_id
        self.type = row.type
        self.directory_id = row.directory_id
        self.sequence = row.sequence
        self.position = row.position
        self.occurred_at = row.occurred_at
        self.request_id = row.request_id
        self.token_id = row.token_id
        self.data = row.data
