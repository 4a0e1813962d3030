"""Crash consistency of PostgreSQL itself (security test plan H2): kill -9 the database (SIGKILL to the postmaster
and every backend at once) in the middle of concurrent creates and member adds, as H1 does to scimgate. Proves that
scimgate, never restarted, answers 503 with Retry-After and a SCIM error while the database is down (quickly, never
a hang or a 500), works again by itself once PostgreSQL has recovered from its WAL, and lost nothing it
acknowledged: every acknowledged user and membership is there and identical, nothing is half-written, re-sending
everything yields only 201 or 409, no user name is duplicated, and amcheck finds every btree index (the unique ones
above all) consistent with its table.

The shared PostgreSQL on 5432 serves the other tests, so this one crashes a private PostgreSQL 15 cluster of its own:
initdb in a temporary directory, its own port and socket directory, trust auth, fsync on (the default).
"""

import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock
from typing import Any, NoReturn

import httpx2
import psycopg
import pytest
import sqlalchemy as sa

from tests.helpers.crash import WORKLOAD, Ledger, check_database, check_recovered, work
from tests.helpers.processes import free_port, start, stop, value_after
from tests.helpers.scim import assert_scim_error

pytestmark = pytest.mark.slow

# Debian's server binaries, of the newest installed major version (15 on this machine).
BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent"))


def _unavailable(reason: str) -> NoReturn:
    # As in conftest: CI provides PostgreSQL, so a missing one there is a failure, not a silent skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (under CI)")
    pytest.skip(reason)


class Cluster:
    """A private PostgreSQL cluster that this test may crash.

    The postmaster is started directly (not through pg_ctl) as our own child: after a SIGKILL someone must reap
    it, and not every init does (a zombie postmaster still "exists", and the next start would refuse the data
    directory as in use by that PID)."""

    def __init__(self, root: Path, port: int, user: pwd.struct_passwd | None) -> None:
        self.root, self.port, self.log = root, port, root / "postgresql.log"
        self.data = root / "data"
        # initdb and postgres refuse to run as root: as root, run them as the postgres user.
        self.as_user: dict[str, Any] = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid}
        if user is not None:
            self.as_user["extra_groups"] = []
        self.postmaster: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        # --no-sync only skips initdb's own final fsync of the new files (a killed process never loses the page
        # cache anyway); the server runs with fsync and synchronous_commit on, their defaults. UTF-8 as in
        # production; --no-locale (C) wherever the test runs, which also keeps the server log in English.
        command = [str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"]
        command += ["--encoding", "UTF8", "--no-locale"]
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=60, **self.as_user)
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self) -> None:
        """Start the server (after a crash: recover from the WAL first) and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self.postmaster = subprocess.Popen(
                [str(BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1"]
                + ["-c", f"unix_socket_directories={self.root}"],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self.as_user,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                # "the database system is starting up" until crash recovery is over, then a connection.
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=5
                ).close()
                return
            except psycopg.OperationalError:
                if self.postmaster.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("PostgreSQL did not start:\n" + self.log.read_text(errors="replace")) from None
                time.sleep(0.05)

    def kill_9(self) -> None:
        """kill -9 the whole database, the postmaster and every backend, so none of them runs another instruction:
        no shutdown checkpoint, no flush of shared buffers, no cleanup; only what was written to the WAL remains."""
        assert self.postmaster is not None and self.postmaster.poll() is None
        pid = self.postmaster.pid
        # Freeze the postmaster first, so that it cannot fork a backend between our listing its children and
        # killing them (SIGSTOP is asynchronous: wait until it has taken effect).
        os.kill(pid, signal.SIGSTOP)
        _wait(lambda: _state(pid) == "T", "the postmaster to stop")
        children = _children(pid)
        for process in [*children, pid]:
            try:
                os.kill(process, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.postmaster.wait(timeout=10)
        self.postmaster = None
        # A backend still alive would still be attached to the old shared memory, which the next postmaster
        # refuses. Orphaned by the postmaster's death, they are zombies (dead) once the kill has landed.
        _wait(lambda: all(_state(child) in (None, "Z") for child in children), "the backends to die")

    def remove(self) -> None:
        """Stop the server (no need to be gentle: the data goes too) and remove everything."""
        if self.postmaster is not None and self.postmaster.poll() is None:
            self.kill_9()
        shutil.rmtree(self.root, ignore_errors=True)


def _state(pid: int) -> str | None:
    """A process's state letter (R, S, T, Z, ...), or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]  # "pid (comm) state ppid ...": comm may hold spaces and ')'


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
        except OSError:  # exited meanwhile
            continue
    return children


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    missing = [name for name in ("initdb", "postgres") if not (BIN / name).is_file()]
    if missing:
        _unavailable(f"PostgreSQL server binaries missing in {BIN}: {', '.join(missing)}")
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root (which initdb refuses) and there is no postgres user to switch to")
    # Not pytest's tmp_path: it sits under a root-only directory that the postgres user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="scimgate-h2-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(root, free_port(), user)
    try:
        try:
            cluster.initdb()
        except PermissionError as error:  # setuid refused (an unprivileged container, say)
            _unavailable(f"cannot switch to the postgres user: {error}")
        cluster.start()
        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", autocommit=True) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            conn.execute("CREATE DATABASE scimgate")
        yield cluster
    finally:
        cluster.remove()


