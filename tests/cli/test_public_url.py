"""One source of truth for URLs: the management commands print the SCIM URL the server answers at."""

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result

from scimgate.cli import main


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``serve`` does everything up to listening; uvicorn is not started. No SCIMGATE_ variable of the host."""
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: started.append(options))
    return started


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def scim_url(output: str) -> str:
    return next(word for word in output.split() if "/scim/v2/dir_" in word)


def test_directory_create_after_serve_on_a_port_prints_that_port(tmp_path: Path, no_server: list[Any]) -> None:
    """`serve --port 8841`, then `directory create` and `client create` without flags: port 8841, not 8000."""
    data = str(tmp_path / "data")
    run("serve", "--port", "8841", "--data-dir", data)
    assert no_server[0]["port"] == 8841
    made = run("directory", "create", "Contoso", "--data-dir", data).output
    assert scim_url(made).startswith("http://localhost:8841/scim/v2/dir_")
    directory_id = scim_url(made).rsplit("/", 1)[1]
    client = run("client", "create", directory_id, "--data-dir", data).output
    assert "http://localhost:8841/oauth/token" in client and ":8000" not in made + client


def test_a_public_url_given_to_serve_is_the_one_printed_later(tmp_path: Path) -> None:
    """`serve --public-url https://…`: `directory list --json` and `directory show` print that URL; a command's own
    --public-url still wins for that command."""
    data = str(tmp_path / "data")
    run("serve", "--public-url", "https://scim.contoso.example/", "--data-dir", data)
    listed = run("directory", "list", "--json", "--data-dir", data).output
    assert '"scim_url": "https://scim.contoso.example/scim/v2/dir_' in listed
    own = run("directory", "create", "Other", "--public-url", "https://other.example", "--data-dir", data).output
    assert scim_url(own).startswith("https://other.example/scim/v2/")


def test_serve_says_where_the_admin_page_is_and_how_to_sign_in(tmp_path: Path) -> None:
    """The start output names /admin at the served URL, and says that an operator key must be set first."""
    data = str(tmp_path / "data")
    bare = run("serve", "--port", "8841", "--data-dir", data).output
    assert "Admin page: http://localhost:8841/admin (nobody can sign in yet: set SCIMGATE_OPERATOR_KEY" in bare
    key = "operator-key-0123456789-abcdefghijklmnop"
    keyed = run("serve", "--port", "8841", "--data-dir", data, "--operator-key", key).output
    assert "Admin page: http://localhost:8841/admin (sign in with the operator key" in keyed and key not in keyed
