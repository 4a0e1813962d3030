"""SIGTERM under load (security plan H6): requests in flight finish or fail cleanly, never a 201 without its commit,
and the process exits cleanly."""

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa

from scimgate.store.database import Database
from scimgate.store.tables import users
from tests.helpers.processes import free_port, start, value_after

pytestmark = pytest.mark.slow


def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    """Writers keep creating users while the server gets SIGTERM: every 201 they got is a committed user, the
    rest failed without a half-written user, and serve shuts down gracefully."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--rate-limit-per-second", "0"]
    process, lines = start(command, cwd=tmp_path)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    token = value_after(lines, "Bearer token (Entra: Secret Token):")
    created: list[str] = []
    outcomes: list[Any] = []
    started = threading.Event()

    def writer(index: int) -> None:
        with httpx2.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            for i in range(400):
                name = f"w{index}-{i}@example.com"
                try:
                    response = client.post(f"{url}/Users", json={"userName": name, "emails": [{"value": name}]})
                except httpx2.HTTPError as error:
                    outcomes.append(type(error).__name__)
                    return
                outcomes.append(response.status_code)
                if response.status_code == 201:
                    created.append(response.json()["id"])
                    started.set()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    assert started.wait(30)
    process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the signal it caught: exiting "by SIGTERM" is the clean end.
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    if process.stdout is not None:
        process.stdout.close()
    assert any("Finished server process" in line for line in lines), lines[-5:]
    assert set(outcomes) - {201, 503, "ConnectError", "RemoteProtocolError", "ReadError"} == set(), set(outcomes)
    db = Database(f"sqlite:///{(tmp_path / 'scimgate-data' / 'scimgate.db').resolve()}")
    try:
        with db.read() as conn:
            stored = {row.id: row.attributes for row in conn.execute(sa.select(users.c.id, users.c.attributes))}
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        db.dispose()
    assert set(created) <= set(stored)  # no 201 without its commit
    assert all(attributes.get("emails") for attributes in stored.values())  # nothing half-written
