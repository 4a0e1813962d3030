"""Does adding one member cost the same in a group of 10 as in a group of 100,000? (issue 4's target: within 2x)

    .venv/bin/python bench/members.py --big 100000

Builds one SQLite directory with a group of 10 members and a group of ``--big`` members (rows inserted directly),
then times, through the whole ASGI app in-process, Entra's member PATCH adding one new user to each group, 50 times
each, alternating. Prints the medians, their ratio, and one JSON line; exits non-zero when the ratio exceeds 2.
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
from scimgate.store.tables import group_members, groups, users

ROUNDS = 50


def insert_users(db: Database, directory_id: str, n: int, prefix: str) -> list[str]:
    now = datetime.now(UTC)
    ids = [new_id("usr") for _ in range(n)]
    rows = [
        {
            "directory_id": directory_id,
            "id": user_id,
            "user_name": f"{prefix}{i}@example.com",
            "user_name_key": f"{prefix}{i}@example.com",
            "external_id": None,
            "display_name": None,
            "display_name_key": None,
            "active": True,
            "attributes": {"userName": f"{prefix}{i}@example.com"},
            "created": now,
            "last_modified": now,
            "version": 1,
        }
        for i, user_id in enumerate(ids)
    ]
    with db.write() as conn:
        for start in range(0, n, 5000):
            conn.execute(users.insert(), rows[start : start + 5000])
    return ids


def insert_group(db: Database, directory_id: str, name: str, members: list[str]) -> str:
    now = datetime.now(UTC)
    group_id = new_id("grp")
    with db.write() as conn:
        conn.execute(
            groups.insert().values(
                directory_id=directory_id,
                id=group_id,
                display_name=name,
                display_name_key=name.lower(),
                external_id=None,
                attributes={"displayName": name},
                created=now,
                last_modified=now,
                version=1,
            )
        )
        rows = [
            {"directory_id": directory_id, "group_id": group_id, "member_id": m, "user_id": m, "child_group_id": None}
            for m in members
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(group_members.insert(), rows[start : start + 5000])
    return group_id


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(db)
        with db.write() as conn:
            directory = create_directory(conn, "bench")
            token = issue_token(conn, directory.id).token
        everyone = insert_users(db, directory.id, args.big, "member")
        newcomers = insert_users(db, directory.id, 2 * ROUNDS, "new")
        small = insert_group(db, directory.id, "small", everyone[:10])
        big = insert_group(db, directory.id, "big", everyone)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        timings: dict[str, list[float]] = {"small": [], "big": []}
        app = create_app(Settings(public_url="http://bench", rate_limit_per_second=0), db)
        with TestClient(app, base_url="http://bench") as client:
            for _ in range(ROUNDS):
                for name, group_id in (("small", small), ("big", big)):
                    member = newcomers.pop()
                    body = {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]}],
                    }
                    started = time.perf_counter()
                    response = client.patch(f"/scim/v2/{directory.id}/Groups/{group_id}", json=body, headers=headers)
                    timings[name].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 204, response.text
            count = client.get(f'/scim/v2/{directory.id}/Groups?filter=displayName eq "big"', headers=headers).json()[
                "Resources"
            ][0]
            assert len(count["members"]) == args.big + ROUNDS  # every add landed
        db.dispose()
    small_ms, big_ms = statistics.median(timings["small"]), statistics.median(timings["big"])
    ratio = big_ms / small_ms
    print(f"add 1 member to a group of 10:        {small_ms:6.2f} ms (median of {ROUNDS})")
    print(f"add 1 member to a group of {args.big:,}: {big_ms:6.2f} ms (median of {ROUNDS})")
    print(f"ratio: {ratio:.2f} (target: at most 2.0)")
    print(
        json.dumps(
            {"big": args.big, "small_ms": round(small_ms, 2), "big_ms": round(big_ms, 2), "ratio": round(ratio, 2)}
        )
    )
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
