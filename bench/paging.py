"""How listing cost grows with depth: index paging (OFFSET) against cursor paging (keyset), on one SQLite file.

    .venv/bin/python bench/paging.py --users 50000

Creates a throw-away directory of N users, then times, through the whole ASGI app in-process, pages of 1,000 users
at the start and at the end of the list: by startIndex, and by walking nextCursor. Prints one line per measurement
and a JSON summary. Each figure is the median of 5 requests.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory
from scimgate.ids import new_id
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import users


def populate(db: Database, directory_id: str, n: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        name = f"user{i:07d}@example.com"
        rows.append(
            {
                "directory_id": directory_id,
                "id": new_id("usr"),
                "user_name": name,
                "user_name_key": name,
                "external_id": None,
                "display_name": None,
                "display_name_key": None,
                "active": True,
                "attributes": {"userName": name, "active": True},
                "created": now,
                "last_modified": now,
                "version": 1,
            }
        )
    with db.write() as conn:
        for start in range(0, n, 5000):
            conn.execute(users.insert(), rows[start : start + 5000])


def median_ms(client: TestClient, url: str, headers: dict[str, str]) -> tuple[float, dict[str, object]]:
    times, body = [], {}
    for _ in range(5):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        body = response.json()
    return statistics.median(times), body


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--page", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(db)
        with db.write() as conn:
            directory = create_directory(conn, "bench")
            token = issue_token(conn, directory.id).token
        populate(db, directory.id, args.users)
        headers = {"Authorization": f"Bearer {token}"}
        base = f"/scim/v2/{directory.id}/Users"
        results: dict[str, float] = {}
        with TestClient(
            create_app(Settings(public_url="http://bench", rate_limit_per_second=0), db), base_url="http://bench"
        ) as client:
            results["index_first_ms"], _ = median_ms(client, f"{base}?startIndex=1&count={args.page}", headers)
            deep = args.users - args.page + 1
            results["index_last_ms"], _ = median_ms(client, f"{base}?startIndex={deep}&count={args.page}", headers)
            results["cursor_first_ms"], body = median_ms(client, f"{base}?cursor=&count={args.page}", headers)
            cursor, previous = str(body.get("nextCursor", "")), ""
            while cursor:  # walk to the last page
                previous = cursor
                cursor = str(
                    client.get(f"{base}?cursor={cursor}&count={args.page}", headers=headers)
                    .json()
                    .get("nextCursor", "")
                )
            results["cursor_last_ms"], _ = median_ms(client, f"{base}?cursor={previous}&count={args.page}", headers)
        db.dispose()
    for name, value in results.items():
        print(f"{name:>18}: {value:8.1f} ms  ({args.users} users, pages of {args.page})")
    print(json.dumps({"users": args.users, "page": args.page, **{k: round(v, 1) for k, v in results.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