class _Recording(httpx2.HTTPTransport):
    """Counts every answer the workload gets, by status, and records every request that got no answer at all."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = Lock()
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = super().handle_request(request)
        except httpx2.HTTPError as error:
            with self.lock:
                self.failures.append(f"{request.method} {request.url}: {error!r}")
            raise
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


def test_kill_9_of_postgresql_during_load_is_503_then_recovers_losing_nothing(cluster: Cluster, tmp_path: Path) -> None:
    database_url = cluster.url("scimgate")
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(free_port()), "--database-url", database_url]
    # The replay re-sends everything at full speed, and requests pile up while the database is down: neither the rate
    # limit nor the cap on one directory's requests in progress is what this test is about.
    command += ["--rate-limit-per-second", "0", "--directory-concurrency", "1000"]
    server, lines = start(command, cwd=tmp_path)  # started once: this one process lives through the whole test
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
        ledger = Ledger()
        down: dict[str, tuple[httpx2.Response, float]] = {}

        def crash_and_probe() -> None:
            time.sleep(random.uniform(0.5, 1.5))
            cluster.kill_9()
            # While the database is down: a read and a write. Connection refused is immediate, and the app's 5 s
            # connect timeout bounds the worst case, so each must answer (503) within seconds, never hang.
            body = {"userName": "while-down@example.com", "emails": [{"value": f"d{n}@example.com"} for n in range(3)]}
            with ledger.lock:
                ledger.sent.append(body)  # sent, never acknowledged: the re-send below must give 201
            with httpx2.Client(headers=headers, timeout=30) as client:
                for request in (
                    client.build_request("GET", f"{url}/Users"),
                    client.build_request("POST", f"{url}/Users", json=body),
                ):
                    started = time.monotonic()
                    down[f"{request.method} /Users"] = (client.send(request), time.monotonic() - started)

        transport = _Recording()
        with httpx2.Client(headers=headers, timeout=10, transport=transport) as client:
            group = client.post(f"{url}/Groups", json={"displayName": "Database crash test"}).json()["id"]
            with ThreadPoolExecutor(max_workers=1) as chaos:
                crash = chaos.submit(crash_and_probe)
                # The database stays down until the whole load has been sent: the rest of it meets a dead database.
                with ThreadPoolExecutor(max_workers=16) as pool:
                    list(pool.map(lambda i: work(client, url, group, i, ledger), range(WORKLOAD)))
                crash.result()

        assert set(down) == {"GET /Users", "POST /Users"}
        for name, (response, seconds) in down.items():
            assert seconds < 6, f"{name} took {seconds:.1f} s while the database was down"
            detail = assert_scim_error(response, 503)["detail"]
            assert int(response.headers["retry-after"]) >= 1 and "nothing was changed" in detail, name
        assert 0 < len(ledger.users) < WORKLOAD, "the kill should land in the middle of the load"
        # scimgate itself never died nor hung: every request got an answer (within the client's 10 s timeout),
        # each a success or "database unavailable" (a 500 here would be a database error taken for a bug).
        assert transport.failures == []
        assert set(transport.statuses) <= {201, 204, 503} and transport.statuses.get(503), transport.statuses

        cluster.start()  # crash recovery from the WAL; scimgate is neither told nor restarted
        assert "automatic recovery in progress" in cluster.log.read_text(), "PostgreSQL should have had to recover"
        # The same scimgate process recovers by itself: its pool drops the dead connections and reconnects.
        with httpx2.Client(headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 20
            while (answer := client.get(f"{url}/Users?count=1")).status_code != 200:
                assert answer.status_code == 503 and time.monotonic() < deadline, answer.text
                time.sleep(0.1)
        with httpx2.Client(headers=headers, timeout=30) as client:
            check_recovered(client, url, group, ledger)
        assert server.poll() is None, "scimgate exited"
    finally:
        stop(server)
    check_database(database_url)  # no duplicate (directory_id, user_name_key)
    _check_indexes(database_url)


def _check_indexes(database_url: str) -> None:
    """amcheck's bt_index_check on every btree index of the schema, with heapallindexed: each index is structurally
    sound and holds every row of its table. A unique index left broken by recovery would let duplicates in."""
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
            indexes = conn.exec_driver_sql(
                "SELECT c.relname, i.indexrelid, i.indisunique, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND a.amname = 'btree'"
            ).all()
            # Among them the one that makes userName unique per directory (and every primary key).
            assert any(unique and "ON public.users " in sql and "user_name_key" in sql for *_, unique, sql in indexes)
            for name, oid, *_ in indexes:
                try:
                    conn.execute(sa.text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
                except sa.exc.DBAPIError as error:  # XX002 index_corrupted, and the like
                    raise AssertionError(f"amcheck: index {name} is corrupt: {error}") from error
    finally:
        engine.dispose()
