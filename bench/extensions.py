"""Lookups on a declared, indexed custom attribute against ``userName eq``, in one directory of 100,000 users.

    .venv/bin/python bench/extensions.py                 # 100,000 users
    .venv/bin/python bench/extensions.py --users 20000 --lookups 3000

A fresh SQLite data directory is loaded with Entra-shaped users that also carry a custom extension
(``urn:ietf:params:scim:schemas:extension:acme:2.0:User`` with ``badgeId``), the extension is declared with
``badgeId`` indexed (what ``scimgate schema add`` does), then ``scimgate serve`` starts pinned to core 0 and
bench/entra.py --lookups-only sends the lookups from core 1, 16 at a time, checking each answer: first by userName,
then by badgeId, then by userName again (the better userName figure is the baseline). Prints both p99s and their
ratio (the target: the custom attribute's p99 within 2x of userName's). Only loopback is used.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from million import resident_mb, user_rows
from run import free_port, pinned, wait_ready

from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory
from scimgate.scim import extensions
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import users

ROOT = Path(__file__).resolve().parent.parent
ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DECLARATION = {
    "id": ACME,
    "name": "AcmeUser",
    "attributes": [{"name": "badgeId", "type": "string"}, {"name": "region", "type": "string"}],
    "scimgate": {"indexed": ["badgeId"]},
}


def rows_with_badges(directory_id: str, start: int, stop: int) -> Iterator[dict[str, Any]]:
    for i, row in zip(range(start, stop), user_rows(directory_id, start, stop), strict=True):
        row["attributes"][ACME] = {"badgeId": f"B-{i}", "region": ("EMEA", "APAC", "AMER")[i % 3]}
        row["attributes"]["schemas"].append(ACME)
        yield row


def load(data_dir: Path, n: int) -> tuple[str, str]:
    db = Database(f"sqlite:///{data_dir / 'scimgate.db'}")
    migrate.upgrade(db)
    with db.write() as conn:
        directory = create_directory(conn, "bench")
        token = issue_token(conn, directory.id).token
        extensions.declare(conn, DECLARATION)
    for start in range(0, n, 20_000):
        with db.write() as conn:
            conn.execute(users.insert(), list(rows_with_badges(directory.id, start, min(start + 20_000, n))))
    db.optimize()  # what a running server does every five minutes (without it the statistics stay empty)
    db.dispose()
    return directory.id, token


def lookups(url: str, token: str, n: int, count: int, template: str | None) -> dict[str, Any]:
    bench = [sys.executable, str(ROOT / "bench" / "entra.py"), "--url", url, "--token", token]
    bench += ["--users", str(n), "--lookups-only", str(count)]
    if template:
        bench += ["--lookup-filter", template]
    result = subprocess.run(pinned("1", bench), capture_output=True, text=True, timeout=3600)
    print(result.stderr, end="", file=sys.stderr)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    phase: dict[str, Any] = report["phases"][0]
    return {**phase, "failures": report["failures"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        directory_id, token = load(Path(tmp), args.users)
        print(f"loaded {args.users} users in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        port = free_port()
        command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--data-dir", tmp]
        command += ["--rate-limit-per-second", "0"]
        server = subprocess.Popen(pinned("0", command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", server)
            url = f"http://127.0.0.1:{port}/scim/v2/{directory_id}"
            custom = f'{ACME}:badgeId eq "b-{{i}}"'  # case-insensitive: the folded index serves it
            first = lookups(url, token, args.users, args.lookups, None)
            badge = lookups(url, token, args.users, args.lookups, custom)
            second = lookups(url, token, args.users, args.lookups, None)
            rss = resident_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    baseline = min((first, second), key=lambda phase: phase["p99_ms"])
    for name, phase in (("userName eq", baseline), ("badgeId eq (custom, indexed)", badge)):
        print(f"{name:<30} {phase['per_second']:>8} lookups/s  p50 {phase['p50_ms']} ms  p99 {phase['p99_ms']} ms")
    ratio = badge["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] else 0.0
    print(
        f"custom attribute p99 is {ratio:.2f}x userName's at {args.users} users (target: within 2x); RSS {rss:.0f} MB"
    )
    print(json.dumps({"users": args.users, "userName": baseline, "custom": badge, "p99_ratio": round(ratio, 2)}))
    failures = first["failures"] + badge["failures"] + second["failures"]
    return 1 if failures or ratio > 2 else 0


if __name__ == "__main__":
    sys.exit(main())
