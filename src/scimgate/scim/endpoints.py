"""The SCIM HTTP endpoints of one directory: ``{public_url}/scim/v2/{directory_id}/…``, one method per route and verb.

Every route below the prefix is behind ``BearerAuth`` (``scimgate.directories.auth``), which runs before routing and
puts the directory's mode (strict or tolerant) on the request context. Each method reads the request, runs one
operation (``operations.py``: one transaction) and writes the response; errors are raised as ``ScimError`` and
answered in one place (``scimgate.app``).
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router

from scimgate.config import Settings
from scimgate.context import current_request, note_ignored
from scimgate.scim import discovery
from scimgate.scim.bulk import run_bulk
from scimgate.scim.etags import Preconditions
from scimgate.scim.extensions import Catalog
from scimgate.scim.heavy_reads import HeavyReads
from scimgate.scim.http import parse_search_request, read_json, scim_response, search_params
from scimgate.scim.operations import Operations, Single
from scimgate.scim.projection import Projection
from scimgate.scim.query import SearchParams, Target, page_of, search_query
from scimgate.scim.resource_types import GROUPS, RESOURCE_TYPES, ResourceType
from scimgate.store.database import retrying

T = TypeVar("T")


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one operation (one transaction) in the thread pool, again if it lost a serialization race."""
    return await run_in_threadpool(retrying, functools.partial(function, *args, **kwargs))


class ScimEndpoints:
    def __init__(self, ops: Operations, settings: Settings) -> None:
        self.ops = ops
        self.settings = settings
        # Only reads known to be small run inline, on the event loop, and only on SQLite: a resource by id (without
        # a group's member list) and the ``userName eq`` family of lookups that hit an index. For those the trip to
        # the thread pool and back cost about as much as the read itself (0.3 ms pinned to a core, 1 ms across
        # cores): inline, lookups went from 870 to 1,240 a second on one core (docs/performance.md). Everything
        # else — general filters, counts, sorted and cursor pages, member lists — runs in the pool, where a slow
        # query does not stall the worker (``sqlite3`` releases the GIL while SQLite runs). PostgreSQL reads wait
        # on the network, so they always use the pool.
        self.inline_reads = ops.db.is_sqlite
        self.heavy = HeavyReads(settings)

    def router(self) -> Router:
        # No redirect for a trailing slash: an IdP gets the resource (BearerAuth strips the slash), not a 307.
        return Router(redirect_slashes=False, routes=self.routes())

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for rtype in RESOURCE_TYPES:
            on = functools.partial
            routes += [
                _verbs(rtype.endpoint, {"GET": on(self.list, rtype), "POST": on(self.create, rtype)}),
                Route(rtype.endpoint + "/.search", on(self.search, rtype), methods=["POST"]),
                _verbs(
                    rtype.endpoint + "/{resource_id}",
                    {
                        "GET": on(self.get, rtype),
                        "PUT": on(self.replace, rtype),
                        "PATCH": on(self.patch, rtype),
                        "DELETE": on(self.delete, rtype),
                    },
                ),
            ]
        return [
            *routes,
            Route("/.search", self.search_root, methods=["POST"]),
            Route("/Bulk", self.bulk, methods=["POST"]),
            Route("/ServiceProviderConfig", self.service_provider_config, methods=["GET"]),
            Route("/ResourceTypes", self.resource_types, methods=["GET"]),
            Route("/ResourceTypes/{name}", self.resource_type, methods=["GET"]),
            Route("/Schemas", self.schemas, methods=["GET"]),
            Route("/Schemas/{schema_id}", self.schema, methods=["GET"]),
        ]

    async def list(self, base: ResourceType, request: Request) -> Response:
        """GET /Users, /Groups: a search in the query string (RFC 7644 §3.4.2)."""
        rtype = await self._type(base, request)
        query = search_query(rtype, search_params(request), self.settings, _strict())
        small = self.ops.is_key_lookup(rtype, query)
        return scim_response(await self._read(request, small, self.ops.search, _collection(rtype, request), query))

    async def search(self, base: ResourceType, request: Request) -> Response:
        """POST /{type}/.search (RFC 7644 §3.4.3): the query travels in the body, not in the URL."""
        params = parse_search_request(await self._body(request))
        rtype = await self._type(base, request)
        query = search_query(rtype, params, self.settings, _strict())
        return scim_response(await self._read(request, False, self.ops.search, _collection(rtype, request), query))

    async def search_root(self, request: Request) -> Response:
        """POST /.search at the directory's root: Users and Groups in one list."""
        params: SearchParams = parse_search_request(await self._body(request))
        page = page_of(params, None, self.settings)
        return scim_response(
            await self._read(request, False, self.ops.search_across, _directory(request), params, page, _strict())
        )

    async def create(self, base: ResourceType, request: Request) -> Response:
        payload = await self._body(request)
        rtype = await self._type(base, request)
        created = await call(self.ops.create, _collection(rtype, request), payload, _projection(rtype, request))
        return _one(created, 201)

    async def get(self, base: ResourceType, request: Request) -> Response:
        rtype = await self._type(base, request)
        shown = _projection(rtype, request)
        small = rtype.name != GROUPS.name or not shown.includes("members")  # a group's members can be 100,000
        return _one(await self._read(request, small, self.ops.get, _resource(rtype, request), shown))

    async def replace(self, base: ResourceType, request: Request) -> Response:
        payload = await self._body(request)
        rtype = await self._type(base, request)
        return _one(await call(self.ops.replace, _resource(rtype, request), payload, _projection(rtype, request)))

    async def patch(self, base: ResourceType, request: Request) -> Response:
        payload = await self._body(request)
        rtype = await self._type(base, request)
        # Entra asks for 204 on group PATCH: never read, let alone send, a member list of 100,000.
        quiet = rtype.name == GROUPS.name and not _asks_for_attributes(request)
        shown = Projection.parse(rtype, None, "members") if quiet else _projection(rtype, request)
        changed = await call(self.ops.patch, _resource(rtype, request), payload, shown, strict=_strict())
        if quiet:
            note_ignored(changed.ignored)
            return Response(status_code=204, headers={"ETag": changed.version})
        return _one(changed)

    async def delete(self, base: ResourceType, request: Request) -> Response:
        await call(self.ops.delete, _resource(base, request))
        return Response(status_code=204)

    async def bulk(self, request: Request) -> Response:
        body = await self._body(request)
        # Not through call(): each operation commits, and is retried, on its own (bulk.py).
        limit = self.settings.max_bulk_operations
        result = await run_in_threadpool(
            run_bulk, self.ops, _directory(request), body, strict=_strict(), max_operations=limit
        )
        return scim_response(result)

    async def service_provider_config(self, request: Request) -> Response:
        return scim_response(discovery.service_provider_config(self._base(request), self.settings))

    async def resource_types(self, request: Request) -> Response:
        return scim_response(discovery.resource_types(self._base(request), await self._catalog(request)))

    async def resource_type(self, request: Request) -> Response:
        name = request.path_params["name"]
        return scim_response(discovery.resource_type(self._base(request), await self._catalog(request), name))

    async def schemas(self, request: Request) -> Response:
        return scim_response(discovery.schemas(self._base(request), await self._catalog(request)))

    async def schema(self, request: Request) -> Response:
        schema_id = request.path_params["schema_id"]
        return scim_response(discovery.schema(self._base(request), await self._catalog(request), schema_id))

    async def _catalog(self, request: Request) -> Catalog:
        """The directory's declared extensions: remembered by the registry, read in the thread pool when not."""
        registry, directory_id = self.ops.registry, _directory(request)
        found = registry.cached(directory_id)
        return found if found is not None else await run_in_threadpool(registry.catalog, directory_id)

    async def _type(self, base: ResourceType, request: Request) -> ResourceType:
        """``base`` (Users or Groups) with the extensions declared for the request's directory."""
        return (await self._catalog(request)).of(base)

    async def _body(self, request: Request) -> Any:
        return await read_json(request, self.settings.max_body_bytes, self.settings.body_read_timeout_seconds)

    async def _read(self, request: Request, small: bool, function: Callable[..., T], *args: Any) -> T:
        """A read: when ``small``, inline on SQLite (see ``inline_reads``) or in the thread pool; otherwise it may
        scan, and runs in the pool of such reads, in its directory's turn (``heavy_reads.py``)."""
        work = functools.partial(function, *args)
        if not small:
            return await self.heavy.run(_directory(request), work)
        if self.inline_reads:
            return retrying(work)
        return await call(function, *args)

    def _base(self, request: Request) -> str:
        return self.ops.base_url(_directory(request))


