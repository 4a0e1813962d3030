"""The management API under ``/api/v1``: directories, their credentials, and read access to what IdPs sent.

FastAPI (0.x) is used only in this package: it gives the routing, the request models and the OpenAPI document
(``/api/v1/openapi.json``, browsable at ``/api/v1/docs``). Every request needs the operator key
(``SCIMGATE_OPERATOR_KEY``) as a bearer token; the OpenAPI document and the docs page, which hold no data, are
public. SCIM tokens are never looked up here, and the operator key is not
a SCIM token, so neither credential opens the other's API. Errors are RFC 9457 problem documents.
"""

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate import __version__
from scimgate.api import credentials, data, directories, events
from scimgate.api.common import ApiError, Context
from scimgate.config import Settings
from scimgate.directories.auth import bearer_token, source_address
from scimgate.limits import Limits, retry_after
from scimgate.store.database import Database, is_unavailable

logger = logging.getLogger("scimgate.api")


def management_api(settings: Settings, db: Database, forget_credentials: Callable[[], None], limits: Limits) -> ASGIApp:
    expected = settings.operator_key.get_secret_value() if settings.operator_key is not None else None
    expected_digest = hashlib.sha256(expected.encode()).digest() if expected else None

    async def operator(request: Request) -> None:  # async: the limiters live on the event loop
        if expected_digest is None:
            raise ApiError(
                401,
                "management API is off",
                "No operator key is configured: set SCIMGATE_OPERATOR_KEY (or --operator-key) to use /api/v1.",
            )
        token = bearer_token(request.headers.get("authorization"))
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest() if token else b""
        if hmac.compare_digest(presented, expected_digest):
            return  # the key is high-entropy: checking it always helps no guesser
        source = source_address(request.scope)
        wait = limits.failures.exhausted(source)
        if wait:
            raise ApiError(
                429,
                "too many failed attempts",
                "Too many wrong keys came from this address; retry after the indicated delay.",
                {"Retry-After": retry_after(wait)},
            )
        limits.failures.take(source)
        raise ApiError(
            401,
            "unauthorized",
            "Send the operator key as `Authorization: Bearer <key>`. SCIM tokens do not work here.",
        )

    api = FastAPI(
        title="scimgate management API",
        version=__version__,
        description="Directories, their credentials, and the users and groups identity providers provisioned.",
        dependencies=[Depends(operator)],
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.context = Context(db, settings.resolved_public_url(), forget_credentials)
    for module in (directories, credentials, data, events):
        api.include_router(module.router)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(sa.exc.SQLAlchemyError, _database_error)
    api.add_exception_handler(Exception, _unexpected_error)
    return _Guard(api)


class _Guard:
    """Before FastAPI: refuse NUL characters in the path and query (PostgreSQL cannot store or compare them, and
    no id or key contains one); after it: an unexpected exception is a problem document, not a plain-text 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await problem(400, "invalid request", "The URL contains a NUL character.")(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # FastAPI answered with _unexpected_error and logged, then re-raised (as Starlette's error middleware
            # always does); the client has its problem document, so the exception ends here.
            if not started:
                logger.exception("unexpected error in the management API")
                await problem(500, "internal error", _UNEXPECTED)(scope, receive, send)


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="scimgate-management"'} if status == 401 else None
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = problem(exc.status, exc.title, exc.detail)
    response.headers.update(exc.headers)
    return response


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem(404, "not found", "No such endpoint of the management API; see /api/v1/docs.")
    return problem(exc.status_code, "error", str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"where": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]} for error in exc.errors()
    ]
    summary = "; ".join(f"{error['where']}: {error['problem']}" for error in errors)
    return problem(422, "invalid request", summary, errors=errors)


_UNEXPECTED = "The server hit an unexpected error; nothing was changed."


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error in the management API", exc_info=exc)
    return problem(500, "internal error", _UNEXPECTED)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        response = problem(503, "database unavailable", "The database is unavailable or busy; nothing was changed.")
        response.headers["Retry-After"] = "5"
        return response
    logger.exception("unexpected database error in the management API", exc_info=exc)
    return problem(500, "internal error", "The server hit an unexpected database error; nothing was changed.")
