"""Cursor paging (RFC 9865): opaque cursors, sealed, bound to the directory and the query, served by keyset.

A cursor holds the position after the last resource of a page: the value of the sort key there and its id. The
next page is the resources ordered after that position (``WHERE (key, id) > (…)``), never an OFFSET, so a page deep
into a large directory costs what the first page costs, and resources added or removed during a walk do not shift
the others: every resource present for the whole walk is returned exactly once.

A cursor is ``base64url(JSON).base64url(HMAC-SHA256)`` (only RFC 3986 unreserved characters). The MAC key is the
database's own random ``cursor`` instance secret, so every worker accepts every other's cursors and nothing can
forge one. It carries the directory, a hash of the filter and sort, and an expiry; a cursor replayed on another
directory or with another query is ``invalidCursor``, an old one ``expiredCursor``.
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.scim.errors import ExpiredCursor, InvalidCursor
from scimgate.scim.query import Search, Target
from scimgate.scim.render import related, render_page
from scimgate.scim.sorting import SortKey, order_by
from scimgate.store import resources as store
from scimgate.store.sql import Clause

MAX_CARRIED_VALUE = 256
_INVALID = "The cursor is not one this server issued for this query; start again with an empty cursor."


LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass(frozen=True)
class Sealer:
    """What makes and opens this server's cursors: the database's shared MAC key, and a cursor's lifetime."""

    secret: str
    lifetime: int


def search_by_cursor(conn: Connection, search: Search, sealer: Sealer) -> dict[str, Any]:
    """One page of a cursor walk (RFC 9865 §2): the resources after the cursor's position (or, for a
    ``previousCursor``, before it), with ``nextCursor`` and, on every page after the first, ``previousCursor``."""
    rtype, page = search.rtype, search.query.page
    table = rtype.table
    fingerprint = query_fingerprint(rtype.name, search.query.filter, page.sort)
    position = _position(conn, search, sealer, fingerprint) if page.cursor else None
    backward = position is not None and position.backward
    condition = search.where
    if position is not None:
        keyset = (before if backward else after)(table, page.sort, position)
        condition = keyset if search.where is None else sa.and_(search.where, keyset)
    total = store.count(conn, table, search.directory_id, search.where)
    sort_value = page.sort.expression if page.sort else None
    # One more than asked: whether it exists says whether there is a page beyond this one (in the walk's direction).
    order = order_by(table, page.sort, reverse=backward)
    rows = store.keyset_page(conn, table, search.directory_id, condition, page.count + 1, order, sort_value)
    kept = rows[: page.count]
    if backward:
        kept.reverse()  # read backwards from the cursor; shown in the listing's order
    shown = [row for row, _ in kept]
    projection = search.query.projection
    found = related(conn, Target(rtype, search.directory_id), search.base_url, shown, projection)
    resources = render_page(rtype, shown, search.base_url, projection, found)
    result: dict[str, Any] = {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
    if kept:
        more = len(rows) > page.count
        # A page read backwards came from the page after it; one read forwards from a cursor follows a page.
        has_next, has_previous = (True, more) if backward else (more, position is not None)

        def cursor(row: tuple[Any, Any], going_back: bool) -> str:
            at = Position(row[0].id, row[1], backward=going_back)
            return seal(sealer.secret, search.directory_id, fingerprint, at, page.sort, sealer.lifetime)

        if has_next:
            result["nextCursor"] = cursor(kept[-1], False)
        if has_previous:
            result["previousCursor"] = cursor(kept[0], True)
    return result


def _position(conn: Connection, search: Search, sealer: Sealer, fingerprint: str) -> "Position":
    page = search.query.page
    assert page.cursor
    position = open_cursor(sealer.secret, page.cursor, search.directory_id, fingerprint, page.sort)
    if position.by_reference and page.sort is not None:
        position = _reread(conn, search, position, page.sort)
    return position


def _reread(conn: Connection, search: Search, position: "Position", sort: SortKey) -> "Position":
    """The sort value a cursor did not carry (it was too long), read back from the resource it names."""
    value = store.sort_value_of(conn, search.rtype.table, search.directory_id, position.resource_id, sort.expression)
    if value is None:
        raise InvalidCursor(
            "The resource this cursor continues after was deleted; start the listing again with an empty cursor."
        )
    return Position(position.resource_id, value, backward=position.backward)


@dataclass(frozen=True)
class Position:
    """Where a page ended (a next page starts after it) or began (a previous page ends before it)."""

    resource_id: str
    sort_value: Any
    by_reference: bool = False
    """The sort value was too long to carry: read it from the resource ``resource_id``."""
    backward: bool = False
    """A ``previousCursor``: the page is the resources before this position."""


def query_fingerprint(resource_type: str, filter_text: str | None, sort: SortKey | None) -> str:
    canonical = json.dumps([resource_type, filter_text, sort.request if sort else None])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def seal(
    secret: str, directory_id: str, fingerprint: str, position: Position, sort: SortKey | None, lifetime: int
) -> str:
    value = position.sort_value
    payload: dict[str, Any] = {"d": directory_id, "q": fingerprint, "i": position.resource_id}
    if isinstance(value, str) and len(value) > MAX_CARRIED_VALUE:
        # A cursor must fit in a URL: a long sort value is read back from the resource instead of carried.
        payload["r"] = 1
    else:
        payload["v"] = value.isoformat() if isinstance(value, datetime) else value
    if position.backward:
        payload["b"] = 1
    payload["x"] = int(time.time()) + lifetime
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(_mac(secret, body))}"


