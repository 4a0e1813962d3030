"""``/api/v1/log``: the provisioning log, searched as on the admin page (scimgate/provisioning/log_search.py)."""

from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from scimgate.api.common import MAX_LIMIT, ApiError, Ctx
from scimgate.directories.service import list_directories
from scimgate.provisioning.log_search import STATUSES, LogFilter, relative_path, search
from scimgate.store.database import utc
from scimgate.store.tables import request_log

router = APIRouter(prefix="/log", tags=["provisioning log"])
# The statuses the admin page's and the CLI's searches take (a banner links to its cause), and any HTTP status.
_STATUS = rf"^({'|'.join(STATUSES)}|[1-5][0-9][0-9])$"
_TIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"


class LogEntryOut(BaseModel):
    id: str = Field(description="The request id (the X-Request-Id header).")
    time: datetime
    directory_id: str | None
    directory_name: str | None
    method: str
    request: str = Field(description="The path after the directory's SCIM URL, with its query decoded.")
    target: str | None = Field(
        description="The userName or group name the request carried or got back, else its filter."
    )
    status: int
    latency_ms: float
    reason: str | None
    advice: str | None
    token_id: str | None = Field(description="The credential that opened the request.")
    presented_prefix: str | None = Field(
        description="On a refused credential: the first characters of the token presented, never more."
    )


class LogEntryDetail(LogEntryOut):
    path: str
    query: str | None
    resource_type: str | None
    resource_id: str | None
    scim_type: str | None
    ignored: list[str] | None
    request_body: str | None = Field(description="Redacted; null when there was none or it was not kept.")
    response_body: str | None
    bodies_kept: bool = Field(
        description="False for a request no credential opened: its query and bodies are never stored."
    )


class LogPage(BaseModel):
    data: list[LogEntryOut]
    next_before: str | None = Field(description="Pass as ``before`` for older entries; null on the last page.")


def _out(row: Any, names: dict[str, str], model: type[LogEntryOut] = LogEntryOut, **extra: Any) -> Any:
    return model.model_validate(
        {
            **{name: getattr(row, name) for name in model.model_fields if hasattr(row, name)},
            "directory_name": names.get(row.directory_id or ""),
            "request": relative_path(row.directory_id, row.path, row.query),
            "time": utc(row.time),  # SQLite hands back the UTC wall time without its zone
            **extra,
        }
    )


def log_filter(
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="A userName, group name (or a word of it), externalId, email, user or group id, filter value "
            "or request id; a whole value or its beginning, in any case.",
        ),
    ] = None,
    directory_id: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[
        str | None,
        Query(
            pattern=_STATUS,
            description="failed, ok, ignored, credential_setup (401s the IdP's setup causes: a token of another "
            "directory, revoked or expired, a disabled directory), credential_unknown (401s of a token no directory "
            "has, or none), or a status code.",
        ),
    ] = None,
    resource: Literal["User", "Group", "Bulk", "Search"] | None = None,
    since: Annotated[
        str | None, Query(pattern=_TIME, description="From this time (ISO 8601; UTC unless it has a zone).")
    ] = None,
    until: Annotated[str | None, Query(pattern=_TIME, description="Before this time.")] = None,
) -> LogFilter:
    return LogFilter(directory_id, status, resource, q, _time("since", since), _time("until", until))


def _time(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 time (a number is not one, though pydantic would read it as seconds since 1970)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid request", f"query.{name}: not a time such as 2026-12-03T14:00:00Z") from None


@router.get("")
def search_log(
    ctx: Ctx,
    criteria: Annotated[LogFilter, Depends(log_filter)],
    before: Annotated[str | None, Query(max_length=40, description="The next_before of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> LogPage:
    """Entries newest first, matching every criterion given."""
    with ctx.db.read() as conn:
        rows = search(conn, criteria, before, limit)
        names = {d.id: d.name for d in list_directories(conn)}
    return LogPage(data=[_out(row, names) for row in rows], next_before=rows[-1].id if len(rows) == limit else None)


@router.get("/{entry_id}")
def get_log_entry(entry_id: str, ctx: Ctx) -> LogEntryDetail:
    """One entry with its (redacted) bodies."""
    with ctx.db.read() as conn:
        row = conn.execute(sa.select(request_log).where(request_log.c.id == entry_id[:40])).first()
        names = {d.id: d.name for d in list_directories(conn)}
    if row is None:
        raise ApiError(404, "no such log entry", "No such request in the log (it may have been pruned).")
    result: LogEntryDetail = _out(row, names, LogEntryDetail, bodies_kept=row.token_id is not None)
    return result
