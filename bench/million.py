"""Lookups in a directory of 1,000,000 users against the same lookups at 5,000, on SQLite, served over HTTP.

    .venv/bin/python bench/million.py                   # 1,000,000 users (about 2 GB of disk, a few minutes)
    .venv/bin/python bench/million.py --users 200000

For each size: a fresh data directory is loaded with Entra-shaped users straight through the storage layer (in
chunks, so the loader's memory stays flat), then ``scimgate serve`` starts on it pinned to core 0 and
bench/entra.py --lookups-only sends 5,000 ``userName eq`` lookups from core 1, 16 at a time, checking each answer.
Prints the lookup rates and p99s, the ratio of the two p99s (the target: within 2x), and the server's resident
memory after the lookups. Only loopback is used.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from run import free_port, pinned, wait_ready

from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory
from scimgate.ids import new_id
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import users

ROOT = Path(__file__).resolve().parent.parent
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user_rows(directory_id: str, start: int, stop: int) -> Iterator[dict[str, Any]]:
    now = datetime.now(UTC)
    for i in range(start, stop):
        name = f"bench.user{i}@contoso.com"
        document = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": name,
            "externalId": f"ext-{i}",
            "active": True,
            "displayName": f"Bench User {i}",
            "name": {"givenName": "Bench", "familyName": f"User{i}"},
            "emails": [{"primary": True, "type": "work", "value": name}],
            ENTERPRISE: {"employeeNumber": str(i), "department": "Benchmarks"},
        }
        yield {
            "directory_id": directory_id,
            "id": new_id("usr"),
            "user_name": name,
            "user_name_key": name,
            "external_id": f"ext-{i}",
            "display_name": f"Bench User {i}",
            "display_name_key": f"bench user {i}",
            "active": True,
            "attributes": document,
            "created": now,
            "last_modified": now,
            "version": 1,
        }


def load(data_dir: Path, n: int) -> tuple[str, str]:
    db = Database(f"sqlite:///{data_dir / 'scimgate.db'}")
    migrate.upgrade(db)
    with db.write() as conn:
        directory = create_directory(conn, "bench")
        token = issue_token(conn, directory.id).token
    for start in range(0, n, 20_000):
        with db.write() as conn:
            conn.execute(users.insert(), list(user_rows(directory.id, start, min(start + 20_000, n))))
    db.optimize()  # what a running server does every five minutes (without it the statistics stay empty)
    db.dispose()
    return directory.id, token


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(n: int, lookups: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        directory_id, token = load(Path(tmp), n)
        loaded_s = time.perf_counter() - started
        port = free_port()
        command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--data-dir", tmp]
        command += ["--rate-limit-per-second", "0"]
        server = subprocess.Popen(pinned("0", command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", server)
            url = f"http://127.0.0.1:{port}/scim/v2/{directory_id}"
            bench = [sys.executable, str(ROOT / "bench" / "entra.py"), "--url", url, "--token", token]
            bench += ["--users", str(n), "--lookups-only", str(lookups), "--label", f"{n} users"]
            result = subprocess.run(pinned("1", bench), capture_output=True, text=True, timeout=3600)
            print(result.stderr, end="", file=sys.stderr)
            report = json.loads(result.stdout.strip().splitlines()[-1])
            phase = report["phases"][0]
            return {
                "users": n,
                "load_seconds": round(loaded_s, 1),
                "database_mb": round((Path(tmp) / "scimgate.db").stat().st_size / 2**20),
                "lookups_per_second": phase["per_second"],
                "p50_ms": phase["p50_ms"],
                "p99_ms": phase["p99_ms"],
                "failures": report["failures"],
                "server_rss_mb": round(resident_mb(server.pid)),
            }
        finally:
            server.terminate()
            server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--baseline-users", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    args = parser.parse_args()
    small, large = measure(args.baseline_users, args.lookups), measure(args.users, args.lookups)
    for row in (small, large):
        print(
            f"{row['users']:>9} users: {row['lookups_per_second']:>8} lookups/s  p50 {row['p50_ms']} ms  "
            f"p99 {row['p99_ms']} ms  server RSS {row['server_rss_mb']} MB  database {row['database_mb']} MB"
        )
    ratio = large["p99_ms"] / small["p99_ms"] if small["p99_ms"] else 0.0
    print(f"p99 at {args.users} users is {ratio:.2f}x the p99 at {args.baseline_users} (target: within 2x)")
    print(json.dumps({"small": small, "large": large, "p99_ratio": round(ratio, 2)}))
    return 1 if small["failures"] or large["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
