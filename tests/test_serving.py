"""Slow and silent connections to ``scimgate serve`` (security plan F8): a request whose headers trickle in is
answered 408 and closed at ``header_read_timeout_seconds``, a connection that sends nothing is closed, and while
dozens of such connections hang on, other clients are served as usual."""

import json
import select
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests.helpers.processes import free_port, start, stop, value_after

pytestmark = pytest.mark.slow

TIMEOUT = 1.0


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    started, received = time.monotonic(), b""
    sock.settimeout(limit)
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


@pytest.mark.parametrize("workers", [1, 2])
def test_slow_headers_get_408_and_silent_connections_are_closed(tmp_path: Path, workers: int) -> None:
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--database-url", f"sqlite:///{tmp_path / 'serving.db'}", "--header-read-timeout-seconds", "1"]
    # One process listens once it says so; with workers, the socket is bound before they start.
    ready = "Uvicorn running on" if workers == 1 else "Application startup complete"
    server, lines = start(command, cwd=tmp_path, ready=ready, times=workers)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
    hanging: list[socket.socket] = []
    try:
        for _ in range(40):  # silent ones, and ones that sent half a request line
            sock = socket.create_connection(("127.0.0.1", port))
            if len(hanging) % 2:
                sock.sendall(b"GET /scim/v2/")
            hanging.append(sock)
        trickler = socket.create_connection(("127.0.0.1", port))
        hanging.append(trickler)  # closed with the others at the end
        started = time.monotonic()
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":  # one byte every 50 ms: 1.6 s for the lot
            if select.select([trickler], [], [], 0)[0] or time.monotonic() - started > TIMEOUT * 0.9:
                # Stop before the deadline (still sending 0.1 s before it, so it is no idle timeout): a byte sent
                # after the server closed the connection makes it answer with a reset, which discards its 408.
                break
            trickler.sendall(bytes([byte]))
            time.sleep(0.05)
        # Meanwhile everybody else is served, with a body and with a kept-alive connection.
        with httpx2.Client(headers=headers, timeout=5) as client:
            assert client.post(f"{url}/Users", json={"userName": "served@example.com"}).status_code == 201
            assert client.get(f"{url}/Users").json()["totalResults"] == 1
        answer, _ = _read_until_closed(trickler, TIMEOUT * 5)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert b"content-type: application/scim+json" in head.lower()
        error = json.loads(body)
        assert error["status"] == "408" and "headers" in error["detail"]
        assert time.monotonic() - started < TIMEOUT * 4
        for sock in hanging[:-1]:  # all closed by now or within the timeout; the silent ones without a word
            received, _ = _read_until_closed(sock, TIMEOUT * 3)
            assert received == b"" or received.startswith(b"HTTP/1.1 408 ")
    finally:
        for sock in hanging:
            sock.close()
        stop(server)


def test_a_fast_client_never_meets_the_deadline(tmp_path: Path) -> None:
    """A kept-alive connection that waits between requests (less than the keep-alive) is not cut off: the deadline
    starts at a request's first byte, not at the connection."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--header-read-timeout-seconds", "1"]
    command += ["--database-url", f"sqlite:///{tmp_path / 'serving.db'}"]
    server, lines = start(command, cwd=tmp_path)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    headers = {"Authorization": f"Bearer {value_after(lines, 'Bearer token (Entra: Secret Token):')}"}
    try:
        with httpx2.Client(headers=headers, timeout=5) as client:
            for _ in range(3):
                assert client.get(f"{url}/Users").status_code == 200
                time.sleep(0.7)  # under uvicorn's 5 s keep-alive, and twice 0.7 s is past the 1 s deadline
            assert client.get(f"{url}/Users").status_code == 200
    finally:
        stop(server)


def test_a_stray_line_break_does_not_keep_a_connection_open(tmp_path: Path) -> None:
    """After a response, a client that sends only CRLF (which starts no request) and then nothing is still cut off
    at the header deadline."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--header-read-timeout-seconds", "1"]
    command += ["--database-url", f"sqlite:///{tmp_path / 'serving.db'}"]
    server, _lines = start(command, cwd=tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"\r\n")
            _received, closed_after = _read_until_closed(sock, TIMEOUT * 4)
            assert closed_after < TIMEOUT * 3
    finally:
        stop(server)


def test_a_slow_response_is_not_taken_for_slow_headers(tmp_path: Path) -> None:
    """Pipelined requests behind a slow one (its DELETE waits 1.5 s for SQLite's write lock): uvicorn stops reading
    meanwhile, so the next request's headers stay half-read; that is the server's delay, not the client's. Every
    request gets its own answer, in order, and none is a 408."""
    port = free_port()
    database = tmp_path / "serving.db"
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--header-read-timeout-seconds", "0.5"]
    command += ["--database-url", f"sqlite:///{database}"]
    server, lines = start(command, cwd=tmp_path)
    url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
    token = value_after(lines, "Bearer token (Entra: Secret Token):")
    path = url.split(f":{port}", 1)[1]
    try:
        with httpx2.Client(headers={"Authorization": f"Bearer {token}"}, timeout=5) as client:
            user = client.post(f"{url}/Users", json={"userName": "piped@example.com"}).json()["id"]
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # the DELETE below waits for this
        releaser = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
        releaser.start()
        auth = f"Host: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        third = f"GET {path}/Groups HTTP/1.1\r\n{auth}".encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"DELETE {path}/Users/{user} HTTP/1.1\r\n{auth}GET {path}/Users HTTP/1.1\r\n{auth}".encode())
            sock.sendall(third[:20])
            time.sleep(0.05)
            sock.sendall(third[20:])
            received = b""
            sock.settimeout(10)
            while received.count(b"HTTP/1.1 ") < 3:
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
        releaser.join()
        holder.close()
        statuses = [part.split(b"\r\n", 1)[0] for part in received.split(b"HTTP/1.1 ")[1:]]
        assert statuses == [b"204 No Content", b"200 OK", b"200 OK"], received[:300]
    finally:
        stop(server)