Endpoint = Callable[[Request], Awaitable[Response]]


def _verbs(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """One route for a path that several verbs share, so that a 405 lists them all in ``Allow`` (a HEAD is a GET)."""

    async def by_verb(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, by_verb, methods=list(endpoints))


def _directory(request: Request) -> str:
    return str(request.path_params["directory_id"])


def _collection(rtype: ResourceType, request: Request) -> Target:
    return Target(rtype, _directory(request))


def _resource(rtype: ResourceType, request: Request) -> Target:
    """The resource of a ``/{type}/{id}`` request, with its preconditions (RFC 7644 §3.14)."""
    conditions = Preconditions(request.headers.get("if-match"), request.headers.get("if-none-match"))
    return Target(rtype, _directory(request), str(request.path_params["resource_id"]), conditions)


def _projection(rtype: ResourceType, request: Request) -> Projection:
    params = request.query_params
    return Projection.parse(rtype, params.get("attributes"), params.get("excludedAttributes"))


def _asks_for_attributes(request: Request) -> bool:
    return "attributes" in request.query_params or "excludedAttributes" in request.query_params


def _strict() -> bool:
    """The directory's mode, as authentication found it (``BearerAuth``)."""
    context = current_request.get()
    return context is not None and context.strict


def _one(single: Single, status: int = 200) -> Response:
    note_ignored(single.ignored)
    headers = {"ETag": single.version}
    if status == 201:
        headers["Location"] = single.location
    return scim_response(single.resource, status, headers)
