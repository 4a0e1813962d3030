"""The pull feed over HTTP (/api/v1/events, long-poll), `scimgate events tail`, `scimgate worker` surviving a kill
mid-delivery, and the embedding API: mounting create_app, the EventFeed client, the scimgate_server fixture."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.cli import main
from scimgate.client import EventFeed, FeedError
from scimgate.config import Settings
from scimgate.events import webhooks
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.testing import ScimgateServer
from tests.events.receiver import LOOPBACK, Receiver
from tests.helpers.scim import OPERATOR_KEY, Api, Scim

pytestmark = pytest.mark.both_backends


def test_the_feed_pages_in_order_and_filters(api: Api, scim: Scim, other_scim: Scim) -> None:
    """GET /api/v1/events: ordered, paged by next_after, filtered by types and directory; bad input is a 400."""
    scim.create_user("a@example.com")
    other_scim.create_user("b@example.com")
    scim.create_group("G")
    first = api.get("/events?limit=2").json()
    rest = api.get(f"/events?after={first['next_after']}").json()
    types = [e["type"] for e in first["data"] + rest["data"]]
    assert types == ["directory.created", "directory.created", "user.created", "user.created", "group.created"]
    mine = api.get(f"/events?directory={scim.directory_id}&types=user.created,group.created").json()
    assert [e["type"] for e in mine["data"]] == ["user.created", "group.created"]
    assert api.get(f"/events?after={rest['next_after']}").json()["data"] == []
    for query in ("after=-1", "after=abc", "types=user.exploded", "limit=0", "wait=99"):
        assert api.get(f"/events?{query}").status_code in (400, 422), query


def test_long_poll_answers_as_soon_as_an_event_arrives(api: Api, scim: Scim) -> None:
    """wait=N holds the request until an event comes (not the full N seconds), or returns empty after N."""
    head = api.get("/events").json()["next_after"]
    started = time.monotonic()
    empty = api.get(f"/events?after={head}&wait=0.5").json()
    assert empty["data"] == [] and 0.4 < time.monotonic() - started < 5
    timer = threading.Timer(0.5, lambda: scim.create_user("late@example.com"))
    timer.start()
    started = time.monotonic()
    found = api.get(f"/events?after={head}&wait=20").json()
    timer.join()
    assert [e["type"] for e in found["data"]] == ["user.created"]
    assert time.monotonic() - started < 10


def test_events_tail_prints_json_lines(database: Database, scim: Scim, tmp_path: Path) -> None:
    """`scimgate events tail` prints the feed as JSON lines and where to resume."""
    scim.create_user("tail@example.com")
    url = database.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["events", "tail", "--database-url", url, "--types", "user.created"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["data"]["object"]["user_name"] for line in lines] == ["tail@example.com"]
    assert "next_after=" in result.stderr
    bad = CliRunner().invoke(main, ["events", "tail", "--database-url", url, "--types", "nope"])
    assert bad.exit_code == 2


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_delivers_after_restart(tmp_path: Path) -> None:
    """kill -9 while the receiver is still answering: the restarted worker delivers the event again (same
    webhook-id), it is acknowledged, and the delivery ends succeeded."""
    db_url = f"sqlite:///{tmp_path / 'scimgate.db'}"
    receiver = Receiver(hang_first=30)
    url = receiver.start()
    try:
        settings = Settings(
            database_url=db_url, webhooks_in_serve=False, public_url="http://testserver", operator_key=OPERATOR_KEY
        )
        database = Database(db_url)
        migrate.upgrade(database)
        with database.write() as conn:
            endpoint = webhooks.create_endpoint(conn, url, types=["user.created"], egress=LOOPBACK)
        app = create_app(settings, database)
        with TestClient(app, base_url="http://testserver") as client:
            headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
            made = client.post("/api/v1/directories", json={"name": "Kill"}, headers=headers).json()
            scim = Scim(client, made["directory"]["id"], made["token"]["token"])
            scim.create_user("survivor@example.com")
        env = {
            **os.environ,
            "SCIMGATE_DATABASE_URL": db_url,
            "SCIMGATE_WEBHOOK_CLAIM_SECONDS": "1",
            "SCIMGATE_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1",
        }
        command = [sys.executable, "-m", "scimgate", "worker"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        receiver.wait_for(1, seconds=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            received = receiver.wait_for(2, seconds=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with database.read() as conn:
                    found = webhooks.list_deliveries(conn, endpoint.id)
                if found and found[0].status == "succeeded":
                    break
                time.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0  # a clean stop on SIGTERM
        assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
        assert found[0].status == "succeeded" and found[0].log[-1]["status_code"] == 200
        Webhook(endpoint.secret).verify(received[1].body, received[1].headers)
        database.dispose()
    finally:
        receiver.stop()


def test_scimgate_mounts_inside_an_existing_asgi_app(database: Database) -> None:
    """create_app(settings) is an ASGI app: mounted under a prefix of the application, with public_url saying
    where, it serves SCIM and the management API there, beside the application's own routes."""
    settings = Settings(public_url="http://testserver/identity", operator_key=OPERATOR_KEY, webhooks_in_serve=False)
    host = Starlette(
        routes=[
            Route("/", lambda _request: PlainTextResponse("the application")),
            Mount("/identity", app=create_app(settings, database)),
        ]
    )
    with TestClient(host, base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        made = client.post("/identity/api/v1/directories", json={"name": "Embedded"}, headers=headers).json()
        assert made["directory"]["scim_url"].startswith("http://testserver/identity/scim/v2/dir_")
        scim_headers = {"Authorization": f"Bearer {made['token']['token']}"}
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "embedded@example.com"}
        created = client.post(made["directory"]["scim_url"] + "/Users", json=body, headers=scim_headers)
        assert created.status_code == 201
        assert created.headers["location"].startswith("http://testserver/identity/scim/v2/")
        assert client.get("/").text == "the application"


