"""``create_app(settings)``: the ASGI application."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from scimgate import serving
from scimgate.admin import admin_app
from scimgate.admin.inputs import Printable
from scimgate.api import management_api, problem
from scimgate.config import Settings
from scimgate.context import current_request
from scimgate.directories.auth import BearerAuth, TokenCache, without_directory
from scimgate.directories.oauth import token_endpoint
from scimgate.directories.resolver import DnsResolver, Resolver
from scimgate.events.delivery import Dispatcher
from scimgate.gate import Gate
from scimgate.observability.access_log import AccessLog, shown_path
from scimgate.observability.health import health_routes
from scimgate.observability.metrics import Metrics
from scimgate.portal import setup_app
from scimgate.provisioning.request_log import LogWriter, RequestLog
from scimgate.rate_limits import RateLimits
from scimgate.scim.endpoints import ScimEndpoints
from scimgate.scim.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    ScimError,
    ServiceUnavailable,
    UriTooLong,
    error_response,
)
from scimgate.scim.operations import Operations
from scimgate.scim.passwords import Passwords
from scimgate.store.database import Database, is_unavailable

__all__ = ["app_from_environment", "create_app"]

logger = logging.getLogger("scimgate")


def create_app(settings: Settings, db: Database | None = None, resolver: Resolver | None = None) -> Starlette:
    """``resolver``: where domain verification reads DNS TXT records (the system's DNS by default; tests give a
    fake one)."""
    resolver = resolver or DnsResolver()
    database = db or Database.from_settings(settings)
    ops = Operations(
        database,
        settings.resolved_public_url(),
        settings.cursor_timeout,
        Passwords(settings.passwords),
        max_resource_bytes=settings.max_body_bytes,
    )
    token_cache = TokenCache(settings.token_cache_seconds)
    limits = RateLimits.from_settings(settings)
    metrics = Metrics(database)
    log_writer = LogWriter(
        database,
        metrics,
        retention=timedelta(days=settings.request_log_days),
        max_rows=settings.request_log_max_rows,
        max_bytes=settings.request_log_max_bytes,
        body_chars=settings.request_log_body_chars,
    )

    def forget() -> None:
        """After the management API or the admin page changed credentials or declarations: this worker's caches."""
        token_cache.forget()
        ops.registry.forget()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(log_writer.run(stop))]
        # Webhooks go out from here unless `scimgate worker` processes do it (several serve workers are fine too:
        # deliveries are claimed, see scimgate/events/delivery.py).
        if settings.webhooks_in_serve:
            tasks.append(asyncio.create_task(Dispatcher.from_settings(settings, database, metrics).run(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await log_writer.flush()
            if db is None:
                database.dispose()

    app = Starlette(
        routes=[
            Mount(
                "/scim/v2/{directory_id}",
                app=BearerAuth(
                    ScimEndpoints(ops, settings).router(), database, token_cache, limits, settings.resolved_public_url()
                ),
            ),
            Mount("/api/v1", app=management_api(settings, database, forget, limits, _unexpected_error, resolver)),
            # Every method reaches it, so that a GET gets an OAuth error, not a SCIM one.
            Route("/oauth/token", token_endpoint(database, limits), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Mount("/admin", app=Printable(admin_app(settings, database, forget, limits)), name="admin"),
            # A customer's IT admin, with a setup link and no operator key (scimgate.portal).
            Mount(
                "/setup", app=Printable(setup_app(database, settings.resolved_public_url(), limits, forget, resolver))
            ),
            # "/admin" (the address README gives) is answered as "/admin/", not redirected (issue 19 item 4).
            Route("/admin", AnsweredAs("/admin/"), methods=["GET", "HEAD"]),
            *health_routes(database, metrics, settings),
        ],
        exception_handlers={
            ScimError: _scim_error,
            HTTPException: _http_error,
            sa.exc.SQLAlchemyError: _database_error,
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    # No redirect is ever built from the request: Starlette's trailing-slash redirect takes its Location from the
    # Host header (a client sending Host: evil.example.com would be sent there). Paths are answered or refused.
    app.router.redirect_slashes = False
    app.add_middleware(Gate, settings=settings, refuse=refuse)
    if settings.access_log != "off":
        app.add_middleware(AccessLog, which=settings.access_log)
    # Outermost: every request gets its id before anything can fail.
    app.add_middleware(
        RequestLog,
        writer=log_writer,
        metrics=metrics,
        capture_bytes=settings.max_body_bytes,
        on_unexpected=unexpected,
    )
    app.state.database = database
    app.state.public_url = settings.resolved_public_url()  # the 404s' expected URLs (_http_error)
    app.state.token_cache = token_cache
    app.state.request_log = log_writer
    app.state.limits = limits
    return app


class AnsweredAs:
    """A path answered exactly as another one of the same app: routed again with that path, query string kept.

    "/admin" is the admin page's "/admin/": its pages link by absolute paths (``url_for``), so they resolve the same
    from either. A redirect would do too, but its Location would come from the request (Starlette's slash redirect
    takes the Host header) or be relative; issue 19 asks for paths to be answered or refused directly.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["router"]({**scope, "path": self.path, "raw_path": self.path.encode()}, receive, send)


def app_from_environment() -> Starlette:
    """The app as a worker process builds it: settings from the SCIMGATE_ variables ``serve`` exported."""
    settings = Settings()
    serving.configure(settings)  # this process's connections (scimgate.serving)
    return create_app(settings)


def _answer(error: ScimError) -> Response:
    """A SCIM failure's response; the error goes on the request context, where the provisioning log reads it."""
    context = current_request.get()
    if context is not None:
        context.error = error
    return error_response(error)


async def _scim_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScimError)
    return _answer(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405, as SCIM errors: an IdP never gets an HTML or plain-text page."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error: ScimError = MethodNotAllowed(f"{request.method} is not supported on this endpoint. Allowed: {allowed}.")
        error.headers.update(exc.headers or {})
        return _answer(error)
    if exc.status_code == 404 and request.url.path.startswith("/api/v1/"):
        # A path the /api/v1 mount does not match (Starlette's routes match no newline, %0A): still the management
        # API's, so its problem document, not a SCIM error.
        return problem(404, "not found", "No such endpoint of the management API; see /api/v1/docs.")
    path, public_url = request.url.path, request.app.state.public_url
    if exc.status_code == 404 and path.startswith("/scim/v2/") and not path[len("/scim/v2/") :].startswith("dir_"):
        return _answer(without_directory(path[len("/scim/v2/") :].split("/", 1)[0], public_url))
    if exc.status_code == 404:
        return _answer(NotFound(f"No such endpoint. SCIM URLs look like {public_url}/scim/v2/dir_…/Users."))
    by_status = {408: RequestTimeout, 413: PayloadTooLarge}  # the gate's refusals met while reading a body
    if exc.status_code in by_status:
        return _answer(by_status[exc.status_code](str(exc.detail)))
    error = ScimError(str(exc.detail))
    error.headers.update(exc.headers or {})  # a 401's WWW-Authenticate challenge (the /metrics token)
    return error_response(error, status=exc.status_code)


def refuse(scope: Scope, status: int, detail: str) -> Response:
    """A request the gate (scimgate.gate) refuses before any route reads it, in its face's format."""
    if str(scope.get("path", "")).startswith("/api/v1"):
        return problem(status, "request refused", detail)
    error = {408: RequestTimeout, 413: PayloadTooLarge, 414: UriTooLong}.get(status, ScimError)(detail)
    return _answer(error) if error.status == status else error_response(error, status=status)


async def _database_error(request: Request, exc: Exception) -> Response:
    if is_unavailable(exc):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return _answer(
            ServiceUnavailable(
                "The directory's database is unavailable or busy; nothing was changed. Retry after the indicated delay."
            )
        )
    return await _unexpected_error(request, exc)


_UNEXPECTED = "The server hit an unexpected error; nothing was changed. Retry later."


def unexpected(scope: Scope, error: BaseException) -> Response:
    """The one answer to an exception that nothing expected (a bug), on every face: logged once per request, with
    the request id (each layer the exception crosses asks again); a problem document under /api/v1, else a SCIM
    error. The outermost middleware (provisioning.request_log), the management API and this app call it."""
    context = current_request.get()
    if context is None or context.unexpected is not error:
        path = shown_path(str(scope.get("path", "")))  # a setup link's secret never reaches the log
        logger.exception("unexpected error while serving %s %s", scope.get("method"), path, exc_info=error)
        if context is not None:
            context.unexpected = error
    if str(scope.get("path", "")).startswith("/api/v1/"):
        return problem(500, "internal error", _UNEXPECTED)
    return _answer(InternalError(_UNEXPECTED))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return unexpected(request.scope, exc)
