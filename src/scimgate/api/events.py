"""``/api/v1/events`` (the ordered feed, with long-poll), ``/api/v1/webhooks`` (endpoints, deliveries, redelivery)
and ``/api/v1/directories/{id}/role-mappings``."""

import asyncio
import re
import time
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scimgate.api.common import ApiError, Ctx, FromStore, Text, existing_directory
from scimgate.directories.setup import scim_url
from scimgate.events import feed, roles, webhooks
from scimgate.events.egress import UrlRefused
from scimgate.events.types import TYPE_NAMES
from scimgate.scim.changes import remap
from scimgate.tokens import shown_id

router = APIRouter(tags=["events and webhooks"])
MAX_WAIT = 30


class EventOut(BaseModel):
    id: str
    type: str
    directory_id: str
    sequence: int
    position: int
    timestamp: str
    data: dict[str, Any]


class EventPage(BaseModel):
    data: list[EventOut]
    next_after: str = Field(description="Pass as ``after`` to continue; keep it to resume after a restart.")


_POSITION = re.compile("[0-9]{1,18}")


def _cursor(after: str | None) -> int:
    if after in (None, ""):
        return 0
    # ASCII digits below 2^63 (issue 20, finding 9): "²" passes str.isdigit but not int(), and 19 digits can pass
    # what a BIGINT position holds; both were 500s.
    if not _POSITION.fullmatch(after):
        raise ApiError(400, "invalid cursor", "after is the next_after of an earlier page (digits), or omitted.")
    return int(after)


def _types(types: str | None) -> list[str] | None:
    wanted = [name.strip() for name in (types or "").split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(TYPE_NAMES))
    if unknown:
        raise ApiError(400, "unknown event type", f"Unknown: {', '.join(unknown)}. Known: {', '.join(TYPE_NAMES)}.")
    return wanted or None


@router.get("/events")
async def list_events(
    ctx: Ctx,
    after: Annotated[str | None, Query(max_length=19, description="The next_after of the previous page.")] = None,
    types: Annotated[str | None, Query(max_length=1000, description="Comma-separated event types.")] = None,
    directory: Annotated[str | None, Query(max_length=40, description="Only this directory's events.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to wait for an event (long poll).")] = 0,
) -> EventPage:
    """Events in order across directories (each directory's in its own sequence order)."""
    position, wanted = _cursor(after), _types(types)
    deadline = time.monotonic() + wait
    while True:
        page = await run_in_threadpool(feed.read, ctx.db, position, limit=limit, types=wanted, directory_id=directory)
        if page.events or time.monotonic() >= deadline:
            return EventPage(data=[EventOut(**event) for event in page.events], next_after=str(page.next_after))
        position = page.next_after  # nothing matched up to the head: no need to look there again
        await asyncio.sleep(min(0.25, max(deadline - time.monotonic(), 0)))


class EndpointIn(BaseModel):
    url: Text = Field(
        max_length=2000,
        description="An absolute http:// or https:// URL with a host (else 422), without user:password@ and not "
        "naming a loopback, private, link-local or reserved address unless webhook_allow_private allows it (else 400).",
    )
    directory_id: Text | None = Field(None, max_length=40, description="Only this directory's events; omit for all.")
    types: list[str] | None = Field(None, description="Only these event types (known ones, else 422); omit for all.")
    description: Text | None = Field(None, max_length=200)


class EndpointOut(BaseModel):
    id: str
    url: str
    directory_id: str | None
    types: list[str] | None
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    created_at: datetime
    last_success_at: datetime | None


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The whsec_ signing secret; verify with any Standard Webhooks library.")


def _out(endpoint: webhooks.Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "directory_id": endpoint.directory_id,
        "types": endpoint.types,
        "description": endpoint.description,
        "status": "disabled" if endpoint.disabled_at else "enabled",
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
        "last_success_at": endpoint.last_success_at,
    }


def _existing(ctx: Ctx, endpoint_id: str) -> webhooks.Endpoint:
    with ctx.db.read() as conn:
        found = webhooks.get_endpoint(conn, endpoint_id)
    if found is None:
        raise ApiError(404, "no such webhook endpoint", f"There is no webhook endpoint {shown_id(endpoint_id, 'whe')}.")
    return found


@router.post("/webhooks", status_code=201)
def create_webhook(body: EndpointIn, ctx: Ctx) -> EndpointWithSecret:
    with ctx.db.write() as conn:
        if body.directory_id is not None:
            existing_directory(conn, body.directory_id)
        try:
            made = webhooks.create_endpoint(
                conn, body.url, body.directory_id, body.types, body.description, egress=ctx.egress
            )
        except UrlRefused as error:  # issue 20, finding 6: an internal address or credentials in the URL
            raise ApiError(400, "webhook URL not allowed", str(error)) from None
        except ValueError as error:
            raise ApiError(422, "invalid webhook", str(error)) from None
    return EndpointWithSecret(**_out(made), secret=made.secret)


