"""Admin pages: the provisioning log (every SCIM request and why it failed), events, webhook deliveries."""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.admin import queries
from scimgate.admin.common import Admin, admin_of, check_csrf, path_for, render
from scimgate.admin.conflict import conflict
from scimgate.admin.inputs import position
from scimgate.directories.credentials import list_tokens
from scimgate.directories.service import get_directory, list_directories
from scimgate.events import webhooks
from scimgate.provisioning.log_search import RESOURCES, LogFilter, relative_path, search, valid_status


def _pretty(body: str | None) -> str | None:
    if body is None:
        return None
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _when(text: str | None) -> datetime | None:
    """A time from the filter form (``datetime-local``, read as UTC), or None when empty or not a time."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def log_filter(params: Mapping[str, str]) -> LogFilter:
    status = params.get("status") or None
    return LogFilter(
        directory_id=params.get("directory") or None,
        status=status if valid_status(status) else None,
        resource=params.get("resource") if params.get("resource") in RESOURCES else None,
        text=(params.get("q") or "").strip()[:200] or None,
        since=_when(params.get("since")),
        until=_when(params.get("until")),
    )


def log_page(request: Request) -> Response:
    admin = admin_of(request)
    found = log_filter(request.query_params)
    with admin.db.read() as conn:
        entries = search(conn, found, request.query_params.get("before"), queries.PAGE)
        directories = list_directories(conn)
        stats = queries.directory_stats(conn)
    warnings = queries.notices(directories, stats)
    if found.directory_id:
        warnings = [(d, w) for d, w in warnings if d.id == found.directory_id]
    filters = {
        "directory": found.directory_id or "",
        "status": found.status or "",
        "resource": found.resource or "",
        "q": found.text or "",
        "since": found.since.strftime("%Y-%m-%dT%H:%M") if found.since else "",
        "until": found.until.strftime("%Y-%m-%dT%H:%M") if found.until else "",
    }
    context: dict[str, Any] = {
        "entries": entries,
        "directories": directories,
        "names": {d.id: d.name for d in directories},
        "filters": filters,
        "older": urlencode({**filters, "before": entries[-1].id}) if len(entries) == queries.PAGE else None,
        "resources": RESOURCES,
        "warnings": warnings,
        "relative": relative_path,
    }
    return render(request, "log.html", context)


def _not_kept(entry: Any) -> str:
    """Why a body is shown empty: the reader must not think the IdP sent none when it was not kept."""
    if entry.token_id is None:
        return (
            "not kept: the request carried no valid credential (an anonymous client's query and bodies are never "
            "stored, so that no one can fill the log without a token)"
        )
    return "(none)"


def log_entry_page(request: Request) -> Response:
    admin = admin_of(request)
    with admin.db.read() as conn:
        entry = queries.log_entry(conn, request.path_params["entry_id"][:40])
        if entry is None:
            raise HTTPException(404, "No such request in the log (it may have been pruned).")
        directory = get_directory(conn, entry.directory_id) if entry.directory_id else None
        tokens = list_tokens(conn, entry.directory_id) if directory is not None else []
        held = conflict(conn, entry) if directory is not None else None
    context = {
        "conflict": held,
        "entry": entry,
        "directory": directory,
        "relative": relative_path(entry.directory_id, entry.path, entry.query),
        "token": next((t for t in tokens if t.id == entry.token_id), None),
        "tokens": tokens,
        "request_body": _pretty(entry.request_body),
        "response_body": _pretty(entry.response_body),
        "not_kept": _not_kept(entry),
        "now": datetime.now(UTC),
    }
    return render(request, "log_entry.html", context)


def events_page(request: Request) -> Response:
    admin = admin_of(request)
    directory_id = request.query_params.get("directory") or None
    before = request.query_params.get("before")
    with admin.db.read() as conn:
        found = queries.recent_events(conn, directory_id, position(before))
        directories = list_directories(conn)
    context = {
        "events": [(event, json.dumps(event.data, indent=2, ensure_ascii=False)) for event in found],
        "directories": directories,
        "names": {d.id: d.name for d in directories},
        "directory": directory_id or "",
        "more": found[-1].position if len(found) == queries.PAGE else None,
    }
    return render(request, "events.html", context)


def webhooks_page(request: Request) -> Response:
    admin = admin_of(request)
    with admin.db.read() as conn:
        endpoints = webhooks.list_endpoints(conn)
        health = queries.webhook_health(conn)
    context = {
        "endpoints": endpoints,
        "health": health,
        "none": queries.Health(),
        "failing_after": queries.FAILING_AFTER,
    }
    return render(request, "webhooks.html", context)


def webhook_page(request: Request) -> Response:
    admin = admin_of(request)
    endpoint_id = request.path_params["endpoint_id"][:40]
    status = request.query_params.get("status") or None
    with admin.db.read() as conn:
        endpoint = webhooks.get_endpoint(conn, endpoint_id)
        if endpoint is None:
            raise HTTPException(404, "No such webhook endpoint.")
        found = webhooks.list_deliveries(
            conn, endpoint_id, status if status in ("pending", "succeeded", "failed") else None
        )
    return render(request, "webhook.html", {"endpoint": endpoint, "deliveries": found, "status": status or ""})


async def webhook_action(request: Request) -> Response:
    admin = admin_of(request)
    form = await check_csrf(request)
    endpoint_id = request.path_params["endpoint_id"][:40]

    def run() -> None:
        with admin.db.write() as conn:
            if webhooks.get_endpoint(conn, endpoint_id) is None:
                raise HTTPException(404, "No such webhook endpoint.")
            action = form.get("action")
            if action == "redeliver":
                webhooks.redeliver(conn, endpoint_id, str(form.get("delivery", ""))[:40])
            elif action == "redeliver-failed":
                webhooks.redeliver(conn, endpoint_id)
            elif action in ("enable", "disable"):
                webhooks.set_enabled(conn, endpoint_id, action == "enable")
            else:
                raise HTTPException(400, "Unknown action.")

    await run_in_threadpool(run)
    return RedirectResponse(path_for(request, "admin:webhook", endpoint_id=endpoint_id), status_code=303)


def routes(admin: Admin) -> list[BaseRoute]:
    del admin
    return [
        Route("/log", log_page, name="log"),
        Route("/log/{entry_id}", log_entry_page, name="log_entry"),
        Route("/events", events_page, name="events"),
        Route("/webhooks", webhooks_page, name="webhooks"),
        Route("/webhooks/{endpoint_id}", webhook_page, name="webhook"),
        Route("/webhooks/{endpoint_id}", webhook_action, methods=["POST"]),
    ]
