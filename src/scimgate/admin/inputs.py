"""What the admin pages take from a URL: no control characters anywhere in it, and numbers the database can hold.

Issue 20, finding 9: a NUL in a path segment or a query parameter (``/admin/directories/%00``, ``?q=%00``) reached
PostgreSQL, which refuses NUL in text and answered with a 500; ``?before=99999999999999999999`` overflowed a 64-bit
column on both backends, and ``?size=²`` passed ``str.isdigit`` but not ``int``. Every page reads its parameters its
own way, so the control characters are refused once, in front of them all (``Printable``), and numbers are read by
``position`` alone.
"""

import re
from urllib.parse import unquote

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_POSITION = re.compile("[0-9]{1,18}")  # ASCII digits only, and always below 2^63


def position(text: str | None) -> int | None:
    """A page position or size from a query parameter: a non-negative integer a BIGINT holds, else None."""
    return int(text) if text is not None and _POSITION.fullmatch(text) else None


class Printable:
    """Refuses (400) an admin URL whose path or query string, decoded, carries a control character: no id, search
    or page position has one, and every database query behind the pages is spared it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes: list[BaseRoute] = getattr(app, "routes", [])
        """What ``url_for("admin:…")`` finds through the Mount."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_control(scope):
            response = PlainTextResponse("The URL contains a control character (such as %00).", status_code=400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_control(scope: Scope) -> bool:
    query = unquote(scope.get("query_string", b"").decode("latin-1").replace("+", " "))
    return bool(_CONTROL.search(scope["path"]) or _CONTROL.search(query))
