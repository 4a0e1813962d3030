"""SQLite under concurrency, briefly (the minute-long run is bench/soak.py): 20 writers and 50 readers against a
served instance; no 500, no transport error, and every read answered."""

import json
import subprocess
import sys

from tests.test_cli import REPO, free_port


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