def test_the_event_feed_client_resumes_where_it_stopped(scimgate_server: ScimgateServer) -> None:
    """EventFeed iterates the feed over HTTP; a new EventFeed at the saved position continues without repeats."""
    directory = scimgate_server.create_directory("Feed client")
    directory.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "f1@x.org"})
    with scimgate_server.feed(directory=directory.id) as feed:
        first = list(feed.events(follow=False))
    assert [e["type"] for e in first] == ["directory.created", "user.created"]
    directory.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "f2@x.org"})
    with scimgate_server.feed(after=feed.position, directory=directory.id) as resumed:
        assert [e["data"]["object"]["user_name"] for e in resumed.events(follow=False)] == ["f2@x.org"]
    with scimgate_server.feed(directory=directory.id) as paged:
        assert [e["type"] for e in paged.page()] == ["directory.created", "user.created", "user.created"]
        assert paged.page() == []  # page() moved past what it returned
    with EventFeed(scimgate_server.url, "wrong-key") as wrong, pytest.raises(FeedError):
        wrong.page()


def test_the_pytest_fixture_delivers_signed_webhooks(scimgate_server: ScimgateServer) -> None:
    """What an application's own test looks like: a directory, a webhook to the app's handler, an IdP request,
    and the handler receives a verifiable user.created."""
    receiver = Receiver()
    try:
        secret = scimgate_server.add_webhook(receiver.start(), types=["user.created"])
        directory = scimgate_server.create_directory("Webhook fixture")
        body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@x.org"}
        assert directory.post("/Users", body).status_code == 201
        message = receiver.wait_for(1)[0]
        event = Webhook(secret).verify(message.body, message.headers)
        assert event["data"]["object"]["user_name"] == "new@x.org"
        assert httpx2.get(f"{scimgate_server.url}/api/v1/openapi.json").status_code == 200
    finally:
        receiver.stop()
