"""The HTTP server side of ``scimgate serve``: uvicorn's httptools protocol, plus a deadline on request headers.

uvicorn times out idle keep-alive connections and nothing else: a client that opens a connection and sends its
request line and headers a byte at a time ("slowloris"), or nothing at all, holds the connection open for ever, and
enough of them exhaust the process's file descriptors (security plan F8). Here a request's headers must all arrive
within ``header_read_timeout_seconds`` of its first byte (or of the connection, for the first request); a client
that started a request and missed that gets a SCIM ``408``, one that never sent a byte is simply disconnected (what
a browser's pre-opened connection expects). Bodies have their own deadline (``body_read_timeout_seconds``, in
scimgate.scim.http), where the request is already the app's.
"""

import asyncio
import json
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from scimgate.config import Settings
from scimgate.scim.errors import SCIM_MEDIA_TYPE, error_body

# Where uvicorn finds the protocol (an import string, so worker processes load it too).
PROTOCOL = "scimgate.serving:DeadlineHttpProtocol"
_header_timeout = 10.0


def configure(settings: Settings) -> None:
    """Set the header deadline for this process's connections (each worker process calls it for itself)."""
    global _header_timeout
    _header_timeout = settings.header_read_timeout_seconds


class DeadlineHttpProtocol(HttpToolsProtocol):
    _deadline: asyncio.TimerHandle | None = None
    _started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, _OneWritePerStep(transport, self.loop)))
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._started = True
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # bytes between requests (even a bare CRLF, which starts no message): headers are due
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request on a kept-alive connection starts arriving
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(_header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            # Our own response is still pending, and uvicorn pauses reading meanwhile: not the client's delay.
            self._arm()
            return
        if self._started:
            detail = f"The request's headers did not arrive within {_header_timeout:g} seconds; send it again."
            body = json.dumps(error_body(408, detail, None)).encode()
            head = (
                f"HTTP/1.1 408 Request Timeout\r\ncontent-type: {SCIM_MEDIA_TYPE}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode("ascii") + body)
        self.transport.close()


# Pending bytes past which a connection's writes are sent at once rather than at the end of the step.
_FLUSH_AT = 64 * 1024


class _OneWritePerStep:
    """The connection's transport, with the writes made in one step of the event loop sent as one.

    uvicorn writes a response's head and its body separately: two ``send()`` system calls and two TCP segments per
    response, and the client wakes up twice (issue 21: the second write was a tenth of a small answer's server
    time). Here they are joined and sent when the step ends, in the order written; closing sends what is pending
    first. Everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_AT:
            # A body streamed without yielding to the loop: sent now, so the transport's flow control (uvicorn's
            # drain on pause_writing) still holds it back instead of this buffer growing without bound.
            self._flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._size = 0
        self._transport.abort()

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            if not self._transport.is_closing():
                self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
