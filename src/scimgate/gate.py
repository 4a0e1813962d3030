"""The gate every request passes before any route reads it: bounded query strings and bodies, a body deadline.

Security plan "limits before work": a request is bounded before anything parses, locks or stores it. The SCIM
routes also check what they read (``scim.http.read_json``), but the management API (FastAPI reads a JSON body before
its dependencies run), the OAuth token endpoint and the admin sign-in form read bodies their own way; here one layer
bounds them all:

* a query string over ``MAX_QUERY_BYTES`` is ``414`` (SCIM filters are far shorter; a 60 KB query string was the
  way to fill the provisioning log);
* a declared ``Content-Length`` over ``max_body_bytes`` is ``413`` before a byte is read, and a streamed body is
  cut off at the limit (``413``);
* the whole body must arrive within ``body_read_timeout_seconds`` (``408``): a client trickling a byte every few
  seconds cannot hold a request open;
* a client that disconnects mid-body ends the request quietly (no 500, no traceback).

Refusals are answered in the face's own format (``refuse``, given by ``scimgate.app``).
"""

import asyncio
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.config import Settings

MAX_QUERY_BYTES = 2048
Refuse = Callable[[Scope, int, str], Response]


class _TooLarge(HTTPException):
    """Raised where the app reads the body; an HTTPException, so each face answers it its own way (FastAPI turns
    any other exception met while reading a body into a 400)."""


class _TooSlow(HTTPException):
    pass


class Gate:
    def __init__(self, app: ASGIApp, settings: Settings, refuse: Refuse) -> None:
        self.app = app
        self.settings = settings
        self.refuse = refuse

    @property
    def max_body_bytes(self) -> int:
        return self.settings.max_body_bytes

    @property
    def body_timeout(self) -> float:
        return self.settings.body_read_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await self.refuse(scope, *refusal)(scope, receive, send)
            return
        started = False
        read = 0
        deadline = time.monotonic() + self.body_timeout

        async def bounded() -> Message:
            nonlocal read
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow(408, self._too_slow()) from None
            read += len(message.get("body", b""))
            if read > self.max_body_bytes:
                raise _TooLarge(413, self._too_large())
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, sending)
        except (_TooLarge, _TooSlow) as error:
            if not started:  # raised where no face's handler answered it
                await self.refuse(scope, error.status_code, str(error.detail))(scope, receive, send)
        except ClientDisconnect:
            pass  # the client went away mid-body: nobody to answer, nothing to log as an error

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            return 414, (
                f"The query string is longer than {MAX_QUERY_BYTES} bytes, the limit of this server; nothing was read. "
                "Send a long search as POST …/.search with the query in the body."
            )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body_bytes):
                return (413, self._too_large()) if value.isdigit() else (400, "The Content-Length is not a number.")
        return None

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes, the limit of this server."

    def _too_slow(self) -> str:
        return (
            f"The request body did not arrive within {self.body_timeout:g} seconds; nothing was changed. Send it again."
        )
