"""The setup page at ``/setup/<secret>``: a customer's IT admin sets up their IdP for one directory, alone.

The link's secret is the only credential (scimgate/directories/links.py); it opens its own directory and nothing
else. The page can do exactly six things: show the steps for a chosen IdP, create a token, rotate a token (the old
one keeps working for a day), show the directory's latest requests, users, groups and checklist, declare an email
domain and verify it by DNS (scimgate/directories/domains.py). The domain policy stays the operator's. Nothing an
operator does (disable, delete, settings, other directories, the log of others) has a route here.

Forms carry a CSRF token derived from the link's secret (a page on another site cannot know it) and are refused
when the browser says they came from another site. Minting tokens is rate limited per link; wrong secrets count
as failed credentials of the source address, like every other face's.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from scimgate.directories.auth import source_address
from scimgate.directories.credentials import NotRotatable, issue_token, list_tokens, rotate_token
from scimgate.directories.domains import DomainError, add_domain, list_domains, verify_by_dns
from scimgate.directories.links import LinkInfo, open_link, record_link_use, use_due
from scimgate.directories.resolver import DnsResolver, Resolver
from scimgate.directories.service import IDP_NAMES, get_directory
from scimgate.directories.setup import setup_for
from scimgate.portal import progress
from scimgate.rate_limits import RateLimits, per_minute, retry_after
from scimgate.store.database import Database

HERE = Path(__file__).parent
# The admin page's stylesheet and copy buttons, served again under /setup: one look, one copy script.
ADMIN_STATIC = HERE.parent / "admin" / "static"
CHOICES = ("entra", "okta", "onelogin", "jumpcloud", "google", "authentik", "generic")
ROTATION_OVERLAP = timedelta(days=1)
TOKEN_NAME = "created on the setup page"
_INVALID = "This setup link does not work: it expired, was revoked, or was copied incompletely."


class Portal:
    def __init__(
        self, db: Database, public_url: str, limits: RateLimits, forget_cached: Any, resolver: Resolver
    ) -> None:
        self.db = db
        self.resolver = resolver
        self.lookups = per_minute(10)  # domain actions per link: each verification is DNS lookups
        self.public_url = public_url
        self.limits = limits
        self.forget_cached = forget_cached
        self.mints = per_minute(6)  # tokens minted per link: enough for a retry or two, not a loop
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        # The URL holds the secret: never cached, never framed, never sent on as a Referer.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def link(self, request: Request) -> LinkInfo:
        """The link of the URL, or a 404 page (429 once this address has guessed too often)."""
        secret = request.path_params["secret"]

        def run() -> LinkInfo | None:
            # A read: a wrong guess (or the panel's poll every few seconds) must not take the database writer, which
            # SCIM writes need; the last use is written at most once a minute.
            with self.db.read() as conn:
                found = open_link(conn, secret, record_use=False)
            now = datetime.now(UTC)
            if found is not None and use_due(found, now):
                with self.db.write() as conn:
                    record_link_use(conn, found, now)
            return found

        found = await run_in_threadpool(run)
        if found is not None:
            return found
        wait = self.limits.failed_credential(source_address(request.scope))
        if wait:
            raise HTTPException(429, "Too many wrong setup links from this address; wait a minute.")
        raise HTTPException(404, _INVALID)


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"scimgate setup form", hashlib.sha256).hexdigest()


async def _checked_form(request: Request) -> dict[str, Any]:
    form = dict(await request.form())
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "This form came from another site; open the setup link again.")
    if not hmac.compare_digest(str(form.get("csrf", "")), csrf_token(request.path_params["secret"])):
        raise HTTPException(403, "The form expired or did not come from this page; reload it and try again.")
    return form


def _portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


async def page(request: Request) -> Response:
    portal = _portal(request)
    link = await portal.link(request)
    return await run_in_threadpool(_page, request, portal, link, None)


def _page(  # noqa: PLR0913 (the page's one renderer: what each form's answer adds to it)
    request: Request,
    portal: Portal,
    link: LinkInfo,
    new_token: str | None,
    status: int = 200,
    idp_asked: str = "",
    domain_message: str | None = None,
) -> Response:
    idp_asked = idp_asked or request.query_params.get("idp") or ""
    with portal.db.read() as conn:
        directory = get_directory(conn, link.directory_id)
        assert directory is not None  # the link's foreign key cascades
        tokens = [t for t in list_tokens(conn, directory.id) if t.revoked_at is None]
        requests = progress.recent_requests(conn, directory.id)
        checklist = progress.checklist(conn, directory.id)
        held = progress.people(conn, directory.id)
        domains = list_domains(conn, directory.id)
    idp = idp_asked if idp_asked in CHOICES else (directory.idp if directory.idp in CHOICES else "generic")
    setup = setup_for(directory, portal.public_url, new_token, "<the token you create below>", operator=False)
    secret = request.path_params["secret"]
    context = {
        "directory": directory,
        "idp": idp,
        "choices": [(c, IDP_NAMES[c] if c != "generic" else "Another SCIM 2.0 client") for c in CHOICES],
        "steps": setup.steps(idp),
        "scim_url": setup.scim_url,
        "new_token": new_token,
        "tokens": tokens,
        "requests": requests,
        "checklist": checklist.items(),
        "held": held,
        "csrf": csrf_token(secret),
        "base": f"/setup/{secret}",
        "expires_at": link.expires_at,
        "domains": domains,
        "domain_message": domain_message,
    }
    return portal.render(request, "setup.html", context, status)


async def activity(request: Request) -> Response:
    """What the live panel polls: the latest requests and the checklist."""
    portal = _portal(request)
    link = await portal.link(request)

    def run() -> dict[str, Any]:
        with portal.db.read() as conn:
            return {
                "requests": progress.recent_requests(conn, link.directory_id),
                "checklist": [
                    {"key": k, "done": done} for k, _, done in progress.checklist(conn, link.directory_id).items()
                ],
                **progress.people(conn, link.directory_id),
            }

    return JSONResponse(await run_in_threadpool(run), headers={"Cache-Control": "no-store"})


async def new_token(request: Request) -> Response:
    portal = _portal(request)
    link = await portal.link(request)
    form = await _checked_form(request)
    _spend(portal, link)

    def run() -> Response:
        with portal.db.write() as conn:
            issued = issue_token(conn, link.directory_id, TOKEN_NAME)
        return _page(request, portal, link, issued.token, 201, str(form.get("idp", "")))

    return await run_in_threadpool(run)


async def rotate(request: Request) -> Response:
    portal = _portal(request)
    link = await portal.link(request)
    form = await _checked_form(request)
    _spend(portal, link)
    token_id = request.path_params["token_id"][:40]

    def run() -> Response:
        with portal.db.write() as conn:
            try:
                # Scoped by the link's directory: another directory's token id is "no such token".
                issued = rotate_token(conn, link.directory_id, token_id, ROTATION_OVERLAP)
            except NotRotatable as error:
                raise HTTPException(409, str(error)) from None
        if issued is None:
            raise HTTPException(404, "This directory has no such token.")
        return _page(request, portal, link, issued.token, 201, str(form.get("idp", "")))

    response = await run_in_threadpool(run)
    portal.forget_cached()
    return response


def _spend(portal: Portal, link: LinkInfo) -> None:
    wait = portal.mints.take(link.id)
    if wait:
        raise HTTPException(
            429, "Several tokens were just made with this link; wait a minute.", {"Retry-After": retry_after(wait)}
        )


async def add_domain_form(request: Request) -> Response:
    """Declare an email domain: the page then shows the TXT record to publish."""
    portal = _portal(request)
    link = await portal.link(request)
    form = await _checked_form(request)
    _spend_lookup(portal, link)

    def run() -> Response:
        try:
            with portal.db.write() as conn:
                added = add_domain(conn, link.directory_id, str(form.get("domain", ""))[:300])
        except DomainError as error:
            return _page(request, portal, link, None, 422, domain_message=f"Not added: {error}.")
        message = f"Added {added.domain}. Publish the TXT record below, then press Verify."
        return _page(request, portal, link, None, 201, domain_message=message)

    return await run_in_threadpool(run)


async def verify_domain_form(request: Request) -> Response:
    """Look the domain's TXT record up now. Scoped by the link's directory: another directory's domain is none."""
    portal = _portal(request)
    link = await portal.link(request)
    await _checked_form(request)
    _spend_lookup(portal, link)
    domain = request.path_params["domain"][:300]

    def run() -> Response:
        found = verify_by_dns(portal.db, portal.resolver, link.directory_id, domain)
        if found is None:
            raise HTTPException(404, "This directory has no such domain.")
        if found.verified:
            return _page(request, portal, link, None, domain_message=f"{found.domain} is verified.")
        message = (
            f"No TXT record {found.record_value} at {found.record_names[0]} or {found.domain} yet. DNS changes "
            "can take a few minutes to appear; press Verify again then."
        )
        return _page(request, portal, link, None, 409, domain_message=message)

    return await run_in_threadpool(run)