def open_cursor(secret: str, cursor: str, directory_id: str, fingerprint: str, sort: SortKey | None) -> Position:
    body, _, mac = cursor.partition(".")
    try:
        valid = hmac.compare_digest(_unb64(mac), _mac(secret, body))
        payload = json.loads(_unb64(body)) if valid else None
    except ValueError:
        payload = None
    # Another directory's cursor reads exactly like a forged one (RFC 9865 §Security: identical errors).
    if not isinstance(payload, dict) or payload.get("d") != directory_id or payload.get("q") != fingerprint:
        raise InvalidCursor(_INVALID)
    if not isinstance(payload.get("x"), int) or payload["x"] < time.time():
        raise ExpiredCursor("The cursor has expired; start the listing again with an empty cursor.")
    value = payload.get("v")
    if sort is not None and sort.kind == "dateTime" and isinstance(value, str):
        value = datetime.fromisoformat(value)
    return Position(str(payload.get("i")), value, by_reference=payload.get("r") == 1, backward=payload.get("b") == 1)


def after(table: sa.Table, sort: SortKey | None, position: Position) -> Clause:
    """Resources ordered after ``position`` under ORDER BY (key NULLS LAST|FIRST, id)."""
    after_id = table.c.id > position.resource_id
    if sort is None:
        return after_id
    key = sort.expression
    # Typed, so that SQLAlchemy renders "key > :value" for a boolean key too (it refuses a bare Python bool).
    value = None if position.sort_value is None else sa.bindparam(None, position.sort_value, type_=key.type)
    if sort.ascending:  # nulls last
        if value is None:
            return sa.and_(key.is_(None), after_id)
        return sa.or_(key > value, sa.and_(key == value, after_id), key.is_(None))
    if value is None:  # descending: nulls first
        return sa.or_(sa.and_(key.is_(None), after_id), key.is_not(None))
    return sa.or_(key < value, sa.and_(key == value, after_id))


def before(table: sa.Table, sort: SortKey | None, position: Position) -> Clause:
    """Resources ordered before ``position`` under ORDER BY (key NULLS LAST|FIRST, id): ``after`` mirrored."""
    before_id = table.c.id < position.resource_id
    if sort is None:
        return before_id
    key = sort.expression
    value = None if position.sort_value is None else sa.bindparam(None, position.sort_value, type_=key.type)
    if sort.ascending:  # nulls last: every non-null key comes before a null one
        if value is None:
            return sa.or_(sa.and_(key.is_(None), before_id), key.is_not(None))
        return sa.or_(key < value, sa.and_(key == value, before_id))
    if value is None:  # descending: nulls first
        return sa.and_(key.is_(None), before_id)
    return sa.or_(key > value, sa.and_(key == value, before_id), key.is_(None))


def _mac(secret: str, body: str) -> bytes:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
