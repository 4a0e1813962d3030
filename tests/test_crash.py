"""Crash consistency (security test plan H1, H2): kill -9 the server in the middle of concurrent creates and member
adds; after a restart every acknowledged write is there, identical, and nothing is half-written."""

import os
import random
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from scimgate.store.database import Database
from tests.helpers.crash import WORKLOAD, Ledger, check_database, check_recovered, work
from tests.helpers.processes import free_port, start, stop, value_after

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    # Freshly migrated: no directory yet, so serve creates the first one and prints its token.
    db: Database = request.getfixturevalue("pg_database")
    yield db.url.render_as_string(hide_password=False)


def test_kill_9_during_load_loses_nothing_acknowledged(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--database-url", database_url]
    command += ["--rate-limit-per-second", "0"]  # the replay re-sends everything at full speed
    server, lines = start(command, cwd=tmp_path)
    killer = threading.Timer(random.uniform(0.8, 2.0), lambda: os.kill(server.pid, 9))
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
        ledger = Ledger()
        with httpx2.Client(headers=headers, timeout=10) as client:
            group = client.post(f"{url}/Groups", json={"displayName": "Crash test"}).json()["id"]
            killer.start()
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda i: work(client, url, group, i, ledger), range(WORKLOAD)))
            killer.join()
    finally:
        killer.cancel()  # if the test failed before the kill: no kill later, of a process that may not be ours
        stop(server)  # already dead after the kill: this waits for it and closes its output
    assert 0 < len(ledger.users) < WORKLOAD, "the kill should land in the middle of the load"

    server, _ = start(command, cwd=tmp_path)
    try:
        with httpx2.Client(headers=headers, timeout=30) as client:
            check_recovered(client, url, group, ledger)
    finally:
        stop(server)
    check_database(database_url)


def test_kill_9_during_a_big_member_patch_leaves_old_or_new_members(database_url: str, tmp_path: Path) -> None:
    """H3: kill -9 while a PATCH adds 1,000 members: after a restart the group has all of them or none."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--database-url", database_url]
    command += ["--rate-limit-per-second", "0"]  # the replay re-sends everything at full speed
    server, lines = start(command, cwd=tmp_path)
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
        with httpx2.Client(headers=headers, timeout=30) as client:
            bulk = {
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": f"m{i}@example.com"}}
                    for i in range(1000)
                ]
            }
            created = client.post(f"{url}/Bulk", json=bulk).json()["Operations"]
            ids = [r["location"].rsplit("/", 1)[1] for r in created]
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
    finally:
        stop(server)  # also when the test failed: no server left running
