"""Crash consistency (security test plan H1, H2): kill -9 the server in the middle of concurrent creates and member
adds; after a restart every acknowledged write is there, identical, and nothing is half-written."""

import os
import random
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa

from scimgate.store.database import Database
from scimgate.store.tables import metadata
from tests.test_cli import free_port, start, stop, value_after

WORKLOAD = 1000


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    url: str = request.getfixturevalue("postgres_database")
    db = Database(url)
    with db.engine.begin() as conn:  # an empty directory table, so serve creates the first directory again
        conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} CASCADE")
    db.dispose()
    yield url


class Ledger:
    """What the server acknowledged: created users (with the body it answered) and members it added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, dict[str, Any]] = {}
        self.members: set[str] = set()
        self.sent: list[dict[str, Any]] = []


def _work(client: httpx2.Client, url: str, group: str, index: int, ledger: Ledger) -> None:
    body = {
        "userName": f"crash-{index}@example.com",
        "emails": [
            {"value": f"c{index}-{n}@example.com", "type": kind} for n, kind in enumerate(("work", "home", "other"))
        ],
    }
    with ledger.lock:
        ledger.sent.append(body)
    try:
        created = client.post(f"{url}/Users", json=body)
        if created.status_code != 201:
            return
        user = created.json()
        with ledger.lock:
            ledger.users[user["id"]] = user
        patch = {"Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}]}
        if client.patch(f"{url}/Groups/{group}", json=patch).status_code == 204:
            with ledger.lock:
                ledger.members.add(user["id"])
    except httpx2.HTTPError:
        return  # the server died under this request: no acknowledgement, nothing recorded


def test_kill_9_during_load_loses_nothing_acknowledged(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--database-url", database_url]
    command += ["--rate-limit-per-second", "0"]  # the replay re-sends everything at full speed
    server, lines = start(command, cwd=tmp_path)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
    ledger = Ledger()
    with httpx2.Client(headers=headers, timeout=10) as client:
        group = client.post(f"{url}/Groups", json={"displayName": "Crash test"}).json()["id"]
        killer = threading.Timer(random.uniform(0.8, 2.0), lambda: os.kill(server.pid, 9))
        killer.start()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda i: _work(client, url, group, i, ledger), range(WORKLOAD)))
        killer.join()
    stop(server)  # already dead: this waits for it and closes its output
    assert 0 < len(ledger.users) < WORKLOAD, "the kill should land in the middle of the load"

    server, _ = start(command, cwd=tmp_path)
    try:
        with httpx2.Client(headers=headers, timeout=30) as client:
            _check_recovered(client, url, group, ledger)
    finally:
        stop(server)
    _check_database(database_url)


def _check_recovered(client: httpx2.Client, url: str, group: str, ledger: Ledger) -> None:
    """After recovery: every acknowledged write there and identical, nothing half-written, re-sending is safe."""
    _check_acknowledged(client, url, group, ledger)
    _check_complete_or_absent(client, url)
    for body in ledger.sent:  # re-sending everything: only 201 (never reached the database) or 409
        assert client.post(f"{url}/Users", json=body).status_code in (201, 409)
    everyone = client.get(f"{url}/Users?count=1000&attributes=userName").json()
    assert everyone["totalResults"] == len({b["userName"] for b in ledger.sent})


def _check_acknowledged(client: httpx2.Client, url: str, group: str, ledger: Ledger) -> None:
    for user_id, answered in ledger.users.items():
        read = client.get(f"{url}/Users/{user_id}?excludedAttributes=groups")
        assert read.status_code == 200 and read.json() == answered
    members = {m["value"] for m in client.get(f"{url}/Groups/{group}").json().get("members", [])}
    assert ledger.members <= members


def _check_complete_or_absent(client: httpx2.Client, url: str) -> None:
    for user in client.get(f"{url}/Users?count=1000").json()["Resources"]:
        assert len(user.get("emails", [])) == 3, user


def _check_database(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.read() as conn:
            if db.is_sqlite:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            duplicates = conn.execute(
                sa.text(
                    "SELECT directory_id, user_name_key FROM users GROUP BY directory_id, user_name_key "
                    "HAVING count(*) > 1"
                )
            ).all()
            assert duplicates == []
    finally:
        db.dispose()


def test_kill_9_during_a_big_member_patch_leaves_old_or_new_members(database_url: str, tmp_path: Path) -> None:
    """H3: kill -9 while a PATCH adds 1,000 members: after a restart the group has all of them or none."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--database-url", database_url]
    command += ["--rate-limit-per-second", "0"]  # the replay re-sends everything at full speed
    server, lines = start(command, cwd=tmp_path)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
    with httpx2.Client(headers=headers, timeout=30) as client:
        bulk = {
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": f"m{i}@example.com"}}
                for i in range(1000)
            ]
        }
        ids = [r["location"].rsplit("/", 1)[1] for r in client.post(f"{url}/Bulk", json=bulk).json()["Operations"]]
        for attempt in range(3):
            group = client.post(f"{url}/Groups", json={"displayName": f"Big {attempt}"}).json()["id"]
            patch = {"Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]}
            killer = threading.Timer(random.uniform(0.0, 0.15), lambda pid=server.pid: os.kill(pid, 9))
            killer.start()
            try:
                client.patch(f"{url}/Groups/{group}", json=patch)
            except httpx2.HTTPError:
                pass
            killer.join()
            stop(server)
            server, _ = start(command, cwd=tmp_path)
            members = client.get(f"{url}/Groups/{group}").json().get("members", [])
            assert len(members) in (0, 1000)
    stop(server)
