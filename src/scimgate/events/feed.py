"""The ordered event feed: positions given after commit, pages read by cursor, old events pruned.

A directory's events commit in sequence order (events/outbox.py), but events of different directories commit in
any order, and on PostgreSQL an id or a clock taken inside a transaction does not follow commit order. So events
get their feed ``position`` after they commit, from the sequencer: one at a time (an advisory lock on
PostgreSQL; SQLite writers are serial), it numbers the committed events that have none yet, keeping each
directory's events in sequence order, and queues their webhook deliveries. A reader that has seen position P
never later finds an event below P.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.events import webhooks
from scimgate.store.database import Database, utc
from scimgate.store.tables import counters, events

_LOCK_KEY = 0x5C1A9A7E  # pg_advisory_xact_lock: one sequencer at a time across workers and machines
_BATCH = 20_000
_COUNTER = "feed_position"


def sequence(db: Database) -> int:
    """Give positions to the committed events that have none; return how many. Safe to call from any worker."""
    with db.read() as conn:  # the common case, nothing to do, costs no write lock
        if conn.execute(sa.select(events.c.id).where(events.c.position.is_(None)).limit(1)).first() is None:
            return 0
    total = 0
    while True:
        with db.write() as conn:
            done = _sequence_batch(conn, db.is_sqlite)
        total += done
        if done < _BATCH:
            return total


def _sequence_batch(conn: Connection, is_sqlite: bool) -> int:
    if not is_sqlite:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    # By directory and sequence, so that a batch holds, of each directory, the next events without a gap.
    rows = conn.execute(
        sa.select(events.c.id, events.c.directory_id, events.c.sequence, events.c.occurred_at, events.c.type)
        .where(events.c.position.is_(None))
        .order_by(events.c.directory_id, events.c.sequence)
        .limit(_BATCH)
    ).all()
    if not rows:
        return 0
    head = _head(conn, for_update=True)
    # Interleave directories by time; then each directory's slots take its events in sequence order, so a
    # clock that differs between workers can never put a directory's event 7 before its event 6.
    slots = sorted(rows, key=lambda row: (utc(row.occurred_at), row.directory_id, row.sequence))
    by_directory: dict[str, list[Any]] = {}
    for row in rows:
        by_directory.setdefault(row.directory_id, []).append(row)
    taken = {directory_id: iter(group) for directory_id, group in by_directory.items()}
    ordered = [next(taken[slot.directory_id]) for slot in slots]
    positions = [{"b_id": row.id, "b_position": head + index} for index, row in enumerate(ordered, start=1)]
    conn.execute(
        events.update().where(events.c.id == sa.bindparam("b_id")).values(position=sa.bindparam("b_position")),
        positions,
    )
    conn.execute(counters.update().where(counters.c.name == _COUNTER).values(value=head + len(ordered)))
    webhooks.queue_deliveries(conn, [(row.id, row.directory_id, row.type, row.occurred_at) for row in ordered])
    return len(rows)


def _head(conn: Connection, for_update: bool = False) -> int:
    """The last position given. A counter, not max(position): deleting events (a prune, a deleted directory) must
    never let a position be given twice, or a reader past it would miss the event."""
    query = sa.select(counters.c.value).where(counters.c.name == _COUNTER)
    value = conn.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if value is None:  # a database emptied by hand since its migration
        value = conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))).scalar_one()
        if for_update:
            conn.execute(counters.insert().values(name=_COUNTER, value=value))
    return int(value)


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    next_after: int
    """Where the next read starts: the last event returned, or the head of the feed when the page was short."""


def event_json(row: Any) -> dict[str, Any]:
    """An event as the feed and webhooks carry it (Standard Webhooks' ``type``/``timestamp``/``data``, plus ours)."""
    return {
        "id": row.id,
        "type": row.type,
        "directory_id": row.directory_id,
        "sequence": row.sequence,
        "position": row.position,
        "timestamp": utc(row.occurred_at).isoformat().replace("+00:00", "Z"),
        "request_id": row.request_id,
        "token_id": row.token_id,
        "data": row.data,
    }


def read(
    db: Database,
    after: int = 0,
    *,
    limit: int = 100,
    types: list[str] | None = None,
    directory_id: str | None = None,
) -> FeedPage:
    """Events after position ``after``, in order, at most ``limit``."""
    sequence(db)
    with db.read() as conn:
        head = _head(conn)
        query = (
            sa.select(events)
            .where(events.c.position > after, events.c.position <= head)
            .order_by(events.c.position)
            .limit(limit)
        )
        if types:
            query = query.where(events.c.type.in_(types))
        if directory_id is not None:
            query = query.where(events.c.directory_id == directory_id)
        rows = conn.execute(query).all()
    found = [event_json(row) for row in rows]
    next_after = rows[-1].position if len(rows) == limit else max(head, after)
    return FeedPage(found, next_after)


def prune(db: Database, retention: timedelta) -> int:
    """Delete events older than the retention (their deliveries go with them); return how many."""
    cutoff = datetime.now(UTC) - retention
    with db.write() as conn:
        return conn.execute(events.delete().where(events.c.occurred_at < cutoff)).rowcount
