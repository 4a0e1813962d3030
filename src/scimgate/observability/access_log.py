"""One log line per request: method, path, status, duration. Never the query string, never a header.

uvicorn's own access log is switched off because it logs query strings: SCIM filters carry personal data
(``userName eq "alice@…"``, RFC 7644 §7.5.2) and a misconfigured client may put its token there.
"""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("scimgate.access")


class AccessLog:
    def __init__(self, app: ASGIApp, which: str = "all") -> None:
        self.app = app
        # "errors": only what an operator must look at (400 and up); every SCIM request is in the provisioning log
        # anyway, and formatting and writing the line is a measurable part of a request's CPU (issue 21).
        self.lowest = {"all": 0, "errors": 400}.get(which, 1000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if status >= self.lowest:
                elapsed_ms = (time.perf_counter() - started) * 1000
                logger.info("%s %s %d %.1fms", scope["method"], shown_path(scope["path"]), status, elapsed_ms)


def shown_path(path: str) -> str:
    """The path as logged: a setup link's secret is its second segment (``/setup/<secret>/…``), so it is cut out;
    a log line must not open a directory's setup page."""
    if path.startswith("/setup/scimgate_"):
        rest = path[len("/setup/") :].split("/", 1)
        return "/setup/…" + ("/" + rest[1] if len(rest) > 1 else "")
    return path
