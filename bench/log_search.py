"""Does a search of a 500,000-entry provisioning log answer in under 200 ms? (issue 22's target)

    .venv/bin/python bench/log_search.py --rows 500000 [--database-url postgresql+psycopg://…]

Fills the log through the log writer's own row builder (redaction, targets and search terms as in production) with
an Entra-like mix over 14 days and five directories: user lookups by filter, creations, updates, group membership
changes, conflicts and refused credentials. Then times searches the way the admin page runs them (newest 50 first):
by userName, externalId, email, user id, request id, group name, a last name shared by many users, a prefix, and
combined with a directory, a status and a time range. Prints each search's median and worst of 20, and one JSON
line; exits non-zero when a median exceeds 200 ms.
"""

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scimgate.context import RequestContext
from scimgate.directories.service import create_directory
from scimgate.observability.metrics import Metrics
from scimgate.provisioning.log_search import LogFilter, search
from scimgate.provisioning.request_log import Entry, LogWriter, insert_entries
from scimgate.store import migrate
from scimgate.store.database import Database

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LAST_NAMES = [f"Lastname{n}" for n in range(200)]
ROUNDS = 20
TARGET_MS = 200.0


def id_at(prefix: str, when: datetime) -> str:
    """scimgate.ids.new_id at a given time (the log's ids sort by time)."""
    number = int(when.timestamp() * 1000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[number & 31])
        number >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def user_of(n: int) -> dict[str, Any]:
    last = LAST_NAMES[n % len(LAST_NAMES)]
    return {
        "schemas": [USER],
        "userName": f"user{n}@contoso.example",
        "externalId": f"ext-{n:07d}",
        "displayName": f"First{n} {last}",
        "emails": [{"value": f"first{n}.{last.lower()}@mail.contoso.example", "type": "work", "primary": True}],
        "active": True,
    }


def user_id(n: int) -> str:
    return f"usr_{n:026d}"


def entry(n: int, when: datetime, directories: list[str], rng: random.Random) -> Entry:
    directory = directories[n % len(directories)]
    u = rng.randrange(50_000)
    base = f"/scim/v2/{directory}"
    context = RequestContext(id_at("req", when), directory_id=directory, token_id="tok_bench", resource_type="User")
    kind = rng.random()
    body, answer, query, method, path, status = b"", b"", None, "GET", base + "/Users", 200
    if kind < 0.40:
        query = f"filter=userName+eq+%22user{u}%40contoso.example%22"
        found = {**user_of(u), "id": user_id(u)}
        answer = json.dumps({"totalResults": 1, "Resources": [found]}).encode()
    elif kind < 0.60:
        method, status = "POST", 201
        body = json.dumps(user_of(u)).encode()
        answer = json.dumps({**user_of(u), "id": user_id(u)}).encode()
    elif kind < 0.80:
        method, path, context.resource_id = "PATCH", f"{base}/Users/{user_id(u)}", user_id(u)
        ops = [{"op": "Replace", "path": "displayName", "value": user_of(u)["displayName"]}]
        body = json.dumps({"schemas": [PATCH], "Operations": ops}).encode()
        answer = json.dumps({**user_of(u), "id": user_id(u)}).encode()
    elif kind < 0.90:
        group = f"grp_{u % 500:026d}"
        method, path, status, context.resource_type, context.resource_id = (
            "PATCH",
            f"{base}/Groups/{group}",
            204,
            "Group",
            group,
        )
        members = [{"value": user_id(rng.randrange(50_000))} for _ in range(5)]
        body = json.dumps(
            {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members}]}
        ).encode()
    elif kind < 0.95:
        method, status = "POST", 409
        body = json.dumps(user_of(u)).encode()
        answer = json.dumps({"status": "409", "scimType": "uniqueness", "detail": "userName is taken"}).encode()
    else:
        context.token_id, status = None, 401
    return Entry(context, when, method, path, query, status, 3.0, body, answer, "203.0.113.7")


def fill(db: Database, rows: int) -> tuple[list[str], dict[str, float]]:
    """The log filled; and the log writer's CPU per entry (issue 21: the log's cost on the request path): making
    the row (redaction, explanation, terms) and inserting it, in batches as the writer does."""
    with db.write() as conn:
        directories = [create_directory(conn, f"Tenant {n}").id for n in range(5)]
    writer = LogWriter(db, Metrics(db))
    rng = random.Random(22)
    start = datetime.now(UTC) - timedelta(days=14)
    step = timedelta(days=14) / rows
    batch: list[dict[str, Any]] = []
    building = inserting = 0.0
    for n in range(rows):
        made = entry(n, start + step * n, directories, rng)
        # As in production: a body the SCIM handler parsed is marked so (scim.http.read_json), a refused one not.
        made.context.body_read = bool(made.request_body) and made.status < 400
        began = time.process_time()
        batch.append(writer.stored_row(made))
        building += time.process_time() - began
        if len(batch) == 5000 or n == rows - 1:
            began = time.process_time()
            with db.write() as conn:
                insert_entries(conn, batch)
            inserting += time.process_time() - began
            batch = []
    db.optimize()
    cost = {"row_us": round(building / rows * 1e6, 1), "insert_us": round(inserting / rows * 1e6, 1)}
    return directories, cost


def timed(db: Database, found: LogFilter) -> tuple[float, float, int]:
    times = []
    count = 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        with db.read() as conn:
            count = len(search(conn, found))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(args.database_url or f"sqlite:///{Path(tmp) / 'log.db'}")
        migrate.upgrade(db)
        started = time.perf_counter()
        directories, cost = fill(db, args.rows)
        print(f"filled {args.rows} entries in {time.perf_counter() - started:.0f} s ({db.engine.dialect.name})")
        print(f"log writer CPU per entry: {cost['row_us']} µs to make the row, {cost['insert_us']} µs to insert it")
        with db.read() as conn:
            one = search(conn, LogFilter(), limit=1)[0].id
        day = datetime.now(UTC) - timedelta(days=1)
        searches = {
            "userName": LogFilter(text="user4242@contoso.example"),
            "externalId": LogFilter(text="ext-0004242"),
            "email": LogFilter(text="first4242.lastname42@mail.contoso.example"),
            "user id": LogFilter(text=user_id(4242)),
            "request id": LogFilter(text=one),
            "group id": LogFilter(text=f"grp_{17:026d}"),
            "shared last name": LogFilter(text="Lastname42"),
            "prefix (user42…)": LogFilter(text="user42"),
            "userName + directory": LogFilter(directory_id=directories[2], text="user4242@contoso.example"),
            "last name + failed + last day": LogFilter(text="lastname42", status="failed", since=day),
            "no text, failed, one directory": LogFilter(directory_id=directories[1], status="failed"),
        }
        results = {}
        for name, found in searches.items():
            median, worst, count = timed(db, found)
            results[name] = {"median_ms": round(median, 1), "max_ms": round(worst, 1), "rows": count}
            print(f"{name:32} median {median:7.1f} ms  max {worst:7.1f} ms  ({count} rows)")
        db.dispose()
    print(json.dumps({"rows": args.rows, "backend": db.engine.dialect.name, "writer_cpu": cost, "searches": results}))
    return 0 if all(r["median_ms"] < TARGET_MS for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
