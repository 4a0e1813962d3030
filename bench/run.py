"""Start servers on loopback, run a workload against each, print one table and one JSON line.

    .venv/bin/python bench/run.py --users 5000       # scimgate on SQLite (1 worker), the bare app and scim2-server
    .venv/bin/python bench/run.py --postgres postgresql://postgres@127.0.0.1/bench --workers 1 2

Each scimgate runs from a fresh data directory (or a fresh PostgreSQL database), pinned to core 0 when it has one
worker; the load generator (bench/entra.py) runs pinned to core 1. The bare Starlette app (bench/baseline_app.py,
same uvicorn settings) answers a fixed ListResponse: its rate is the ceiling any Python ASGI server here can reach.
"""

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx2
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PIN = ["taskset", "-c"] if shutil.which("taskset") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cores: str, command: list[str]) -> list[str]:
    return [*PIN, cores, *command] if PIN else command


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


@dataclass(frozen=True)
class Load:
    users: int
    group_size: int
    phase_seconds: float


def run_scimgate(
    label: str,
    database_url: str | None,
    workers: int,
    load: Load,
    extra: tuple[str, ...] = (),
    python: str = PYTHON,
) -> dict[str, object]:
    """``python``: the interpreter whose scimgate to run (another checkout's venv, for a before/after)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        command = [python, "-m", "scimgate", "serve", "--port", str(port), "--workers", str(workers)]
        command += ["--rate-limit-per-second", "0", *extra]  # measure the server, not its rate limit
        if database_url:
            command += ["--database-url", database_url]
        log = open(Path(tmp) / "server.log", "w+")
        server = subprocess.Popen(
            pinned("0", command) if workers == 1 else command, cwd=tmp, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/", server)
            time.sleep(0.5 * workers)
            log.seek(0)
            text = log.read()
            url = text.split("Tenant URL):", 1)[1].split()[0]
            token = text.split("Secret Token):", 1)[1].split()[0]
            return run_load(label, url, token, load, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()


def run_scim2_server(load: Load) -> dict[str, object]:
    """The same workload against scim2-server's ASGI app (in-memory storage), under the same uvicorn settings."""
    port, token = free_port(), secrets.token_urlsafe(32)
    command = [*UVICORN, "scim2_server_app:app", "--port", str(port)]
    environment = {**os.environ, "SCIM2_SERVER_TOKEN": token}
    server = subprocess.Popen(pinned("0", command), env=environment, stdout=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/ServiceProviderConfig", server)
        return run_load("scim2-server", f"http://127.0.0.1:{port}/v2", token, load, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def run_load(label: str, url: str, token: str, load: Load, server_pid: int) -> dict[str, object]:
    command = [PYTHON, str(ROOT / "bench" / "entra.py"), "--url", url, "--token", token, "--label", label]
    command += ["--server-pid", str(server_pid)]  # taskset execs the server: the pid is the server's
    command += ["--users", str(load.users), "--group-size", str(load.group_size)]
    command += ["--phase-seconds", str(load.phase_seconds)]
    result = subprocess.run(pinned("1", command), capture_output=True, text=True, timeout=3600)
    print(result.stderr + result.stdout.rsplit("\n", 2)[0], file=sys.stderr)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        return {"label": label, "failures": 1, "unfinished": 0, "phases": [], "error": result.stderr[-2000:]}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


async def hammer(url: str, requests: int, concurrency: int) -> float:
    """The bare app's rate, with the same client (aiohttp) and concurrency as bench/entra.py."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        remaining = list(range(requests))

        async def worker() -> None:
            while remaining:
                remaining.pop()
                async with session.get(url) as response:
                    assert response.status == 200
                    json.loads(await response.read())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


# The settings scimgate serves with: uvicorn's defaults (uvloop, httptools), no access log.
UVICORN = [PYTHON, "-m", "uvicorn", "--no-access-log", "--log-level", "warning", "--app-dir", str(ROOT / "bench")]


def run_baseline(requests: int) -> float:
    port = free_port()
    command = [*UVICORN, "baseline_app:app", "--port", str(port)]
    server = subprocess.Popen(pinned("0", command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/Users?filter=x"
        wait_ready(url, server)
        return asyncio.run(hammer(url, requests, 16))  # from core 1, like bench/entra.py
    finally:
        server.terminate()
        server.wait(timeout=30)


def fresh_postgres(url: str) -> str:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {target.database} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {target.database}")
    admin.dispose()
    return url


def on_core_one() -> None:
    """Run this process's own load (the bare app's) from core 1; servers started later are pinned explicitly."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--group-size", type=int, default=10_000, help="members of the big group (extra users made)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--postgres", help="a PostgreSQL URL for a throw-away benchmark database (it is recreated)")
    parser.add_argument("--no-scim2-server", action="store_true", help="skip the run against scim2-server")
    parser.add_argument("--only-scim2-server", action="store_true", help="run scim2-server (and the bare app) only")
    parser.add_argument("--phase-seconds", type=float, default=300, help="stop any phase after this long")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="'NAME: FLAGS'",
        help="also run scimgate (SQLite, 1 worker) with these serve flags, e.g. 'errors only: --access-log errors'",
    )
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="'NAME: PYTHON'",
        help="also run the scimgate another interpreter imports (SQLite, 1 worker), e.g. an older checkout's venv: "
        "'before: ../old/.venv/bin/python'; alternated with this checkout's run",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run scimgate and each --against this many times")
    args = parser.parse_args()
    load = Load(args.users, args.group_size, args.phase_seconds)
    everywhere = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    on_core_one()
    rows: dict[str, object] = {"bare_starlette_requests_per_second": round(run_baseline(20_000), 1)}
    if everywhere is not None:
        os.sched_setaffinity(0, everywhere)  # multi-worker servers must be free to use both cores
    for round_ in range(1, args.rounds + 1):  # alternated: another machine's mood hits both alike
        suffix = f" round {round_}" if args.rounds > 1 else ""
        for against in args.against:
            name, _, python = against.partition(":")
            label = f"sqlite 1w {name.strip()}{suffix}"
            rows[label] = run_scimgate(label, None, 1, load, python=python.strip())
        for workers in [] if args.only_scim2_server else args.workers:
            rows[f"sqlite_{workers}w{suffix}"] = run_scimgate(f"sqlite {workers}w{suffix}", None, workers, load)
            if args.postgres:
                url = fresh_postgres(args.postgres)
                rows[f"postgres_{workers}w{suffix}"] = run_scimgate(f"postgres {workers}w{suffix}", url, workers, load)
    for variant in args.variant:
        name, _, flags = variant.partition(":")
        rows[f"sqlite_1w {name.strip()}"] = run_scimgate(
            f"sqlite 1w {name.strip()}", None, 1, load, tuple(flags.split())
        )
    if not args.no_scim2_server:
        rows["scim2_server"] = run_scim2_server(load)
    print(f"bare Starlette, fixed JSON: {rows['bare_starlette_requests_per_second']} requests/s")
    for key, value in rows.items():
        if isinstance(value, dict):
            print(f"\n{key}:")
            for phase in value["phases"]:
                cpu = f"  server CPU {phase['server_cpu_us']} µs/request" if phase.get("server_cpu_us") else ""
                print(
                    f"  {phase['phase']:<62} {phase['per_second']:>9} {phase['unit']}/s  p99 {phase['p99_ms']} ms{cpu}"
                )
    print(json.dumps({"machine": {"cpus": os.cpu_count()}, **rows}))
    # scimgate's runs must be clean to be a result; scim2-server's failures are part of the comparison.
    ours = [v for k, v in rows.items() if isinstance(v, dict) and k != "scim2_server"]
    failures = sum(int(v.get("failures", 0)) + int(v.get("unfinished", 0)) for v in ours)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
