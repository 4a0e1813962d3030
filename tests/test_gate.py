"""The gate (issue 20, findings 3–5): every route's query string and body are bounded before anything reads them,
bodies have a deadline, the management API checks its key before FastAPI reads a byte, and a client that leaves
mid-body costs no 500."""

import asyncio
import json
import time
from typing import Any

from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.asgi import http_scope
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim, assert_scim_error


async def _call(app: Any, scope: dict[str, Any], chunks: list[bytes], delay: float, disconnect: bool = False) -> Any:
    """Drive the app with a body sent ``delay`` seconds per chunk; the response's status and body."""
    sent: list[dict[str, Any]] = []
    queue = list(chunks)
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not queue:
            if disconnect:
                return {"type": "http.disconnect"}
            await asyncio.sleep(3600)
        await asyncio.sleep(delay)
        read += 1
        chunk = queue.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue) or disconnect}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return (start["status"] if start else None), body, read


def _scope(path: str, method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return http_scope(path, method, headers)


def _app(database: Database, **overrides: Any) -> Any:
    settings = Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False, **overrides)
    return create_app(settings, database)


def test_a_slow_body_is_408_on_every_face(database: Database) -> None:
    """A byte every half second past body_read_timeout_seconds: 408 on the OAuth token endpoint, the admin sign-in
    and the management API (the SCIM routes had their own deadline already)."""
    app = _app(database, body_read_timeout_seconds=1.0)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    key = [(b"authorization", f"Bearer {OPERATOR_KEY}".encode()), (b"content-type", b"application/json")]
    for path, headers in (("/oauth/token", form), ("/admin/login", form), ("/api/v1/directories", key)):
        started = time.monotonic()
        status, _body, _read = asyncio.run(_call(app, _scope(path, headers=headers), [b"a"] * 10, delay=0.5))
        assert status == 408, (path, status)
        assert time.monotonic() - started < 3


def test_the_management_api_checks_its_key_before_reading_the_body(database: Database) -> None:
    """Without the operator key, a POST is 401 before one chunk of its body is read (an unauthenticated 300 MB
    array used to be read whole first)."""
    app = _app(database)
    scope = _scope("/api/v1/directories", headers=[(b"content-type", b"application/json")])
    status, body, read = asyncio.run(_call(app, scope, [b"[" + b"0," * 1000] * 50, delay=0.0))
    assert status == 401 and read == 0
    assert json.loads(body)["title"] == "unauthorized"


def test_a_declared_oversized_body_is_413_before_reading(database: Database) -> None:
    app = _app(database)
    headers = [(b"content-length", b"999999999"), (b"authorization", f"Bearer {OPERATOR_KEY}".encode())]
    status, body, read = asyncio.run(_call(app, _scope("/api/v1/directories", headers=headers), [b"x"], delay=0.0))
    assert status == 413 and read == 0
    assert json.loads(body)["status"] == 413


def test_a_streamed_oversized_body_is_cut_off(database: Database) -> None:
    app = _app(database)
    headers = [(b"authorization", f"Bearer {OPERATOR_KEY}".encode()), (b"content-type", b"application/json")]
    chunks = [b"[" + b"0," * 100_000] * 20  # 4 MB without a Content-Length, past the 1 MB limit
    status, _body, read = asyncio.run(_call(app, _scope("/api/v1/directories", headers=headers), chunks, delay=0))
    assert status == 413 and read < len(chunks)


def test_a_client_leaving_mid_body_is_no_500(database: Database, caplog: Any) -> None:
    """The body stops and the client disconnects: nothing answers, and nothing is logged as an error."""
    app = _app(database)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, _body, _read = asyncio.run(_call(app, _scope("/oauth/token", headers=form), [b"grant_"], 0, True))
    assert status is None or status < 500
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_a_long_query_string_is_414_as_a_scim_error(scim: Scim) -> None:
    response = scim.get("/Users", params={"filter": 'userName eq "' + "a" * 3000 + '"'})
    assert_scim_error(response, 414)
    assert "2048" in response.json()["detail"]


def test_a_long_query_string_on_the_management_api_is_a_problem(database: Database) -> None:
    with TestClient(_app(database), base_url=BASE_URL) as client:
        response = client.get("/api/v1/directories", params={"q": "x" * 3000})
    assert response.status_code == 414
    assert response.headers["content-type"] == "application/problem+json"
