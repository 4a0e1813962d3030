"""Issue 20, finding 2: one directory cannot take a worker from the others.

The attack: 40 concurrent scanning searches from one directory held every thread of the shared pool, and another
directory's ``GET /Users?count=1`` waited 58 s. Now a directory has at most ``directory_concurrency`` requests in
progress (429 beyond), and reads that may scan run in a pool of their own, ``heavy_reads_per_directory`` at a time
per directory, within ``heavy_read_seconds``. The figures under load are bench/fairness.py's (docs/performance.md).
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.scim.operations import Operations
from scimgate.store.database import Database, is_unavailable, read_deadline
from tests.helpers.asgi import Answer, asgi_request, http_scope
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, assert_scim_error, new_directory


def _settings(**overrides: Any) -> Settings:
    return Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False, **overrides)


def test_a_directory_at_its_concurrency_cap_gets_429_while_another_is_served(database: Database) -> None:
    app = create_app(_settings(directory_concurrency=2), database)
    busy, busy_token = new_directory(database, "Contoso")
    other, other_token = new_directory(database, "Fabrikam")
    release = asyncio.Event()

    async def slow_body(user_name: str) -> AsyncIterator[bytes]:
        yield b'{"userName": "' + user_name.encode()
        await release.wait()  # the request stays in progress, its body half sent
        yield b'"}'

    async def scenario() -> tuple[list[int], Answer, Answer, Answer]:
        url = f"/scim/v2/{busy}/Users"
        slow = [
            asyncio.create_task(
                asgi_request(app, "POST", url, token=busy_token, body=slow_body(f"u{i}@contoso.example"))
            )
            for i in range(2)
        ]
        await asyncio.sleep(0.2)
        refused = await asgi_request(app, "GET", url, query="count=1", token=busy_token)
        served = await asgi_request(app, "GET", f"/scim/v2/{other}/Users", query="count=1", token=other_token)
        release.set()
        created = [(await task).status for task in slow]
        after = await asgi_request(app, "GET", url, query="count=1", token=busy_token)
        return created, refused, served, after

    created, refused, served, after = asyncio.run(scenario())
    body = assert_scim_error(refused, 429)
    assert refused.headers["retry-after"] == "1"
    assert "directory_concurrency" in body["detail"]
    assert served.status_code == 200
    assert created == [201, 201]
    assert after.status_code == 200 and after.json()["totalResults"] == 2  # places are given back


def test_scanning_reads_take_turns_per_directory_and_leave_room_for_others(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(_settings(heavy_reads_per_directory=1, heavy_read_seconds=0.5), database)
    busy, busy_token = new_directory(database, "Contoso")
    other, other_token = new_directory(database, "Fabrikam")
    running = threading.Event()
    release = threading.Event()
    real_search = Operations.search

    def search(self: Operations, target: Any, query: Any) -> Any:
        if target.directory_id == busy and not running.is_set():
            running.set()  # the first search of the busy directory runs until released: a long scan
            release.wait(10)
        return real_search(self, target, query)

    monkeypatch.setattr(Operations, "search", search)
    scan = "filter=" + quote('emails[value co "contoso"]')

    async def scenario() -> tuple[Answer, float, Answer, float, Answer]:
        url = f"/scim/v2/{busy}/Users"
        first = asyncio.create_task(asgi_request(app, "GET", url, query=scan, token=busy_token))
        while not running.is_set():
            await asyncio.sleep(0.01)
        started = time.monotonic()
        waited = await asgi_request(app, "GET", url, query=scan, token=busy_token)
        waited_for = time.monotonic() - started
        started = time.monotonic()
        served = await asgi_request(app, "GET", f"/scim/v2/{other}/Users", query=scan, token=other_token)
        served_in = time.monotonic() - started
        release.set()
        return waited, waited_for, served, served_in, await first

    waited, waited_for, served, served_in, first = asyncio.run(scenario())
    # The second scan of the busy directory waited its turn for heavy_read_seconds, then was told to come back.
    assert "heavy_reads_per_directory" in assert_scim_error(waited, 429)["detail"]
    assert waited_for >= 0.5
    # Another directory's scan did not wait for that turn.
    # Had it waited for the busy scan it would have waited for its release, 10 s: the margin is for a busy machine.
    assert served.status_code == 200 and served_in < 5
    assert first.status_code == 200


@pytest.mark.both_backends
def test_a_read_past_its_deadline_stops_with_the_error_a_statement_timeout_gives(database: Database) -> None:
    slow = (
        "SELECT pg_sleep(2)"
        if not database.is_sqlite
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000000) SELECT max(x) FROM c"
    )
    started = time.monotonic()
    with read_deadline(0.2), pytest.raises(sa.exc.OperationalError) as raised, database.read() as conn:
        conn.exec_driver_sql(slow).all()
    assert time.monotonic() - started < 1.5
    assert is_unavailable(raised.value)  # answered 503, as a statement timeout is
    with database.read() as conn:  # outside the block the usual statement timeout applies again
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_a_client_sending_its_next_request_as_soon_as_it_has_the_answer_is_not_refused(database: Database) -> None:
    """With one place, the next request sent the moment the last byte of an answer arrives is served: the place is
    given back before that byte goes out (16 clients in flight, one request after another, never see a 429)."""
    app = create_app(_settings(directory_concurrency=1), database)
    directory_id, token = new_directory(database, "Contoso")
    url = f"/scim/v2/{directory_id}/Users"
    statuses: list[int] = []

    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            if message["type"] == "http.response.body" and not message.get("more_body", False) and len(statuses) < 3:
                statuses.append((await asgi_request(app, "GET", url, query="count=1", token=token)).status)

        headers = [(b"authorization", f"Bearer {token}".encode())]
        await app(http_scope(url, "GET", headers, "count=1"), receive, send)

    asyncio.run(scenario())
    assert statuses == [200, 200]


def test_a_scan_that_spent_its_time_in_the_pools_queue_reads_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """heavy_read_seconds counts the wait for a thread too: with one thread held by a long scan of another directory,
    a scan that gets the thread after its deadline is refused (429) without reading."""
    app = create_app(_settings(heavy_read_threads=1, heavy_read_seconds=0.5), database)
    busy, busy_token = new_directory(database, "Contoso")
    other, other_token = new_directory(database, "Fabrikam")
    running, release = threading.Event(), threading.Event()
    searched: list[str] = []
    real_search = Operations.search

    def search(self: Operations, target: Any, query: Any) -> Any:
        searched.append(target.directory_id)
        if target.directory_id == busy:
            running.set()
            release.wait(10)
        return real_search(self, target, query)

    monkeypatch.setattr(Operations, "search", search)
    scan = "filter=" + quote('emails[value co "contoso"]')

    async def scenario() -> Answer:
        first = asyncio.create_task(asgi_request(app, "GET", f"/scim/v2/{busy}/Users", query=scan, token=busy_token))
        while not running.is_set():
            await asyncio.sleep(0.01)
        queued = asyncio.create_task(asgi_request(app, "GET", f"/scim/v2/{other}/Users", query=scan, token=other_token))
        await asyncio.sleep(0.8)  # past the queued scan's deadline
        release.set()
        await first
        return await queued

    queued = asyncio.run(scenario())
    assert "heavy_reads_per_directory" in assert_scim_error(queued, 429)["detail"]
    assert searched == [busy]  # the queued scan never read
