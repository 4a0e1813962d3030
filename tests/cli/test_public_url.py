"""One source of truth for URLs: the management commands print the SCIM URL the server answers at."""

import json
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


def shown(*args: str) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(run("config", "show", "--json", *args).output)
    return values


def test_config_show_prints_the_url_the_commands_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`config show` resolves the public URL as `directory create` does, and says where it comes from: after
    `serve --port 8841`, port 8841, stored by serve; a --public-url flag or SCIMGATE_PUBLIC_URL wins for both."""
    data = str(tmp_path / "data")
    run("serve", "--port", "8841", "--data-dir", data)
    values = shown("--data-dir", data)
    assert values["resolved_public_url"] == "http://localhost:8841" and values["public_url"] is None
    assert values["public_url_source"] == "stored by the last `scimgate serve`"
    assert "resolved_public_url = http://localhost:8841\n" in run("config", "show", "--data-dir", data).output
    made = run("directory", "create", "Contoso", "--data-dir", data).output
    assert scim_url(made).startswith(f"{values['resolved_public_url']}/scim/v2/")

    flagged = shown("--data-dir", data, "--public-url", "https://flag.example/")
    assert flagged["resolved_public_url"] == "https://flag.example"
    assert flagged["public_url_source"] == "the public_url setting (flag or SCIMGATE_PUBLIC_URL)"
    monkeypatch.setenv("SCIMGATE_PUBLIC_URL", "https://env.example")
    assert shown("--data-dir", data)["resolved_public_url"] == "https://env.example"
    made = run("directory", "create", "Fabrikam", "--data-dir", data).output
    assert scim_url(made).startswith("https://env.example/scim/v2/")


def test_config_show_after_serve_with_a_public_url_prints_it(tmp_path: Path) -> None:
    """`serve --public-url https://…/`: `config show` prints that URL (as stored, without the trailing slash)."""
    data = str(tmp_path / "data")
    run("serve", "--public-url", "https://scim.contoso.example/", "--data-dir", data)
    assert shown("--data-dir", data)["resolved_public_url"] == "https://scim.contoso.example"


def test_config_show_before_any_serve_prints_host_and_port_and_creates_nothing(tmp_path: Path) -> None:
    """With no database yet, `config show` says the URL comes from host and port, and leaves no database behind
    (it only reads: a mistyped --data-dir must not become a new, empty installation)."""
    data = tmp_path / "data"
    values = shown("--data-dir", str(data), "--port", "9100")
    assert values["resolved_public_url"] == "http://localhost:9100"
    assert values["public_url_source"] == "host and port: no `scimgate serve` has stored a URL"
    assert not data.exists()


def test_config_show_says_why_a_database_could_not_be_read(tmp_path: Path) -> None:
    """A database that does not answer is not fatal to `config show`: it falls back to host and port and says why,
    without the password."""
    values = shown("--database-url", "postgresql://nobody:secretpw@127.0.0.1:1/x")
    assert values["resolved_public_url"] == "http://localhost:8000"
    assert "the database could not be read" in values["public_url_source"]
    assert "secretpw" not in json.dumps(values)
