"""Admin pages: a directory's setup links (scimgate/directories/links.py), made, listed with their last use, and
revoked. Making one mints a secret, so it asks for the key again like a token does (finding 12)."""

from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.admin.common import admin_of, check_csrf, path_for, render
from scimgate.admin.signin import reauthenticate
from scimgate.directories.links import DEFAULT_LIFETIME, create_link, list_links, revoke_link
from scimgate.directories.service import Directory, get_directory

LIFETIMES = {"1": timedelta(days=1), "7": DEFAULT_LIFETIME, "30": timedelta(days=30)}


def _directory(request: Request) -> Directory:
    with admin_of(request).db.read() as conn:
        found = get_directory(conn, request.path_params["directory_id"][:40])
    if found is None:
        raise HTTPException(404, "There is no such directory.")
    return found


def links_page(request: Request) -> Response:
    return _page(request, _directory(request), None)


def _page(request: Request, directory: Directory, new_url: str | None) -> Response:
    with admin_of(request).db.read() as conn:
        found = list_links(conn, directory.id)
    context = {"directory": directory, "links": found, "new_url": new_url, "now": datetime.now(UTC)}
    return render(request, "links.html", context)


async def new_link(request: Request) -> Response:
    admin = admin_of(request)
    form = await check_csrf(request)
    lifetime = LIFETIMES.get(str(form.get("days", "7")))
    if lifetime is None:
        raise HTTPException(400, "A setup link lasts 1, 7 or 30 days.")
    asked = await reauthenticate(request, form, "Creating a setup link shows it")
    if asked is not None:
        return asked

    def run() -> Response:
        directory = _directory(request)
        with admin.db.write() as conn:
            issued = create_link(conn, directory.id, lifetime)
        return _page(request, directory, issued.url(admin.public_url))

    return await run_in_threadpool(run)


async def revoke(request: Request) -> Response:
    admin = admin_of(request)
    await check_csrf(request)

    def run() -> Directory:
        directory = _directory(request)
        with admin.db.write() as conn:
            if revoke_link(conn, directory.id, request.path_params["link_id"][:40]) is None:
                raise HTTPException(404, "This directory has no such setup link.")
        return directory

    directory = await run_in_threadpool(run)
    return RedirectResponse(path_for(request, "admin:links", directory_id=directory.id), status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/directories/{directory_id}/links", links_page, name="links"),
        Route("/directories/{directory_id}/links", new_link, methods=["POST"], name="new_link"),
        Route("/directories/{directory_id}/links/{link_id}/revoke", revoke, methods=["POST"], name="revoke_link"),
    ]