def _spend_lookup(portal: Portal, link: LinkInfo) -> None:
    wait = portal.lookups.take(link.id)
    if wait:
        raise HTTPException(
            429, "Several domain checks were just made; wait a minute.", {"Retry-After": retry_after(wait)}
        )


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    portal = _portal(request)
    response = portal.render(
        request, "invalid.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code
    )
    response.headers.update(exc.headers or {})
    return response


async def _database_error(request: Request, exc: Exception) -> Response:
    """A busy or unreachable database is a 503 page, as on every other face (never a 500 that logs the URL)."""
    unavailable = HTTPException(503, "The service is busy or its database is unavailable; try again in a minute.")
    return await _error_page(request, unavailable)


def setup_app(
    db: Database, public_url: str, limits: RateLimits, forget_cached: Any, resolver: Resolver | None = None
) -> Starlette:
    routes = [
        Mount("/static", StaticFiles(directory=str(ADMIN_STATIC)), name="static"),
        Mount("/script", StaticFiles(directory=str(HERE / "static")), name="script"),
        Route("/{secret}", page, methods=["GET"]),
        Route("/{secret}/activity", activity, methods=["GET"]),
        Route("/{secret}/tokens", new_token, methods=["POST"]),
        Route("/{secret}/tokens/{token_id}/rotate", rotate, methods=["POST"]),
        Route("/{secret}/domains", add_domain_form, methods=["POST"]),
        Route("/{secret}/domains/{domain}/verify", verify_domain_form, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes, exception_handlers={HTTPException: _error_page, sa.exc.SQLAlchemyError: _database_error}
    )
    app.router.redirect_slashes = False  # a redirect would be built from the request's Host header
    app.state.portal = Portal(db, public_url, limits, forget_cached, resolver or DnsResolver())
    return app
