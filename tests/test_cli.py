"""``scimgate serve`` end to end, in a real process: first start prints a working URL and token, once."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    """First start: URL and token printed and working. Second start: the URL again, no token."""
    port = free_port()
    process, lines = start([*command, "serve", "--port", str(port)], cwd=workdir)
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        token = value_after(lines, "Bearer token (Entra: Secret Token):")
        assert url.startswith(f"http://localhost:{port}/scim/v2/dir_") and token.startswith("scimgate_")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        created = httpx2.post(f"{url}/Users", headers=headers, json={"userName": "smoke@example.com"})
        assert created.status_code == 201, created.text
        assert httpx2.get(created.headers["location"], headers=headers).json()["userName"] == "smoke@example.com"
        assert httpx2.get(f"{url}/Users").status_code == 401
    finally:
        stop(process)
    assert (workdir / "scimgate-data" / "scimgate.db").exists()

    process, lines = start(
        [*command, "serve", "--port", str(port)], cwd=workdir, env={"SCIMGATE_PUBLIC_URL": "https://scim.example.com"}
    )
    stop(process)
    output = "\n".join(lines)
    assert "scimgate_" not in output
    assert "SCIM URL https://scim.example.com/scim/v2/dir_" in output


def test_serve_prints_url_and_token_once(tmp_path: Path) -> None:
    """The README's serve command works from the development install."""
    serve_and_use([sys.executable, "-m", "scimgate"], tmp_path)


def test_help_lists_the_commands() -> None:
    """scimgate --help names serve."""
    result = subprocess.run([sys.executable, "-m", "scimgate", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in result.stdout


def test_serve_with_several_workers(tmp_path: Path) -> None:
    """--workers 2 starts two worker processes on one database; what one writes, every request reads."""
    port = free_port()
    command = [sys.executable, "-m", "scimgate", "serve", "--port", str(port), "--workers", "2"]
    process, lines = start(command, cwd=tmp_path, ready="Application startup complete", times=2)
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        token = value_after(lines, "Bearer token (Entra: Secret Token):")
        assert sum("Started server process" in line for line in lines) == 2
        headers = {"Authorization": f"Bearer {token}"}
        for i in range(10):
            created = httpx2.post(f"{url}/Users", headers=headers, json={"userName": f"w{i}@example.com"})
            assert created.status_code == 201, created.text
        for _ in range(10):  # new connections, spread over both workers
            with httpx2.Client() as client:
                assert client.get(f"{url}/Users", headers=headers).json()["totalResults"] == 10
    finally:
        stop(process)
