"""``scimgate log``: the provisioning log, searched as on the admin page and through ``/api/v1/log``."""

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from scimgate.cli.common import (
    DATABASE_SETTINGS,
    current_database,
    emit,
    json_option,
    load_settings,
    parse_duration,
    settings_options,
)
from scimgate.directories.service import list_directories
from scimgate.provisioning.log_search import RESOURCES, STATUSES, LogFilter, relative_path, search, valid_status


def _moment(text: str | None) -> datetime | None:
    """``2h`` (that long ago), or a time (``2026-12-03T14:00``, UTC unless it names a zone)."""
    if text is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except click.BadParameter:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a duration (90m, 12h, 2d) nor a time (2026-12-03T14:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _status(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not valid_status(value):
        raise click.BadParameter(f"one of {', '.join(STATUSES)}, or a status code such as 409")
    return value


@click.command(name="log")
@click.argument("text", required=False)
@click.option("--directory", "directory_id", help="Only this directory's requests (its id).")
@click.option("--status", callback=_status, help="failed, ok, ignored, or a status code.")
@click.option("--resource", type=click.Choice(RESOURCES), help="Only requests about this resource type.")
@click.option("--since", help="From this long ago (90m, 12h, 2d) or this time (UTC unless a zone is given).")
@click.option("--until", help="Before this long ago or this time.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="At most this many.")
@json_option
@settings_options(DATABASE_SETTINGS)
def log(text: str | None, directory_id: str | None, status: str | None, resource: str | None, **options: Any) -> None:
    """Search the provisioning log, newest first.

    TEXT is a userName, a group name or a word of it, an externalId, an email, a user or group id, a value the IdP
    filtered on, or a request id (req_…): a whole value or its beginning, in any case.
    """
    since, until = _moment(options.pop("since")), _moment(options.pop("until"))
    limit, as_json = options.pop("limit"), options.pop("as_json")
    criteria = LogFilter(directory_id, status, resource, text, since, until)
    with current_database(load_settings(options)) as db, db.read() as conn:
        rows = search(conn, criteria, limit=limit)
        names = {d.id: d.name for d in list_directories(conn)}
    found = [_entry(row, names) for row in rows]
    emit(as_json, found, lambda: [_line(entry) for entry in found] or ["No requests match."])


def _entry(row: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "time": row.time.strftime("%Y-%m-%d %H:%M:%S"),
        "directory_id": row.directory_id,
        "directory_name": names.get(row.directory_id or ""),
        "method": row.method,
        "request": relative_path(row.directory_id, row.path, row.query),
        "target": row.target,
        "status": row.status,
        "reason": row.reason,
        "advice": row.advice,
    }


def _line(entry: dict[str, Any]) -> str:
    where = entry["directory_name"] or entry["directory_id"] or "-"
    line = f"{entry['time']}  {where}  {entry['method']} {entry['request']}  → {entry['status']}  {entry['id']}"
    if entry["reason"]:
        line += f"\n    {entry['reason']}: {entry['advice']}"
    return line
