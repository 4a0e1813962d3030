"""``/api/v1/docs``: Swagger UI served from this server, so the page works offline and behind a proxy that blocks
CDNs (FastAPI's default page loads its script and stylesheet from jsDelivr, and was blank offline: issue 22).

The files come from the ``fastapi-offline`` package (a maintained bundle of Swagger UI's release files), served
under ``/api/v1/docs-static/``; like the page itself they hold no data and need no key.
"""

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

STATIC = "/docs-static"
_FILES = Path(fastapi_offline.__file__).parent / "static"


def add_docs(api: FastAPI, docs_url: str = "/docs") -> None:
    """Mount the files and the page on ``api`` (created with ``docs_url=None``)."""
    api.mount(STATIC, StaticFiles(directory=_FILES), name="docs-static")

    @api.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{api.openapi_url}",
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
        )
