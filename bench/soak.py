"""W writers and R readers against one served instance for S seconds; counts statuses.

    .venv/bin/python bench/soak.py --writers 20 --readers 50 --seconds 60
    .venv/bin/python bench/soak.py --database-url postgresql://postgres@127.0.0.1/soak --db-pool-size 2

Starts ``scimgate serve`` on a fresh SQLite file (or on the given database, whose directories it adds to; loopback
only), then runs writer threads (create a user, PATCH
it, add it to a group) and reader threads (list, filter, get) until the time is up. Prints requests and status
counts per kind, read latency percentiles and one JSON line; exits non-zero on any 5xx other than 503 or any
transport error. A 503 (lock wait over db_statement_timeout) is allowed but counted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent


def start_server(workdir: Path, port: int, extra: list[str]) -> tuple[subprocess.Popen[str], str, str]:
    # Many clients of one directory at once: the storage under concurrency is measured, not the rate limit nor the
    # per-directory cap on requests in progress (directory_concurrency), which would answer the excess 429.
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--rate-limit-per-second", "0"]
    command += ["--directory-concurrency", "1000", *extra]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stdout is not None
    url = token = ""
    for line in process.stdout:
        if "Tenant URL" in line:
            url = line.split("):", 1)[1].strip()
        if "Secret Token" in line:
            token = line.split("):", 1)[1].strip()
        if "Uvicorn running on" in line:
            break
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    return process, url, token


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--database-url", help="an empty database to serve from (default: a new SQLite file)")
    parser.add_argument("--db-pool-size", type=int, help="connections per worker (PostgreSQL), as serve takes it")
    args = parser.parse_args()
    extra = ["--database-url", args.database_url] if args.database_url else []
    extra += ["--db-pool-size", str(args.db_pool_size)] if args.db_pool_size else []
    statuses: dict[str, Counter[int]] = {"write": Counter(), "read": Counter()}
    read_ms: list[float] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        server, url, token = start_server(Path(tmp), args.port, extra)
        headers = {"Authorization": f"Bearer {token}"}
        group = httpx2.post(f"{url}/Groups", json={"displayName": "soak"}, headers=headers).json()["id"]
        # The clock starts once every client is ready: building one takes ~20 ms (its TLS context), so 200 of them
        # take seconds, and a window that opened before them could close before the last readers sent anything.
        deadline = [0.0]

        def start_clock() -> None:
            deadline[0] = time.monotonic() + args.seconds

        ready = threading.Barrier(args.writers + args.readers, action=start_clock)

        def record(kind: str, status: int) -> None:
            with lock:
                statuses[kind][status] += 1

        def writer(number: int) -> None:
            with httpx2.Client(headers=headers, timeout=60) as client:
                ready.wait()
                i = 0
                while time.monotonic() < deadline[0]:
                    i += 1
                    try:
                        created = client.post(f"{url}/Users", json={"userName": f"w{number}-{i}@example.com"})
                        record("write", created.status_code)
                        if created.status_code != 201:
                            continue
                        user = created.json()["id"]
                        body = {"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
                        record("write", client.patch(f"{url}/Users/{user}", json=body).status_code)
                        add = {"Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}
                        record("write", client.patch(f"{url}/Groups/{group}", json=add).status_code)
                    except httpx2.HTTPError:
                        record("write", 0)

        def reader(number: int) -> None:
            with httpx2.Client(headers=headers, timeout=60) as client:
                ready.wait()
                while time.monotonic() < deadline[0]:
                    started = time.perf_counter()
                    try:
                        query = (
                            f'/Users?filter=userName sw "w{number % 20}-"&count=10' if number % 2 else "/Users?count=10"
                        )
                        status = client.get(url + query).status_code
                    except httpx2.HTTPError:
                        status = 0
                    with lock:
                        read_ms.append((time.perf_counter() - started) * 1000)
                    record("read", status)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
        threads += [threading.Thread(target=reader, args=(n,)) for n in range(args.readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        server.terminate()
        server.wait(timeout=30)
    read_ms.sort()
    p50, p99 = read_ms[len(read_ms) // 2], read_ms[int(len(read_ms) * 0.99)]
    bad = sum(
        n
        for counts in statuses.values()
        for status, n in counts.items()
        if status == 0 or (status >= 500 and status != 503)
    )
    for kind, counts in statuses.items():
        print(f"{kind:>5}: {sum(counts.values())} requests, statuses {dict(sorted(counts.items()))}")
    print(f"reads: p50 {p50:.1f} ms, p99 {p99:.1f} ms; failures (5xx other than 503, transport errors): {bad}")
    print(
        json.dumps(
            {
                "writers": args.writers,
                "readers": args.readers,
                "seconds": args.seconds,
                "writes": dict(statuses["write"]),
                "reads": dict(statuses["read"]),
                "read_p50_ms": round(p50, 1),
                "read_p99_ms": round(p99, 1),
                "failures": bad,
            }
        )
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
