"""The workload of the kill -9 tests (tests/test_crash.py kills scimgate, tests/store/test_database_crash.py kills
PostgreSQL) and the checks after recovery: nothing acknowledged lost, nothing half-written."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import sqlalchemy as sa

from scimgate.store.database import Database

WORKLOAD = 1000
# Clients of the checks after recovery: a thousand requests one at a time took most of a crash test's time. Under the
# server's per-directory cap on requests in progress (16 by default), so none is refused with a 429.
CHECKERS = 8


class Ledger:
    """What the server acknowledged: created users (with the body it answered) and members it added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, dict[str, Any]] = {}
        self.members: set[str] = set()
        self.sent: list[dict[str, Any]] = []


def work(client: httpx2.Client, url: str, group: str, index: int, ledger: Ledger) -> None:
    """Create user ``index`` with three emails, then add it to ``group``; record what was acknowledged."""
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


def check_recovered(client: httpx2.Client, url: str, group: str, ledger: Ledger) -> None:
    """After recovery: every acknowledged write there and identical, nothing half-written, re-sending is safe."""
    _check_acknowledged(client, url, group, ledger)
    _check_complete_or_absent(client, url)
    with ThreadPoolExecutor(max_workers=CHECKERS) as pool:  # re-sending everything: only 201 or 409
        statuses = list(pool.map(lambda body: client.post(f"{url}/Users", json=body).status_code, ledger.sent))
    assert set(statuses) <= {201, 409}, Counter(statuses)  # 201: it never reached the database
    everyone = client.get(f"{url}/Users?count=1000&attributes=userName").json()
    assert everyone["totalResults"] == len({b["userName"] for b in ledger.sent})


def _check_acknowledged(client: httpx2.Client, url: str, group: str, ledger: Ledger) -> None:
    def read(user_id: str) -> tuple[int, Any]:
        answer = client.get(f"{url}/Users/{user_id}?excludedAttributes=groups")
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(max_workers=CHECKERS) as pool:
        reads = dict(zip(ledger.users, pool.map(read, ledger.users), strict=True))
    for user_id, answered in ledger.users.items():
        assert reads[user_id] == (200, answered)
    members = {m["value"] for m in client.get(f"{url}/Groups/{group}").json().get("members", [])}
    assert ledger.members <= members


def _check_complete_or_absent(client: httpx2.Client, url: str) -> None:
    for user in client.get(f"{url}/Users?count=1000").json()["Resources"]:
        assert len(user.get("emails", [])) == 3, user


def check_database(database_url: str) -> None:
    """The database itself: intact (SQLite's integrity and foreign key checks) and no userName twice."""
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
