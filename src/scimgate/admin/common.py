"""What the admin pages share: their context, rendering with the session's CSRF token, the CSRF check."""

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from scimgate.store.database import Database


@dataclass(frozen=True)
class Admin:
    db: Database
    public_url: str
    templates: Jinja2Templates
    forget_cached: Callable[[], None]


def admin_of(request: Request) -> Admin:
    found: Admin = request.app.state.admin
    return found


def path_for(request: Request, name: str, **params: Any) -> str:
    """The path of a page, never a whole URL: a URL built from the request would carry whatever Host header the
    client sent into links and redirects."""
    return str(request.url_for(name, **params).path)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    admin = admin_of(request)
    full = {
        "csrf": request.session.get("csrf", ""),
        "public_url": admin.public_url,
        "url_for": lambda name, **params: path_for(request, name, **params),
        **context,
    }
    response = admin.templates.TemplateResponse(request, name, full, status_code=status_code)
    # Pages can show a secret once (a new token): never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def check_csrf(request: Request) -> dict[str, Any]:
    """The form of a POST, after checking its CSRF token against the session's."""
    form = dict(await request.form())
    expected = str(request.session.get("csrf", ""))
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
        raise HTTPException(403, "The form expired or did not come from this admin page; reload it and try again.")
    return form


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str | None) -> Markup:
    """Advice and setup steps are written once for the terminal and the page, with commands in Markdown backticks:
    on the page they are code, never literal backticks. Everything else is escaped."""
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text or ""))))
