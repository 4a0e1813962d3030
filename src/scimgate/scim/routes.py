"""The SCIM HTTP routes of one directory: ``{public_url}/scim/v2/{directory_id}/…``.

Every route below the prefix is behind ``BearerAuth`` (``scimgate.directories.auth``), which runs before routing.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from scimgate.config import Settings
from scimgate.scim import discovery
from scimgate.scim.bulk import run_bulk
from scimgate.scim.errors import InvalidCount, InvalidValue
from scimgate.scim.etags import Preconditions
from scimgate.scim.http import parse_search_request, query_int, read_json, scim_response
from scimgate.scim.operations import Operations, Page, Single
from scimgate.scim.projection import Projection
from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.scim.sorting import SortKey, parse_sort
from scimgate.store.database import retrying

T = TypeVar("T")


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one operation (one transaction) in the thread pool, again if it lost a serialization race."""
    return await run_in_threadpool(retrying, functools.partial(function, *args, **kwargs))


def reader(inline: bool) -> Callable[..., Awaitable[Any]]:
    """How a small read runs: in the thread pool, or (SQLite) right here on the event loop.

    Only reads known to be small come here inline: a resource by id (without a group's member list) and the
    ``userName eq`` family of lookups that hit an index. For those the trip to the thread pool and back cost about
    as much as the read itself (0.3 ms pinned to a core, 1 ms across cores): inline, lookups went from 870 to
    1,240 a second on one core (docs/performance.md). Everything else — general filters, counts, sorted and
    cursor pages, member lists — runs in the pool, where a slow query does not stall the worker (``sqlite3``
    releases the GIL while SQLite runs). PostgreSQL reads wait on the network, so they always use the pool.
    """

    async def read(function: Callable[..., T], *args: Any, small: bool = False) -> T:
        if inline and small:
            return retrying(functools.partial(function, *args))
        return await call(function, *args)

    return read


