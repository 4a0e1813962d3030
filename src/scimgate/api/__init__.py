"""The management API under ``/api/v1``: directories, their credentials, and read access to what IdPs sent.

FastAPI (0.x) is used only in this package: it gives the routing, the request models and the OpenAPI document
(``/api/v1/openapi.json``, browsable at ``/api/v1/docs``). Every request needs the operator key
(``SCIMGATE_OPERATOR_KEY``) as a bearer token. SCIM tokens are never looked up here, and the operator key is not
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

from scimgate import __version__
from scimgate.api import credentials, data, directories
from scimgate.api.common import ApiError, Context
from scimgate.config import Settings
from scimgate.directories.auth import bearer_token
from scimgate.store.database import Database, is_unavailable

logger = logging.getLogger("scimgate.api")


def management_api(settings: Settings, db: Database, forget_credentials: Callable[[], None]) -> FastAPI:
    expected = settings.operator_key.get_secret_value() if settings.operator_key is not None else None
    expected_digest = hashlib.sha256(expected.encode()).digest() if expected else None

    def operator(request: Request) -> None:
        if expected_digest is None:
            raise ApiError(
                401,
                "management API is off",
                "No operator key is configured: set SCIMGATE_OPERATOR_KEY (or --operator-key) to use /api/v1.",
            )
        token = bearer_token(request.headers.get("authorization"))
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest() if token else b""
        if not hmac.compare_digest(presented, expected_digest):
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
    for module in (directories, credentials, data):
        api.include_router(module.router)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(sa.exc.SQLAlchemyError, _database_error)
    return api


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="scimgate-management"'} if status == 401 else None
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.title, exc.detail)


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


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        response = problem(503, "database unavailable", "The database is unavailable or busy; nothing was changed.")
        response.headers["Retry-After"] = "5"
        return response
    logger.exception("unexpected database error in the management API", exc_info=exc)
    return problem(500, "internal error", "The server hit an unexpected database error; nothing was changed.")