@router.get("/webhooks")
def list_webhooks(ctx: Ctx, directory: Annotated[str | None, Query(max_length=40)] = None) -> list[EndpointOut]:
    with ctx.db.read() as conn:
        return [EndpointOut(**_out(e)) for e in webhooks.list_endpoints(conn, directory)]


class EndpointChange(BaseModel):
    status: Literal["enabled", "disabled"]


@router.patch("/webhooks/{endpoint_id}")
def change_webhook(endpoint_id: str, body: EndpointChange, ctx: Ctx) -> EndpointOut:
    """Enable (deliveries queued meanwhile go out) or disable an endpoint."""
    _existing(ctx, endpoint_id)
    with ctx.db.write() as conn:
        changed = webhooks.set_enabled(conn, endpoint_id, body.status == "enabled")
    assert changed is not None
    return EndpointOut(**_out(changed))


@router.post("/webhooks/{endpoint_id}/rotate-secret")
def rotate_webhook_secret(
    endpoint_id: str, ctx: Ctx, overlap_seconds: Annotated[int, Query(ge=0, le=604800)] = 86400
) -> EndpointWithSecret:
    """A new signing secret; the old one also signs for the overlap (both signatures are sent)."""
    _existing(ctx, endpoint_id)
    with ctx.db.write() as conn:
        rotated = webhooks.rotate_secret(conn, endpoint_id, timedelta(seconds=overlap_seconds))
    assert rotated is not None
    return EndpointWithSecret(**_out(rotated), secret=rotated.secret)


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def delete_webhook(endpoint_id: str, ctx: Ctx) -> Response:
    _existing(ctx, endpoint_id)
    with ctx.db.write() as conn:
        webhooks.delete_endpoint(conn, endpoint_id)
    return Response(status_code=204)


class Attempt(BaseModel):
    attempted_at: str
    status_code: int | None
    latency_ms: int
    error: str | None = Field(
        description="Why the attempt failed, as a fixed class (timeout, connection refused, address not allowed, "
        "HTTP 503, …); the receiver's answer is never kept."
    )


class DeliveryOut(FromStore):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    log: list[Attempt]


@router.get("/webhooks/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: str,
    ctx: Ctx,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """Newest first, each with its attempts: status, latency and, for a failed one, why (a fixed class)."""
    _existing(ctx, endpoint_id)
    with ctx.db.read() as conn:
        found = webhooks.list_deliveries(conn, endpoint_id, status, after, limit)
    return [DeliveryOut.of(d, log=[Attempt(**entry) for entry in d.log]) for d in found]


class Redelivered(BaseModel):
    redelivered: int


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def redeliver_one(endpoint_id: str, delivery_id: str, ctx: Ctx) -> Redelivered:
    _existing(ctx, endpoint_id)
    with ctx.db.write() as conn:
        count = webhooks.redeliver(conn, endpoint_id, delivery_id)
    if not count:
        raise ApiError(404, "no such delivery", f"Endpoint {endpoint_id[:48]} has no delivery {delivery_id[:48]!r}.")
    return Redelivered(redelivered=count)


@router.post("/webhooks/{endpoint_id}/redeliver-failed")
def redeliver_failed(endpoint_id: str, ctx: Ctx) -> Redelivered:
    """Every failed delivery of the endpoint, again, with a fresh retry schedule."""
    _existing(ctx, endpoint_id)
    with ctx.db.write() as conn:
        return Redelivered(redelivered=webhooks.redeliver(conn, endpoint_id))


class MappingOut(FromStore):
    group_id: str
    group_display_name: str
    roles: list[str]


class MappingIn(BaseModel):
    group_id: Text = Field(max_length=40)
    role: Text = Field(min_length=1, max_length=200)


@router.get("/directories/{directory_id}/role-mappings")
def list_role_mappings(directory_id: str, ctx: Ctx) -> list[MappingOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return [MappingOut.of(m) for m in roles.list_mappings(conn, directory_id)]


def _remap(ctx: Ctx, directory_id: str, body: MappingIn, add: bool) -> list[MappingOut]:
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        if not remap(conn, directory_id, scim_url(ctx.public_url, directory_id), (body.group_id, body.role), add):
            raise ApiError(404, "no such group", f"This directory has no group {body.group_id!r}.")
        return [MappingOut.of(m) for m in roles.list_mappings(conn, directory_id)]


@router.post("/directories/{directory_id}/role-mappings")
def add_role_mapping(directory_id: str, body: MappingIn, ctx: Ctx) -> list[MappingOut]:
    """Members of the group get the role (each whose roles change gets ``user.updated``)."""
    return _remap(ctx, directory_id, body, add=True)


@router.post("/directories/{directory_id}/role-mappings/remove")
def remove_role_mapping(directory_id: str, body: MappingIn, ctx: Ctx) -> list[MappingOut]:
    return _remap(ctx, directory_id, body, add=False)
