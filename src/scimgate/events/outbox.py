"""Events are written in the transaction of the change they describe: the outbox.

A change that rolls back leaves no event, and no committed change lacks one. Each directory numbers its events
1, 2, 3… in ``directories.event_seq``: incrementing it locks the directory's row until the transaction ends (on
PostgreSQL; SQLite writers are serial anyway), so a directory's events commit in sequence order, and a reader that
sees sequence N has seen every event before it. Emission is the last step of a write, so that row lock is held
only for the commit.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.context import current_request
from scimgate.events.types import Event
from scimgate.ids import new_id
from scimgate.store.hot import Statement
from scimgate.store.tables import directories, events

# Both run on the DB-API cursor (scimgate.store.hot): every write runs them.
_NEXT = Statement(
    directories.update()
    .where(directories.c.id == sa.bindparam("b_directory_id"))
    .values(event_seq=directories.c.event_seq + sa.bindparam("b_count", type_=sa.BigInteger))
    .returning(directories.c.event_seq)
)
_COLUMNS = "id directory_id sequence position type occurred_at data request_id token_id object_id group_id".split()
_INSERT = Statement(events.insert().values({name: sa.bindparam(name) for name in _COLUMNS}))


def emit(conn: Connection, directory_id: str, happened: Sequence[Event], now: datetime) -> None:
    """Write these events of one directory, in order, in the caller's transaction."""
    if not happened:
        return
    last = int(_NEXT.scalar(conn, {"b_directory_id": directory_id, "b_count": len(happened)}))
    _insert(conn, directory_id, happened, last - len(happened) + 1, now)


def emit_final(conn: Connection, directory_id: str, event: Event, sequence: int, now: datetime) -> None:
    """The event of a directory that no longer exists (directory.deleted), numbered by its caller."""
    _insert(conn, directory_id, [event], sequence, now)


def _insert(conn: Connection, directory_id: str, happened: Sequence[Event], first: int, now: datetime) -> None:
    request = current_request.get()
    rows = [
        {
            "id": new_id("evt"),
            "directory_id": directory_id,
            "sequence": first + index,
            "position": None,
            "type": event.name,
            "occurred_at": now,
            "data": event.data(),
            "request_id": request.id if request else None,
            "token_id": request.token_id if request else None,
            **_about(event),
        }
        for index, event in enumerate(happened)
    ]
    _INSERT.many(conn, rows)


def _about(event: Event) -> dict[str, str | None]:
    """The indexed copy of what the event is about (its object, and a membership event's group), by which a user's
    or a group's page finds its events."""
    group = getattr(event, "group", None)
    return {"object_id": event.object.get("id"), "group_id": group.get("id") if group else None}