def scim_router(ops: Operations, settings: Settings) -> Router:
    read = reader(inline=ops.db.is_sqlite)

    def directory(request: Request) -> str:
        return str(request.path_params["directory_id"])

    def projection(request: Request, rtype: ResourceType) -> Projection:
        params = request.query_params
        return Projection.parse(rtype, params.get("attributes"), params.get("excludedAttributes"))

    def page_of(
        start_index: int | None, count: int | None, sort: SortKey | None = None, cursor: str | None = None
    ) -> Page:
        if cursor is not None:
            return cursor_page(start_index, count, sort, cursor)
        # RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0; we cap count at maxResults.
        count = settings.default_page_size if count is None else max(count, 0)
        count = min(count, settings.max_page_size)
        return Page(max(start_index or 1, 1), count, sort)

    def cursor_page(start_index: int | None, count: int | None, sort: SortKey | None, cursor: str) -> Page:
        if start_index is not None:
            raise InvalidValue("Send startIndex (index paging) or cursor (cursor paging), not both.")
        if count is not None and count < 1:
            raise InvalidCount(f"With a cursor, count must be between 1 and {settings.max_page_size}.")
        size = min(settings.default_page_size if count is None else count, settings.max_page_size)
        return Page(1, size, sort, cursor)

    def page(request: Request, rtype: ResourceType) -> Page:
        params = request.query_params
        sort = parse_sort(rtype, params.get("sortBy"), params.get("sortOrder"))
        return page_of(query_int(request, "startIndex"), query_int(request, "count"), sort, params.get("cursor"))

    def preconditions(request: Request) -> Preconditions:
        return Preconditions(request.headers.get("if-match"), request.headers.get("if-none-match"))

    def asks_for_attributes(request: Request) -> bool:
        return "attributes" in request.query_params or "excludedAttributes" in request.query_params

    def one(single: Single, status: int = 200) -> Response:
        headers = {"ETag": single.version}
        if status == 201:
            headers["Location"] = single.location
        return scim_response(single.resource, status, headers)

    def endpoints(rtype: ResourceType) -> list[Route]:
        async def list_or_create(request: Request) -> Response:
            if request.method == "POST":
                payload = await read_json(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
                created = await call(ops.create, rtype, directory(request), payload, projection(request, rtype))
                return one(created, 201)
            filter_text, paging = request.query_params.get("filter"), page(request, rtype)
            result = await read(
                ops.search,
                rtype,
                directory(request),
                filter_text,
                paging,
                projection(request, rtype),
                small=ops.is_key_lookup(rtype, filter_text, paging),
            )
            return scim_response(result)

        async def search(request: Request) -> Response:
            """POST /{type}/.search (RFC 7644 §3.4.3): the query travels in the body, not in the URL."""
            body = await read_json(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
            query = parse_search_request(body)
            result = await call(
                ops.search,
                rtype,
                directory(request),
                query.filter,
                page_of(
                    query.start_index,
                    query.count,
                    parse_sort(rtype, query.sort_by, query.sort_order),
                    query.cursor,
                ),
                Projection.parse(rtype, query.attributes, query.excluded_attributes),
            )
            return scim_response(result)

        async def by_id(request: Request) -> Response:
            resource_id = str(request.path_params["resource_id"])
            conditions = preconditions(request)
            if request.method == "DELETE":
                await call(ops.delete, rtype, directory(request), resource_id, conditions)
                return Response(status_code=204)
            if request.method in ("PUT", "PATCH"):
                payload = await read_json(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
                # Entra asks for 204 on group PATCH: never read, let alone send, a member list of 100,000.
                quiet = request.method == "PATCH" and rtype is GROUPS and not asks_for_attributes(request)
                shown = Projection.parse(rtype, None, "members") if quiet else projection(request, rtype)
                arguments = (rtype, directory(request), resource_id, payload, shown, conditions)
                if request.method == "PATCH":
                    changed = await call(ops.patch, *arguments, not request.state.strict)
                else:
                    changed = await call(ops.replace, *arguments)
                if quiet:
                    return Response(status_code=204, headers={"ETag": changed.version})
                return one(changed)
            shown = projection(request, rtype)
            small = rtype is USERS or not shown.includes("members")  # a group's members can be 100,000
            found = await read(ops.get, rtype, directory(request), resource_id, shown, conditions, small=small)
            return one(found)

        return [
            Route(rtype.endpoint, list_or_create, methods=["GET", "POST"]),
            Route(rtype.endpoint + "/.search", search, methods=["POST"]),
            Route(rtype.endpoint + "/{resource_id}", by_id, methods=["GET", "PUT", "PATCH", "DELETE"]),
        ]

    async def root_search(request: Request) -> Response:
        query = parse_search_request(
            await read_json(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
        )
        result = await call(
            ops.search_across,
            directory(request),
            query.filter,
            page_of(query.start_index, query.count, None, query.cursor),
            query.attributes,
            query.excluded_attributes,
            query.sort_by,
        )
        return scim_response(result)

    async def bulk(request: Request) -> Response:
        body = await read_json(request, settings.max_body_bytes, settings.body_read_timeout_seconds)
        # Not through call(): each operation commits, and is retried, on its own (bulk.py).
        result = await run_in_threadpool(
            run_bulk,
            ops,
            directory(request),
            body,
            tolerant=not request.state.strict,
            max_operations=settings.max_bulk_operations,
        )
        return scim_response(result)

    async def spc(request: Request) -> Response:
        return scim_response(discovery.service_provider_config(ops.base_url(directory(request)), settings))

    async def resource_types(request: Request) -> Response:
        return scim_response(discovery.resource_types(ops.base_url(directory(request))))

    async def resource_type(request: Request) -> Response:
        return scim_response(discovery.resource_type(ops.base_url(directory(request)), request.path_params["name"]))

    async def schemas(request: Request) -> Response:
        return scim_response(discovery.schemas(ops.base_url(directory(request))))

    async def schema(request: Request) -> Response:
        return scim_response(discovery.schema(ops.base_url(directory(request)), request.path_params["schema_id"]))

    # No redirect for a trailing slash: an IdP gets the resource (BearerAuth strips the slash), not a 307.
    return Router(
        redirect_slashes=False,
        routes=[
            *endpoints(USERS),
            *endpoints(GROUPS),
            Route("/.search", root_search, methods=["POST"]),
            Route("/Bulk", bulk, methods=["POST"]),
            Route("/ServiceProviderConfig", spc, methods=["GET"]),
            Route("/ResourceTypes", resource_types, methods=["GET"]),
            Route("/ResourceTypes/{name}", resource_type, methods=["GET"]),
            Route("/Schemas", schemas, methods=["GET"]),
            Route("/Schemas/{schema_id}", schema, methods=["GET"]),
        ],
    )
