"""Real processes in tests: a port of this test process's own, ``scimgate serve`` started and stopped, the values
it prints."""

import itertools
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx2

from tests.helpers.files import common_umask, mode

REPO = Path(__file__).resolve().parent.parent.parent

# Ports for the servers tests start: below the kernel's ephemeral range (32768-60999 on Linux), so no outgoing
# connection is given one between free_port() and the server's bind, and a range per pytest-xdist worker, so two
# workers never hand out the same port.
_FIRST_PORT = 20_000
_PORTS_PER_WORKER = 1_000


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, … under xdist; unset without it
    return int(worker[2:]) if worker[2:].isdigit() else 0


_candidates = itertools.cycle(
    range(_FIRST_PORT + _worker_index() * _PORTS_PER_WORKER, _FIRST_PORT + (_worker_index() + 1) * _PORTS_PER_WORKER)
)


def free_port() -> int:
    """A loopback port nothing listens on, from this worker's range (tried by binding it)."""
    for _ in range(_PORTS_PER_WORKER):
        port = next(_candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use, or still in TIME_WAIT from an earlier server
            return port
    raise RuntimeError("no free port in this worker's range")


def start(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, ready: str = "Uvicorn running on", times: int = 1
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start serve and read its output until ``ready`` has appeared ``times`` times (at most 60 s)."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if sum(ready in seen for seen in lines) >= times:
            # Keep reading, or the access log fills the pipe and the server blocks on its next log line.
            threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
            return process, lines
    stop(process)
    raise AssertionError("serve did not start:\n" + "\n".join(lines))


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
    except ValueError:  # closed by stop()
        return


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=30)
    if process.stdout is not None:
        process.stdout.close()


def value_after(lines: list[str], label: str) -> str:
    return next(line.split(label, 1)[1].strip() for line in lines if label in line)


def serve_and_use(command: list[str], workdir: Path) -> None:
    """First start: URL and token printed, with the warning that logs may keep it, and working; the data private
    (issue 20, findings 7 and 11). Second start: the URL again, no token."""
    port = free_port()
    with common_umask():  # the server inherits it: its private modes are its own doing
        process, lines = start([*command, "serve", "--port", str(port)], cwd=workdir)
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        token = value_after(lines, "Bearer token (Entra: Secret Token):")
        assert url.startswith(f"http://localhost:{port}/scim/v2/dir_") and token.startswith("scimgate_")
        assert any(line.startswith("Warning: this output may be kept") for line in lines)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        created = httpx2.post(f"{url}/Users", headers=headers, json={"userName": "smoke@example.com"})
        assert created.status_code == 201, created.text
        assert httpx2.get(created.headers["location"], headers=headers).json()["userName"] == "smoke@example.com"
        assert httpx2.get(f"{url}/Users").status_code == 401
    finally:
        stop(process)
    data = workdir / "scimgate-data"
    assert (oct(mode(data)), oct(mode(data / "scimgate.db"))) == ("0o700", "0o600")

    process, lines = start(
        [*command, "serve", "--port", str(port)], cwd=workdir, env={"SCIMGATE_PUBLIC_URL": "https://scim.example.com"}
    )
    stop(process)
    output = "\n".join(lines)
    assert "scimgate_" not in output
    assert "SCIM URL https://scim.example.com/scim/v2/dir_" in output
