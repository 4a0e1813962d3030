"""What a user's or a group's page lists below it: the provisioning log's requests about it and its events.

Requests are found in the log's terms index (``provisioning/terms.py``): by the resource's id (the path named it or
an answer carried it) and by what an IdP looks it up or creates it by (userName, displayName, externalId), so a
refused creation (a 409 for a taken userName) and the lookup that preceded it are listed on the page of the user
who holds the name. Events are the feed's rows whose object (or, for membership events, whose group) is it, found
at any age through the ``object_id`` and ``group_id`` columns the event is written with (migration 0014).
"""

from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.provisioning.log_search import relative_path
from scimgate.store.tables import events, request_log, request_log_terms
from scimgate.text import comparison_key

SHOWN = 20


def page_context(conn: Connection, directory_id: str, resource_id: str, names: list[Any]) -> dict[str, Any]:
    """What ``_history.html`` shows. ``names``: the resource's userName, displayName, externalId (None if unset)."""
    return {
        "requests": requests_about(conn, directory_id, resource_id, names),
        "events": events_about(conn, directory_id, resource_id),
        "relative": relative_path,
    }


def requests_about(
    conn: Connection, directory_id: str, resource_id: str, names: list[Any], limit: int = SHOWN
) -> list[Any]:
    """The directory's newest log entries about the resource, newest first."""
    by_name = {comparison_key(name) for name in names if isinstance(name, str) and name}
    keys = {comparison_key(resource_id), *by_name}
    holding = sa.select(request_log_terms.c.entry_id).where(request_log_terms.c.term.in_(keys)).distinct()
    about = sa.or_(request_log.c.resource_id == resource_id, request_log.c.id.in_(holding.scalar_subquery()))
    query = (
        sa.select(request_log)
        .where(request_log.c.directory_id == directory_id, about)
        .order_by(request_log.c.id.desc())
        .limit(limit * 3)  # room for the entries _names_it drops
    )
    found = [row for row in conn.execute(query) if _names_it(row, resource_id, by_name)]
    return found[:limit]


def _names_it(row: Any, resource_id: str, names: set[str]) -> bool:
    """Whether an entry is about the resource, not merely holding one of its name's words: a value of several
    words is also indexed word by word, so the group "Sales" shares a term with "Sales Team". A name must appear
    whole, as a quoted value, in what the request sent or got back."""
    if row.resource_id == resource_id or not names:
        return True
    query = unquote_plus(row.query or "")  # a filter's value is quoted in the decoded query
    text = comparison_key(" ".join(part or "" for part in (query, row.request_body, row.response_body)))
    return comparison_key(resource_id) in text or any(f'"{name}"' in text for name in names)


def events_about(conn: Connection, directory_id: str, resource_id: str, limit: int = SHOWN) -> list[Any]:
    """The directory's newest events whose object is the resource, or whose group is (membership events), at any
    age: each of the two is a range of its index (``object_id``, ``group_id``: migration 0014), read newest first
    and no further than ``limit``."""
    ranges = [
        sa.select(events)
        .where(events.c.directory_id == directory_id, column == resource_id)
        .order_by(events.c.sequence.desc())
        .limit(limit)
        .subquery()
        for column in (events.c.object_id, events.c.group_id)
    ]
    both = sa.union_all(*(sa.select(found) for found in ranges)).subquery()
    return list(conn.execute(sa.select(both).order_by(both.c.sequence.desc()).limit(limit)))
