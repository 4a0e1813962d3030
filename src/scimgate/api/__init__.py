"""The management API under ``/api/v1``: directories, their credentials, and read access to what IdPs sent.

FastAPI (0.x) is used only in this package: it gives the routing, the request models and the OpenAPI document
(``/api/v1/openapi.json``, browsable at ``/api/v1/docs``). Every request needs the operator key
(``SCIMGATE_OPERATOR_KEY``) as a bearer token; the OpenAPI document and the docs page, which hold no data, are
public. SCIM tokens are never looked up here, and the operator key is not
a SCIM token, so neither credential opens the other's API. Errors are RFC 9457 problem documents.
"""

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from scimgate.api import credentials, data, directories, domains, events, links, log, schemas
from scimgate.api.common import ApiError, Context
from scimgate.api.docs import STATIC, add_docs
from scimgate.config import Settings
from scimgate.directories.auth import bearer_token, source_address
from scimgate.directories.resolver import DnsResolver, Resolver
from scimgate.events.egress import EgressPolicy
from scimgate.rate_limits import RateLimits, retry_after
from scimgate.store.database import Database, is_unavailable
from scimgate.version import __version__

_MODULES = (directories, credentials, links, domains, data, events, schemas, log)


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def management_api(
    settings: Settings,
    db: Database,
    forget_cached: Callable[[], None],
    limits: RateLimits,
    on_unexpected: ExceptionHandler,
    resolver: Resolver | None = None,
) -> ASGIApp:
    """``on_unexpected``: the server's one answer to a bug (scimgate.app), a problem document here."""
    expected = settings.operator_key.get_secret_value() if settings.operator_key is not None else None
    expected_digest = hashlib.sha256(expected.encode()).digest() if expected else None

    async def refused(scope: Scope) -> Response | None:
        """The operator key checked before FastAPI reads anything (a body it parses before any dependency runs:
        an unauthenticated 300 MB JSON array used to be read whole). None: the key is right."""
        if expected_digest is None:
            return problem(
                401,
                "management API is off",
                "No operator key is configured: set SCIMGATE_OPERATOR_KEY (or --operator-key) to use /api/v1.",
            )
        headers = dict(scope.get("headers", []))
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None)
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest() if token else b""
        if hmac.compare_digest(presented, expected_digest):
            return None  # the key is high-entropy: checking it always helps no guesser
        wait = limits.failed_credential(source_address(scope))
        if wait:
            response = problem(
                429,
                "too many failed attempts",
                "Too many wrong keys came from this address; retry after the indicated delay.",
            )
            response.headers["Retry-After"] = retry_after(wait)
            return response
        return problem(
            401,
            "unauthorized",
            "Send the operator key as `Authorization: Bearer <key>`. SCIM tokens do not work here.",
        )

    api = _ManagementApi(
        redirect_slashes=False,  # a redirect would be built from the request's Host header
        title="scimgate management API",
        version=__version__,
        description="Directories, their credentials, and the users and groups identity providers provisioned.",
        docs_url=None,  # served from the package by scimgate.api.docs, not from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=_ERROR_RESPONSES,
    )
    egress = EgressPolicy.parse(settings.webhook_allow_private)
    api.state.context = Context(
        db, settings.resolved_public_url(), forget_cached, settings.passwords, egress, resolver or DnsResolver()
    )
    for module in _MODULES:
        api.include_router(module.router)
    add_docs(api)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)

    async def database_error(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):
            response = problem(503, "database unavailable", "The database is unavailable or busy; nothing was changed.")
            response.headers["Retry-After"] = "5"
            return response
        return await on_unexpected(request, exc)

    api.add_exception_handler(sa.exc.SQLAlchemyError, database_error)
    api.add_exception_handler(Exception, on_unexpected)
    return _Guard(api, refused)


class FieldError(BaseModel):
    where: str = Field(description='The part of the request, e.g. "body.name" or "query.limit".')
    problem: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``): every error of the management API."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(None, description="422 only: each part of the request that was refused.")


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM_REF}}}
    for status, description in {
        400: "Refused as sent: a NUL character in the URL, a delete without its confirmation, a bad cursor or type.",
        401: "No operator key, a wrong one, or no operator key configured.",
        404: "No such directory (or token, client, secret, setup link, user, group, webhook endpoint or delivery).",
        408: "The request body did not arrive within body_read_timeout_seconds.",
        409: "A conflict: the token is no longer active (rotate), or passwords are discarded (password verify).",
        413: "The request body is larger than max_body_bytes.",
        414: "The query string is longer than 2 KB.",
        422: "The parameters or the body do not fit the operation; ``errors`` says where.",
        429: "Too many wrong operator keys from this address; retry after the Retry-After delay.",
        500: "An unexpected error; nothing was changed.",
        503: "The database is unavailable or busy; nothing was changed. Retry after the Retry-After delay.",
    }.items()
}
"""Documented on every operation, in place of FastAPI's default 422 (whose body is not what the API sends)."""


class _ManagementApi(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with the ``Problem`` schema that every error response refers to."""
        document = super().openapi()
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(problem_schema.pop("$defs", {}))
        schemas["Problem"] = problem_schema
        return document


_PUBLIC = ("/docs", "/openapi.json", "/docs/oauth2-redirect")
"""Pages without data: the API's documentation."""


class _Guard:
    """Before FastAPI: refuse NUL characters in the path and query (PostgreSQL cannot store or compare them, and
    no id or key contains one), and anything without the operator key (but the documentation)."""

    def __init__(self, app: ASGIApp, refused: Callable[[Scope], Awaitable[Response | None]]) -> None:
        self.app = app
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await problem(400, "invalid request", "The URL contains a NUL character.")(scope, receive, send)
            return
        relative = scope["path"][len(scope.get("root_path", "")) :]
        if relative not in _PUBLIC and not relative.startswith(STATIC + "/"):
            refusal = await self.refused(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="scimgate-management"'} if status == 401 else None
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = problem(exc.status, exc.title, exc.detail)
    response.headers.update(exc.headers)
    return response


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem(404, "not found", "No such endpoint of the management API; see /api/v1/docs.")
    response = problem(exc.status_code, "error", str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """Every method of the path: Starlette's 405 names only those of the first route with the path (POST, not GET)."""
    methods = {
        method
        for module in _MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods or ()
    }
    return ", ".join(sorted(methods))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]} for error in exc.errors()
    ]
    summary = "; ".join(f"{error['where']}: {error['problem']}" for error in errors)
    return problem(422, "invalid request", summary, errors=errors)
