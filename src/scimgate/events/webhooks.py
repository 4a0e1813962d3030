"""Webhook endpoints, Standard Webhooks signatures, and the queue of deliveries.

An endpoint receives the events of one directory, or of all (``directory_id`` None), optionally only some types.
Each message is signed as Standard Webhooks specifies (https://www.standardwebhooks.com): headers ``webhook-id``
(the event id, the same as in the feed, so receivers can de-duplicate), ``webhook-timestamp`` (seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by the endpoint's ``whsec_`` secret.
After a rotation both the new and the previous secret sign, space-separated, until the previous one expires.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.events.egress import PUBLIC_ONLY, EgressPolicy, check_url, is_error_class
from scimgate.events.types import TYPE_NAMES
from scimgate.ids import new_id
from scimgate.store.database import utc
from scimgate.store.tables import deliveries, delivery_attempts, events, webhook_endpoints

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Endpoint:
    id: str
    directory_id: str | None
    url: str
    types: list[str] | None
    description: str | None
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    last_success_at: datetime | None

    def signing_secrets(self, now: datetime) -> list[str]:
        previous = self.previous_secret
        if previous and self.previous_secret_expires_at and utc(self.previous_secret_expires_at) > now:
            return [self.secret, previous]
        return [self.secret]

    def wants(self, directory_id: str, event_type: str) -> bool:
        mine = self.directory_id is None or self.directory_id == directory_id
        return mine and (self.types is None or event_type in self.types)


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        directory_id=row.directory_id,
        url=row.url,
        types=row.types,
        description=row.description,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
        created_at=utc(row.created_at),
        disabled_at=utc(row.disabled_at) if row.disabled_at else None,
        disabled_reason=row.disabled_reason,
        last_success_at=utc(row.last_success_at) if row.last_success_at else None,
    )


def check_types(types: Sequence[str] | None) -> None:
    unknown = sorted(set(types or ()) - set(TYPE_NAMES))
    if unknown:
        raise ValueError(f"unknown event types {', '.join(unknown)}; known: {', '.join(TYPE_NAMES)}")


def create_endpoint(
    conn: Connection,
    url: str,
    directory_id: str | None = None,
    types: Sequence[str] | None = None,
    description: str | None = None,
    *,
    egress: EgressPolicy = PUBLIC_ONLY,
) -> Endpoint:
    """A new endpoint. ``egress`` is the webhook_allow_private setting: without it, only public receivers."""
    check_url(url, egress)
    check_types(types)
    endpoint_id = new_id("whe")
    conn.execute(
        webhook_endpoints.insert().values(
            id=endpoint_id,
            directory_id=directory_id,
            url=url,
            types=list(types) if types else None,
            description=description,
            secret=new_secret(),
            created_at=datetime.now(UTC),
        )
    )
    found = get_endpoint(conn, endpoint_id)
    assert found is not None
    return found


def get_endpoint(conn: Connection, endpoint_id: str) -> Endpoint | None:
    row = conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).first()
    return _endpoint(row) if row else None


def list_endpoints(conn: Connection, directory_id: str | None = None) -> list[Endpoint]:
    """Every endpoint, or those that receive this directory's events (its own and the all-directory ones)."""
    query = sa.select(webhook_endpoints).order_by(webhook_endpoints.c.id)
    if directory_id is not None:
        query = query.where(
            sa.or_(webhook_endpoints.c.directory_id == directory_id, webhook_endpoints.c.directory_id.is_(None))
        )
    return [_endpoint(row) for row in conn.execute(query)]


def set_enabled(conn: Connection, endpoint_id: str, enabled: bool, reason: str | None = None) -> Endpoint | None:
    values: dict[str, Any] = (
        {"disabled_at": None, "disabled_reason": None}
        if enabled
        else {"disabled_at": datetime.now(UTC), "disabled_reason": reason or "disabled by an operator"}
    )
    conn.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values))
    return get_endpoint(conn, endpoint_id)


def rotate_secret(conn: Connection, endpoint_id: str, overlap: timedelta) -> Endpoint | None:
    """A new signing secret; the previous one also signs for ``overlap``, so receivers can switch over."""
    current = get_endpoint(conn, endpoint_id)
    if current is None:
        return None
    conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            secret=new_secret(),
            previous_secret=current.secret,
            previous_secret_expires_at=datetime.now(UTC) + overlap,
        )
    )
    return get_endpoint(conn, endpoint_id)


def delete_endpoint(conn: Connection, endpoint_id: str) -> bool:
    return conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id)).rowcount > 0


def queue_deliveries(conn: Connection, positioned: Sequence[tuple[str, str, str, datetime]]) -> None:
    """One pending delivery per (event, endpoint that wants it), for events just given a feed position: (id,
    directory, type, time). An endpoint gets the events that happened after it was created. Disabled endpoints
    are queued too: enabled again, they catch up."""
    endpoints = list_endpoints(conn)
    if not endpoints or not positioned:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "id": new_id("dlv"),
            "endpoint_id": endpoint.id,
            "event_id": event_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id, directory_id, event_type, occurred_at in positioned
        for endpoint in endpoints
        if endpoint.wants(directory_id, event_type) and utc(occurred_at) >= endpoint.created_at
    ]
    if rows:
        conn.execute(deliveries.insert(), rows)


@dataclass(frozen=True)
class DeliveryInfo:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    log: list[dict[str, Any]]


def list_deliveries(
    conn: Connection, endpoint_id: str, status: str | None = None, after: str | None = None, limit: int = 100
) -> list[DeliveryInfo]:
    """An endpoint's deliveries, newest first, each with its attempt log (status, latency, error class)."""
    query = (
        sa.select(deliveries, events.c.type)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.endpoint_id == endpoint_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if after is not None:
        query = query.where(deliveries.c.id < after)
    rows = conn.execute(query).all()
    logs: dict[str, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if rows:
        attempts = conn.execute(
            sa.select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(list(logs)))
            .order_by(delivery_attempts.c.id)
        )
        for attempt in attempts:
            logs[attempt.delivery_id].append(
                {
                    "attempted_at": utc(attempt.attempted_at).isoformat(),
                    "status_code": attempt.status_code,
                    "latency_ms": attempt.latency_ms,
                    "error": shown_error(attempt.error),
                }
            )
    return [
        DeliveryInfo(
            id=row.id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            event_type=row.type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=utc(row.next_attempt_at) if row.next_attempt_at else None,
            created_at=utc(row.created_at),
            last_attempt_at=utc(row.last_attempt_at) if row.last_attempt_at else None,
            log=logs[row.id],
        )
        for row in rows
    ]


def shown_error(error: str | None) -> str | None:
    """An attempt's error as the log may show it. Attempts recorded before issue 20 (finding 6) kept the raw
    exception text, which can tell what answered on an internal port: those show as a plain failure."""
    return error if error is None or is_error_class(error) else "request failed"


def redeliver(conn: Connection, endpoint_id: str, delivery_id: str | None = None) -> int:
    """Send one delivery again, or every failed one of the endpoint, with a fresh retry schedule."""
    condition = deliveries.c.endpoint_id == endpoint_id
    if delivery_id is not None:
        condition = sa.and_(condition, deliveries.c.id == delivery_id)
    else:
        condition = sa.and_(condition, deliveries.c.status == "failed")
    # The claim is left alone: a delivery being attempted right now is picked up again only when that attempt's
    # claim runs out, so two workers never post it at once.
    query = deliveries.update().where(condition).values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC))
    return conn.execute(query).rowcount
