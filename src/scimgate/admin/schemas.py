"""Admin page: the declared extension schemas (docs/custom-attributes.md): list, declare from JSON, remove."""

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.admin.common import Admin, admin_of, check_csrf, path_for, render
from scimgate.directories.service import get_directory, list_directories
from scimgate.scim import extensions
from scimgate.scim.extensions import DeclarationError


def schemas_page(request: Request, error: str | None = None, definition: str = "", status: int = 200) -> Response:
    admin = admin_of(request)
    with admin.db.read() as conn:
        declared = extensions.declarations(conn)
        directories = list_directories(conn)
    context: dict[str, Any] = {
        "declared": declared,
        "directories": directories,
        "error": error,
        "definition": definition,
    }
    return render(request, "schemas.html", context, status_code=status)


async def schemas_action(request: Request) -> Response:
    admin = admin_of(request)
    form = await check_csrf(request)
    action = form.get("action")
    directory_id = str(form.get("directory_id") or "") or None
    if action == "remove":
        schema_id = str(form.get("schema_id", ""))
        removed = await run_in_threadpool(_remove, admin, schema_id, directory_id)
        if not removed:
            raise HTTPException(404, "No such declaration.")
    elif action == "declare":
        text = str(form.get("definition", ""))
        error = await run_in_threadpool(_declare, admin, text, directory_id)
        if error is not None:
            return schemas_page(request, error=error, definition=text, status=422)
    else:
        raise HTTPException(400, "Unknown action.")
    admin.forget_cached()
    return RedirectResponse(path_for(request, "admin:schemas"), status_code=303)


def _declare(admin: Admin, text: str, directory_id: str | None) -> str | None:
    """Declare from the form's JSON; the error to show, or None."""
    try:
        definition = json.loads(text)
    except ValueError as problem:
        return f"That is not JSON: {problem}."
    with admin.db.write() as conn:
        if directory_id is not None and get_directory(conn, directory_id) is None:
            return f"There is no directory {directory_id!r}."
        try:
            extensions.declare(conn, definition, [directory_id])
        except DeclarationError as problem:
            return str(problem)
    return None


def _remove(admin: Admin, schema_id: str, directory_id: str | None) -> int:
    with admin.db.write() as conn:
        return extensions.remove(conn, schema_id, directory_id)


def routes(admin: Admin) -> list[BaseRoute]:
    del admin
    return [
        Route("/schemas", schemas_page, name="schemas"),
        Route("/schemas", schemas_action, methods=["POST"]),
    ]
