"""A pytest plugin: a real scimgate for your application's tests (installed with scimgate, loaded by pytest).

    def test_new_hire_gets_an_account(scimgate_server, my_webhook_url):
        directory = scimgate_server.create_directory("Contoso")
        scimgate_server.add_webhook(my_webhook_url)               # returns the whsec_ secret to verify with
        directory.post("/Users", {"userName": "ada@example.com", ...})  # what Entra would send
        ...                                                       # assert your handler created the account

``scimgate_server`` runs scimgate (SQLite in a temporary directory, webhooks delivered by its own worker) on a
free loopback port for the test session; each ``create_directory`` gives a fresh directory, so tests do not see
each other's users. ``scimgate_server.feed()`` is an ``EventFeed`` on it.
"""

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from scimgate.client import EventFeed

__all__ = ["ScimgateServer", "TestDirectory", "scimgate_server"]


@dataclass
class TestDirectory:
    """A directory of the test server, and a SCIM client for it (what an IdP would send)."""

    id: str
    scim_url: str
    token: str

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def request(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}
        return httpx2.request(method, self.scim_url + path, json=body, headers=headers, timeout=30)

    def post(self, path: str, body: Any) -> httpx2.Response:
        return self.request("POST", path, body)

    def patch(self, path: str, operations: list[dict[str, Any]]) -> httpx2.Response:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> httpx2.Response:
        return self.request("DELETE", path)


class ScimgateServer:
    def __init__(self, data_dir: Path, resolver: Any = None) -> None:
        """``resolver``: an object with ``txt(name) -> list[str]`` that domain verification asks instead of DNS
        (scimgate.directories.resolver.Resolver), to test the email-domain flow without publishing records."""
        from scimgate.app import create_app
        from scimgate.config import Settings
        from scimgate.store import migrate
        from scimgate.store.database import Database

        self.operator_key = secrets.token_urlsafe(32)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        settings = Settings(
            database_url=f"sqlite:///{data_dir / 'scimgate.db'}",
            public_url=self.url,
            operator_key=self.operator_key,
            token_cache_seconds=0,
            # The application's webhook handler under test listens on this machine: allow loopback, which a
            # real deployment refuses (issue 20, finding 6).
            webhook_allow_private=["127.0.0.0/8", "::1", "localhost"],
        )
        self._db = Database.from_settings(settings)
        migrate.upgrade(self._db)
        config = uvicorn.Config(
            create_app(settings, self._db, resolver), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("scimgate did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._db.dispose()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.operator_key}"}
        response = httpx2.request(method, f"{self.url}/api/v1{path}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_directory(self, name: str = "Test customer", idp: str = "entra") -> TestDirectory:
        created = self.api("POST", "/directories", {"name": name, "idp": idp})
        return TestDirectory(created["directory"]["id"], created["directory"]["scim_url"], created["token"]["token"])

    def add_webhook(self, url: str, directory_id: str | None = None, types: list[str] | None = None) -> str:
        """Send events to ``url``; returns the signing secret (whsec_…) to verify them with."""
        made = self.api("POST", "/webhooks", {"url": url, "directory_id": directory_id, "types": types})
        return str(made["secret"])

    def feed(self, after: str = "0", **kwargs: Any) -> EventFeed:
        return EventFeed(self.url, self.operator_key, after=after, **kwargs)


@pytest.fixture(scope="session")
def scimgate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimgateServer]:
    """A running scimgate for the test session (see the module docstring)."""
    server = ScimgateServer(tmp_path_factory.mktemp("scimgate"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
