"""Requests straight to the ASGI app, concurrently in one event loop, with a body that may arrive slowly: what
TestClient (one request at a time) cannot show, such as requests still in progress while others are answered."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    @property
    def status_code(self) -> int:  # as on a TestClient response, so assert_scim_error takes both
        return self.status


def http_scope(
    path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, query: str = ""
) -> dict[str, Any]:
    """An ASGI HTTP scope, as uvicorn would pass it for a request from 127.0.0.1."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers or [],
    }


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    *,
    query: str = "",
    token: str | None = None,
    body: AsyncIterator[bytes] | None = None,
) -> Answer:
    headers = [(b"content-type", b"application/scim+json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = http_scope(path, method, headers, query)
    chunks = body if body is not None else _nothing()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer_headers = {name.decode().lower(): value.decode() for name, value in start.get("headers", [])}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], answer_headers, content)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing
