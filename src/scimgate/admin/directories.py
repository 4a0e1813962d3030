"""Admin pages: the directories (with their 24-hour activity), a directory's setup and tokens, users and groups."""

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.admin import history, queries
from scimgate.admin.common import Admin, admin_of, check_csrf, path_for, render
from scimgate.admin.inputs import position
from scimgate.admin.signin import reauthenticate
from scimgate.directories.credentials import issue_token, list_tokens
from scimgate.directories.domains import get_policy, list_domains, set_policy
from scimgate.directories.service import (
    IDP_NAMES,
    IDPS,
    Directory,
    create_directory,
    get_directory,
    list_directories,
    set_disabled,
    update_directory,
)
from scimgate.directories.setup import setup_for
from scimgate.scim.domains import POLICIES
from scimgate.scim.normalised import normalised_group, user_views
from scimgate.scim.render import render as render_scim
from scimgate.scim.resource_types import GROUPS
from scimgate.store import browse
from scimgate.store import resources as store
from scimgate.store.tables import groups, users

TOKEN_ON_THIS_PAGE = '<a token of this directory: the "Create a token" button below shows one, once>'
"""The steps' token on this page: the button that makes one, not the CLI command the same steps name elsewhere
(a web admin may have no shell on the server)."""


def _directory(admin: Admin, directory_id: str) -> Directory:
    with admin.db.read() as conn:
        found = get_directory(conn, directory_id)
    if found is None:
        raise HTTPException(404, f"There is no directory {directory_id[:48]}.")
    return found


def home(request: Request) -> Response:
    admin = admin_of(request)
    with admin.db.read() as conn:
        found = list_directories(conn)
        stats = queries.directory_stats(conn)
    rows = [(d, stats.get(d.id, queries.Stats())) for d in found]
    warnings = queries.notices(found, stats)
    return render(request, "home.html", {"rows": rows, "warnings": warnings, "idps": IDPS, "idp_names": IDP_NAMES})


async def create(request: Request) -> Response:
    admin = admin_of(request)
    form = await check_csrf(request)
    name = str(form.get("name", "")).strip()
    idp = str(form.get("idp", "generic"))
    external_id = str(form.get("external_id", "")).strip() or None
    if not 0 < len(name) <= 200 or idp not in IDPS or (external_id and len(external_id) > 200) or "\x00" in name:
        raise HTTPException(400, "A directory needs a name (1 to 200 characters) and one of the listed IdPs.")
    asked = await reauthenticate(request, form, "Creating a directory shows its first token")
    if asked is not None:
        return asked  # finding 12: no token without the key entered in the last five minutes

    def run() -> Response:
        with admin.db.write() as conn:
            made = create_directory(conn, name, external_id=external_id, idp=idp)
            issued = issue_token(conn, made.id, "created on the admin page")
        return _directory_page(request, made, new_token=issued.token)

    # Database work off the event loop: the admin page must never stall the IdPs' requests on this worker.
    return await run_in_threadpool(run)


POLICY_ACTIONS = {f"policy-{name}": name for name in POLICIES}


def directory_page(request: Request) -> Response:
    return _directory_page(request, _directory(admin_of(request), request.path_params["directory_id"]))


def _directory_page(request: Request, directory: Directory, new_token: str | None = None) -> Response:
    admin = admin_of(request)
    with admin.db.read() as conn:
        tokens = list_tokens(conn, directory.id)
        stats = queries.directory_stats(conn).get(directory.id, queries.Stats())
        domains = list_domains(conn, directory.id)
        policy = get_policy(conn, directory.id) or "off"
    context = {
        "domains": domains,
        "policy": policy,
        "policies": POLICIES,
        "warnings": queries.notices([directory], {directory.id: stats}),
        "directory": directory,
        "setup": setup_for(directory, admin.public_url, new_token, TOKEN_ON_THIS_PAGE),
        "new_token": new_token,
        "tokens": tokens,
        "stats": stats,
        "idp_name": IDP_NAMES.get(directory.idp, directory.idp),
    }
    return render(request, "directory.html", context)


async def new_token(request: Request) -> Response:
    admin = admin_of(request)
    asked = await reauthenticate(request, await check_csrf(request), "Creating a token shows it")
    if asked is not None:
        return asked  # finding 12: no token without the key entered in the last five minutes

    def run() -> Response:
        directory = _directory(admin, request.path_params["directory_id"])
        with admin.db.write() as conn:
            issued = issue_token(conn, directory.id, "created on the admin page")
        return _directory_page(request, directory, new_token=issued.token)

    return await run_in_threadpool(run)


