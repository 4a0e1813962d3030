"""The admin page at ``/admin``: directories and their setup, users and groups, the provisioning log, events and
webhook deliveries. Server-rendered (Jinja2), no front-end build.

Signing in takes the operator key or the admin password; the session is a signed, HttpOnly, SameSite=Strict cookie
scoped to ``/admin`` that lasts 12 hours, and every form carries a CSRF token bound to the session. Minting a secret
asks for the key or password again when it was last entered more than five minutes ago (``signin``).
"""

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from scimgate.admin import activity, directories, links, schemas
from scimgate.admin.common import Admin, check_csrf, code_spans, path_for, render
from scimgate.admin.signin import Signin, refused
from scimgate.config import Settings
from scimgate.directories.auth import source_address
from scimgate.rate_limits import RateLimits
from scimgate.store.database import Database
from scimgate.store.tables import counters
from scimgate.version import __version__

HERE = Path(__file__).parent
_SESSION_SECONDS = 12 * 3600


def admin_app(settings: Settings, db: Database, forget_cached: Any, limits: RateLimits) -> ASGIApp:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["code_spans"] = code_spans
    templates.env.globals["version"] = __version__  # the footer of every page
    signin = Signin(settings, db, limits)
    admin = Admin(db, settings.resolved_public_url(), templates, forget_cached)

    async def login_page(request: Request) -> Response:
        return render(request, "login.html", {"error": None, "configured": bool(signin.secrets)})

    async def login(request: Request) -> Response:
        form = await request.form()
        refusal = signin.verify(source_address(request.scope), str(form.get("key", "")))
        if refusal is not None:
            return refused(request, "login.html", {"configured": bool(signin.secrets)}, refusal)
        await signin.start(request.session)
        return RedirectResponse(path_for(request, "admin:home"), status_code=303)

    async def logout(request: Request) -> Response:
        await check_csrf(request)
        # A signed cookie cannot be taken back, so signing out moves the time sessions must be newer than: every
        # admin session ends (there is one operator identity), including a copy of this cookie someone kept.
        await run_in_threadpool(_end_sessions, db)
        request.session.clear()
        return RedirectResponse(path_for(request, "admin:login"), status_code=303)

    routes = [
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        *directories.routes(admin),
        *activity.routes(admin),
        *schemas.routes(admin),
        *links.routes(),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error_page})
    app.router.redirect_slashes = False  # a redirect would be built from the request's Host header
    app.state.admin = admin
    app.state.signin = signin
    wrapped = _SessionSecret(signin, settings, _Guard(app, db, signin))
    wrapped.routes = app.routes  # so that url_for("admin:…") finds them through the Mount
    return wrapped


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code)


class _Guard:
    """Everything but the sign-in page and the stylesheet needs a live signed-in session: made under the current
    credentials, and after the last sign-out."""

    def __init__(self, app: ASGIApp, db: Database, signin: Signin) -> None:
        self.app = app
        self.db = db
        self.signin = signin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
            if not path.startswith(("/login", "/static")) and not await self._live(scope["session"]):
                scope["session"].clear()
                await RedirectResponse(f"{root}/login", status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _live(self, session: dict[str, Any]) -> bool:
        if not await self.signin.matches(session):
            return False
        ended = await run_in_threadpool(_sessions_ended, self.db)
        return float(session.get("at", 0)) > ended


_ENDED = "admin_sessions_ended"


def _sessions_ended(db: Database) -> float:
    with db.read() as conn:
        value = conn.execute(sa.select(counters.c.value).where(counters.c.name == _ENDED)).scalar_one_or_none()
    return float(value or 0) / 1000


def _end_sessions(db: Database) -> None:
    now = int(time.time() * 1000)
    with db.write() as conn:
        if conn.execute(counters.update().where(counters.c.name == _ENDED).values(value=now)).rowcount == 0:
            conn.execute(counters.insert().values(name=_ENDED, value=now))


class _SessionSecret:
    """The session middleware, keyed by a random secret kept in the database (the same for every worker)."""

    def __init__(self, signin: Signin, settings: Settings, app: ASGIApp) -> None:
        self.signin = signin
        self.settings = settings
        self.app = app
        self._wrapped: ASGIApp | None = None
        self.routes: list[BaseRoute] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._wrapped is None:
            key = await self.signin.session_key()
            self._wrapped = SessionMiddleware(
                self.app,
                secret_key=key,
                session_cookie="scimgate_admin",
                max_age=_SESSION_SECONDS,
                path=scope.get("root_path") or "/admin",
                same_site="strict",
                https_only=self.settings.resolved_public_url().startswith("https://"),
            )
        await self._wrapped(scope, receive, send)
