"""Concurrency, briefly (the minute-long run is bench/soak.py): 20 writers and 50 readers against a served instance
on SQLite; 200 clients against a pool of 2 connections on PostgreSQL (security plan F11, G7). No 500, no transport
error, and every read answered."""

import json
import subprocess
import sys

import pytest

from scimgate.store.database import Database
from tests.helpers.processes import REPO, free_port

pytestmark = pytest.mark.slow


def test_twenty_writers_and_fifty_readers_see_no_errors() -> None:
    command = [
        sys.executable,
        str(REPO / "bench" / "soak.py"),
        "--writers",
        "20",
        "--readers",
        "50",
        "--seconds",
        "5",
        "--port",
        str(free_port()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0
    assert summary["writes"].get("201", 0) > 0 and summary["reads"].get("200", 0) > 0
    assert set(summary["reads"]) == {"200"}  # readers are never refused while writers hold the lock


def test_two_hundred_clients_queue_for_a_pool_of_two(pg_database: Database) -> None:
    """F11: far more concurrent requests than connections (200 clients, pool_size 2 plus 2 in overflow): they
    queue for a connection (or get 503 with Retry-After after the pool timeout); none gets a 500, none hangs, and
    the writes all land."""
    # Freshly migrated (no directory yet), so serve creates the first directory and prints its token.
    postgres_url = pg_database.url.render_as_string(hide_password=False)
    command = [sys.executable, str(REPO / "bench" / "soak.py"), "--writers", "60", "--readers", "140"]
    command += ["--seconds", "3", "--port", str(free_port()), "--database-url", postgres_url]
    command += ["--db-pool-size", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0
    assert summary["writes"].get("201", 0) > 0 and summary["reads"].get("200", 0) > 0
    assert set(summary["writes"]) | set(summary["reads"]) <= {"200", "201", "204", "503"}
