"""``scimgate serve`` end to end, in a real process: first start prints a working URL and token, once."""

import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.helpers.files import common_umask, mode
from tests.helpers.processes import free_port, serve_and_use, start, stop, value_after

pytestmark = pytest.mark.slow


def test_serve_prints_url_and_token_once(tmp_path: Path) -> None:
    """The README's serve command works from the development install."""
    serve_and_use([sys.executable, "-m", "scimgate"], tmp_path)


def test_serve_writes_the_first_token_to_a_private_file(tmp_path: Path) -> None:
    """SCIMGATE_FIRST_TOKEN_FILE: the token is in a 0600 file and works; the output (a log collector's) has only
    the file's path and the SCIM URL (issue 20, finding 11)."""
    port = free_port()
    token_file = tmp_path / "first-token"
    with common_umask():
        process, lines = start(
            [sys.executable, "-m", "scimgate", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={"SCIMGATE_FIRST_TOKEN_FILE": str(token_file)},
        )
    try:
        url = value_after(lines, "SCIM URL (Entra: Tenant URL):")
        token = token_file.read_text().strip()
        assert oct(mode(token_file)) == "0o600" and token.startswith("scimgate_")
        assert httpx2.get(f"{url}/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        stop(process)
    assert not any("scimgate_" in line for line in lines)
    assert value_after(lines, "Bearer token (Entra: Secret Token) is in the file:") == str(token_file)


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
