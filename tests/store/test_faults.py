"""Storage faults on SQLite (security plan H4): a full disk and a read-only database answer 503 with Retry-After,
leave no partial row or event behind, and the service recovers by itself once the fault clears.

The faults are SQLite's own: ``PRAGMA max_page_count`` holds the database at its current size (SQLITE_FULL, what a
full disk gives, once a write needs a new page), ``PRAGMA query_only`` makes it read-only (SQLITE_READONLY); both
are set on every new connection.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.observability import health
from scimgate.store.database import Database
from scimgate.store.tables import events, users
from tests.helpers.scim import BASE_URL, Scim, new_directory

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "faults.db"
    path.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@contextmanager
def fault(db: Database, pragma: str) -> Iterator[None]:
    """Every connection opened while inside has the fault; afterwards, fresh connections do not."""

    def apply(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA {pragma}")

    db.engine.dispose()
    sa.event.listen(db.engine, "connect", apply)
    try:
        yield
    finally:
        sa.event.remove(db.engine, "connect", apply)
        db.engine.dispose()


def counts(db: Database) -> tuple[int, int]:
    with db.read() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one(),
        )


@pytest.mark.parametrize(
    "pragma",
    ["max_page_count = 1", "query_only = ON"],  # 1: "no more pages than it has now"
    ids=["disk full", "read-only"],
)
def test_a_storage_fault_is_503_changes_nothing_and_clears_by_itself(
    sqlite_db: Database, pragma: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "FAULT_MEMORY_SECONDS", 1.0)  # 30 s in production
    directory_id, token = new_directory(sqlite_db, "Faulty")
    settings = Settings(public_url=BASE_URL, webhooks_in_serve=False, token_cache_seconds=60)
    with TestClient(create_app(settings, sqlite_db), base_url=BASE_URL) as client:
        scim = Scim(client, directory_id, token)
        scim.create_user("before@example.com")  # the token is now remembered: authentication needs no write
        before = counts(sqlite_db)
        with fault(sqlite_db, pragma):
            # 300 KB of attributes: more than the free space inside the file's pages, so it needs new ones.
            big = {"schemas": [USER], "userName": "during@example.com", "nickName": "n" * 300_000}
            response = scim.post("/Users", big)
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
            assert scim.get("/Users").status_code == 200  # reads still work
            # Not ready: a load balancer stops sending this instance writes that would fail.
            readiness = client.get("/readyz")
            assert readiness.status_code == 503 and "SQLITE_" in readiness.json()["reason"], readiness.text
        assert counts(sqlite_db) == before  # no partial user, no orphan event
        assert scim.post("/Users", {"schemas": [USER], "userName": "after@example.com"}).status_code == 201
        assert client.get("/readyz").status_code == 503  # the fault is remembered for a while...
        time.sleep(1.1)
        assert client.get("/readyz").json() == {"status": "ready"}  # ...then it is ready again by itself


def test_a_read_only_database_is_not_ready_before_any_write_fails(sqlite_db: Database) -> None:
    """The readiness probe writes a row itself, so a read-only database is found without waiting for traffic."""
    settings = Settings(public_url=BASE_URL, webhooks_in_serve=False)
    with TestClient(create_app(settings, sqlite_db), base_url=BASE_URL) as client:
        assert client.get("/readyz").json() == {"status": "ready"}
        with fault(sqlite_db, "query_only = ON"):
            readiness = client.get("/readyz")
            assert readiness.status_code == 503
            assert readiness.json()["reason"] == "database: OperationalError (SQLITE_READONLY)"
        assert client.get("/readyz").status_code == 503  # the failed probe write counts as a fault, for a while