async def change(request: Request) -> Response:
    admin = admin_of(request)
    form = await check_csrf(request)
    action = form.get("action")
    if action not in ("disable", "enable", "strict", "tolerant", *POLICY_ACTIONS):
        raise HTTPException(400, "Unknown action.")

    def run() -> Directory:
        directory = _directory(admin, request.path_params["directory_id"])
        with admin.db.write() as conn:
            if action in ("disable", "enable"):
                set_disabled(conn, directory.id, action == "disable")
            elif action in POLICY_ACTIONS:
                set_policy(conn, directory.id, POLICY_ACTIONS[action])
            else:
                update_directory(conn, directory.id, strict=action == "strict")
        return directory

    directory = await run_in_threadpool(run)
    admin.forget_cached()
    return RedirectResponse(path_for(request, "admin:directory", directory_id=directory.id), status_code=303)


def user_list(request: Request) -> Response:
    admin = admin_of(request)
    directory = _directory(admin, request.path_params["directory_id"])
    q, after = request.query_params.get("q", "")[:200], request.query_params.get("after")
    with admin.db.read() as conn:
        rows = queries.search(conn, users, directory.id, q, after)
        views = user_views(conn, directory.id, _base(admin, directory), rows)
    found = [views[row.id][0] for row in rows]
    more = rows[-1].id if len(rows) == queries.PAGE else None
    return render(request, "users.html", {"directory": directory, "users": found, "q": q, "more": more})


def user_page(request: Request) -> Response:
    admin = admin_of(request)
    directory = _directory(admin, request.path_params["directory_id"])
    with admin.db.read() as conn:
        row = store.get(conn, users, directory.id, request.path_params["user_id"][:40])
        if row is None:
            raise HTTPException(404, "No such user in this directory.")
        normalised, raw = user_views(conn, directory.id, _base(admin, directory), [row])[row.id]
        names = [row.attributes.get("userName"), row.attributes.get("displayName"), row.attributes.get("externalId")]
        context = {
            "directory": directory,
            "user": normalised,
            "raw": json.dumps(raw, indent=2, ensure_ascii=False),
            **history.page_context(conn, directory.id, row.id, names),
        }
    return render(request, "user.html", context)


def group_list(request: Request) -> Response:
    admin = admin_of(request)
    directory = _directory(admin, request.path_params["directory_id"])
    q, after = request.query_params.get("q", "")[:200], request.query_params.get("after")
    with admin.db.read() as conn:
        rows = queries.search(conn, groups, directory.id, q, after)
        counts = browse.member_counts(conn, directory.id, [row.id for row in rows])
    found = [normalised_group(row.id, row.attributes, counts[row.id]) for row in rows]
    more = rows[-1].id if len(rows) == queries.PAGE else None
    return render(request, "groups.html", {"directory": directory, "groups": found, "q": q, "more": more})


def group_page(request: Request) -> Response:
    """A group and one page of its members (a group can have 100,000)."""
    admin = admin_of(request)
    directory = _directory(admin, request.path_params["directory_id"])
    after = request.query_params.get("after")
    size = _page_size(request.query_params.get("size"))
    with admin.db.read() as conn:
        row = store.get(conn, groups, directory.id, request.path_params["group_id"][:40])
        if row is None:
            raise HTTPException(404, "No such group in this directory.")
        count = browse.member_counts(conn, directory.id, [row.id])[row.id]
        members = browse.member_page(conn, directory.id, row.id, after, size)
        names = [row.attributes.get("displayName"), row.attributes.get("externalId")]
        about = history.page_context(conn, directory.id, row.id, names)
    context: dict[str, Any] = {
        "directory": directory,
        "group": normalised_group(row.id, row.attributes, count),
        "raw": json.dumps(render_scim(GROUPS, row, _base(admin, directory)), indent=2, ensure_ascii=False),
        "members": members,
        "more": members[-1].id if len(members) == size else None,
        "size": size,
        "first": after is None,
        **about,
    }
    return render(request, "group.html", context)


def _page_size(text: str | None) -> int:
    size = position(text)
    return min(max(size, 1), 500) if size is not None else queries.PAGE


def _base(admin: Admin, directory: Directory) -> str:
    return f"{admin.public_url}/scim/v2/{directory.id}"


def routes(admin: Admin) -> list[BaseRoute]:
    del admin  # the handlers find it on the app's state
    return [
        Route("/", home, name="home"),
        Route("/directories", create, methods=["POST"], name="create"),
        Route("/directories/{directory_id}", directory_page, name="directory"),
        Route("/directories/{directory_id}/tokens", new_token, methods=["POST"], name="new_token"),
        Route("/directories/{directory_id}/change", change, methods=["POST"], name="change"),
        Route("/directories/{directory_id}/users", user_list, name="users"),
        Route("/directories/{directory_id}/users/{user_id}", user_page, name="user"),
        Route("/directories/{directory_id}/groups", group_list, name="groups"),
        Route("/directories/{directory_id}/groups/{group_id}", group_page, name="group"),
    ]
