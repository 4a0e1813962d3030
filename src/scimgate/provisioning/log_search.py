"""Finding requests in the provisioning log: by directory, outcome, resource type, time range and what the admin
knows of the request (a userName, group name, externalId, email, resource id, filter value, or the request id).

One query for the admin page, the management API and ``scimgate log``. Text is looked up in the terms index
(``request_log_terms``, filled by ``provisioning.terms``): an exact term or a prefix of one is a range of that index,
so a search answers in milliseconds in a log of 500,000 entries (bench/log_search.py, docs/performance.md). A
request id is the entry's own key.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.tables import request_log, request_log_terms
from scimgate.text import comparison_key

_STATUS = re.compile("[1-5][0-9]{2}")  # an HTTP status: "²" passes str.isdigit, and 10^30 no column holds
STATUSES = ("failed", "ok", "ignored", "credential_setup", "credential_unknown")
CREDENTIAL_SETUP = ("token_of_another_directory", "revoked_token", "expired_token", "directory_disabled")
"""Credentials the directory issued, refused: the IdP's own setup is wrong (Entra quarantines the job)."""
CREDENTIAL_UNKNOWN = ("unknown_token", "malformed_token", "missing_token")
"""Credentials no directory issued: a mistyped or truncated paste, or anyone's guess."""
RESOURCES = ("User", "Group", "Bulk", "Search")
_SCIM = "/scim/v2/"
_LAST_CHAR = "\U0010ffff"


@dataclass(frozen=True)
class LogFilter:
    directory_id: str | None = None
    status: str | None = None
    """failed, ok, ignored (accepted without some of what the IdP sent), credential_setup, credential_unknown (401s
    by cause), or an HTTP status code."""
    resource: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def valid_status(status: str | None) -> bool:
    """A status filter this search knows: one of STATUSES or a three-digit HTTP status."""
    return status in STATUSES or bool(status and _STATUS.fullmatch(status))


def failed() -> sa.ColumnElement[bool]:
    """A failure as the log counts it. A 404 to a lookup by id is an answer, not a failure (Entra uses it to learn
    a resource is gone)."""
    return sa.and_(
        request_log.c.status >= 400, sa.not_(sa.and_(request_log.c.status == 404, request_log.c.method == "GET"))
    )


def _conditions(found: LogFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if found.directory_id:
        where.append(request_log.c.directory_id == found.directory_id)
    status = found.status
    if status == "failed":
        where.append(failed())
    elif status == "ok":
        where.append(request_log.c.status < 400)
    elif status == "ignored":
        # Older entries stored "nothing ignored" as the JSON text null: not a warning either.
        ignored = sa.func.coalesce(sa.cast(request_log.c.ignored, sa.Text), "null")
        where += [ignored != "null", request_log.c.status < 400]
    elif status in ("credential_setup", "credential_unknown"):
        reasons = CREDENTIAL_SETUP if status == "credential_setup" else CREDENTIAL_UNKNOWN
        where += [request_log.c.status == 401, request_log.c.reason.in_(reasons)]
    elif status and _STATUS.fullmatch(status):
        where.append(request_log.c.status == int(status))
    if found.resource:
        where.append(request_log.c.resource_type == found.resource)
    if found.since is not None:
        where.append(request_log.c.time >= _utc(found.since))
    if found.until is not None:
        where.append(request_log.c.time < _utc(found.until))
    return where


def _utc(moment: datetime) -> datetime:
    """Times are stored in UTC (SQLite keeps the wall time it is given): a time without a zone is read as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def search(conn: Connection, found: LogFilter, before: str | None = None, limit: int = 50) -> list[Any]:
    """Entries newest first (``before``: the last id of the previous page)."""
    where = _conditions(found)
    text = (found.text or "").strip()[:200]
    query = sa.select(request_log).select_from(request_log)
    if text.lower().startswith("req_"):
        where.append(request_log.c.id == text.lower())
    elif text:
        matching = _matching(comparison_key(text), before, limit if not where else None)
        query = query.join(matching, matching.c.entry_id == request_log.c.id)
    if before:
        where.append(request_log.c.id < before)
    return list(conn.execute(query.where(*where).order_by(request_log.c.id.desc()).limit(limit)))


def _matching(key: str, before: str | None, limit: int | None) -> Any:
    """The entries holding a term that is ``key`` or begins with it: a range of the terms index. DISTINCT: an entry
    may hold several such terms. With no other criterion, the newest ``limit`` are picked here, from the index, so
    that a broad prefix (thousands of entries) never fetches every entry it matches."""
    terms = request_log_terms.c
    matching = sa.select(terms.entry_id).where(terms.term >= key, terms.term < key + _LAST_CHAR).distinct()
    if before:
        matching = matching.where(terms.entry_id < before)
    if limit is None:
        return matching.subquery()
    # Sorted outside the DISTINCT subquery (which neither backend flattens): inside, PostgreSQL would walk the
    # primary key (entry_id, term) backwards looking for the term, which costs 200 ms for a rare one.
    found = matching.subquery()
    return sa.select(found.c.entry_id).order_by(found.c.entry_id.desc()).limit(limit).subquery()


def relative_path(directory_id: str | None, path: str, query: str | None) -> str:
    """The path as the IdP's admin reads it: after the directory's SCIM URL, with the query decoded
    (``GET /Users?filter=userName eq "…"``)."""
    base = f"{_SCIM}{directory_id}" if directory_id else None
    shown = path[len(base) :] or "/" if base and path.startswith(base) else path
    return shown + ("?" + unquote_plus(query) if query else "")
