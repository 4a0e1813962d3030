"""The management commands an operator runs: ``scimgate directory|token|client|config ...``.

Each command runs in-process through click's CliRunner on a SQLite database in a temporary data directory; what it
prints is then checked against a running app (the same database file) the way an IdP would use it.
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.cli import main
from scimgate.config import Settings
from scimgate.store import migrate
from scimgate.store.database import Database

PUBLIC_URL = "https://scim.example.com"
OPERATOR_KEY = "k" * 20 + "0123456789abcdefghij"  # 40 characters
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(autouse=True)
def no_scimgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's own SCIMGATE_ variables must not change what these commands do."""
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)


@dataclass
class Cli:
    """``scimgate`` on one data directory, with the public URL the IdP reaches the service at."""

    data_dir: Path

    def run(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        database = ["--data-dir", str(self.data_dir), "--public-url", PUBLIC_URL]
        return CliRunner().invoke(main, [*args, *database], env=env, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def create_directory(self, name: str = "Contoso", *extra: str) -> tuple[str, str]:
        """A new directory's id and its bearer token."""
        made = self.json("directory", "create", name, *extra)
        return made["directory"]["id"], made["token"]["token"]


@dataclass
class Server:
    """The SCIM service on the same database, as an IdP sees it; it never trusts a checked token for long."""

    client: TestClient

    def users(self, directory_id: str, token: str) -> Any:
        return self.client.get(f"/scim/v2/{directory_id}/Users", headers={"Authorization": f"Bearer {token}"})

    def status(self, directory_id: str, token: str) -> int:
        status: int = self.users(directory_id, token).status_code
        return status

    def create_user(self, directory_id: str, token: str, user_name: str) -> None:
        response = self.client.post(
            f"/scim/v2/{directory_id}/Users",
            content=json.dumps({"schemas": [USER_SCHEMA], "userName": user_name}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        )
        assert response.status_code == 201, response.text

    def oauth_token(self, client_id: str, secret: str) -> Any:
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return self.client.post("/oauth/token", data=form)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path, sqlite_template: Path) -> Cli:
    """A data directory whose database already has the schema (``directory create`` on an empty one is tested too)."""
    data_dir.mkdir()
    shutil.copy(sqlite_template, data_dir / "scimgate.db")
    return Cli(data_dir)


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    url = f"sqlite:///{(data_dir / 'scimgate.db').resolve()}"
    settings = Settings(database_url=url, public_url=PUBLIC_URL, token_cache_seconds=0)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        yield Server(client)


def hidden(secret: str, output: str) -> bool:
    """True when output shows at most the secret's display prefix (its kind and four characters), never more."""
    kind = next(p for p in ("scimgate_cs_", "scimgate_at_", "scimgate_") if secret.startswith(p))
    return secret[: len(kind) + 5] not in output and secret[len(kind) :] not in output


# directory create


def test_create_on_empty_data_dir_prints_scim_url_and_a_working_token(
    data_dir: Path, request: pytest.FixtureRequest
) -> None:
    """`directory create` on a new data directory prints the SCIM URL and a token that opens that URL."""
    result = Cli(data_dir).ok("directory", "create", "Contoso", "--idp", "entra", "--external-id", "org_1")
    # The app starts on the database the command made. Started first (as the fixture would), its log writer's
    # first round opened the file while the command was creating it, and SQLite answered the command "database is
    # locked" in one run of 40 to 75 on a tmpfs: an app is never started on a database that does not exist yet
    # (serve migrates first).
    server: Server = request.getfixturevalue("server")
    url = next(word for word in result.output.split() if word.startswith(f"{PUBLIC_URL}/scim/v2/dir_"))
    token = next(word for word in result.output.split() if word.startswith("scimgate_"))
    directory_id = url.removeprefix(f"{PUBLIC_URL}/scim/v2/")
    assert f"Created directory {directory_id} (Contoso)." in result.output
    assert "shown only this once" in result.output
    assert "In Microsoft Entra ID:" in result.output
    assert result.output.index("In Microsoft Entra ID:") < result.output.index("In Okta:")  # its IdP first

    response = server.users(directory_id, token)
    assert response.status_code == 200, response.text
    assert response.json()["totalResults"] == 0
    assert server.status(directory_id, token + "x") == 401


def test_create_json_has_directory_token_and_setup_steps(cli: Cli, server: Server) -> None:
    """`directory create --json` prints one JSON document with the directory, its token and the setup steps."""
    made = cli.json("directory", "create", "Contoso", "--idp", "okta", "--external-id", "org_1")
    directory, token, setup = made["directory"], made["token"], made["setup"]
    assert directory["id"].startswith("dir_")
    assert directory["name"] == "Contoso"
    assert directory["idp"] == "okta"
    assert directory["external_id"] == "org_1"
    assert directory["status"] == "active"
    assert directory["scim_url"] == setup["scim_url"] == f"{PUBLIC_URL}/scim/v2/{directory['id']}"
    assert setup["token_endpoint"] == f"{PUBLIC_URL}/oauth/token"
    assert token["id"].startswith("tok_")
    assert token["token"].startswith("scimgate_")
    assert isinstance(setup["entra"], list) and setup["entra"]
    assert isinstance(setup["okta"], list) and setup["okta"]
    assert any(setup["scim_url"] in step for step in setup["okta"])
    assert any(token["token"] in step for step in setup["okta"])  # the just-created secret, to paste
    assert server.status(directory["id"], token["token"]) == 200


def test_create_no_token_prints_no_secret(cli: Cli) -> None:
    """`directory create --no-token` creates the directory with no token, and says where to get one."""
    made = cli.json("directory", "create", "Contoso", "--no-token")
    assert made["token"] is None
    assert "scimgate_" not in json.dumps(made).replace("scimgate token create", "")
    assert cli.json("token", "list", made["directory"]["id"]) == []


def test_create_refuses_an_unknown_idp(cli: Cli) -> None:
    """`directory create --idp` accepts only the IdPs scimgate knows (usage error, nothing created)."""
    result = cli.run("directory", "create", "Contoso", "--idp", "azure")
    assert result.exit_code == 2
    assert "azure" in result.output
    assert cli.json("directory", "list") == []


# The token is shown once


def test_show_and_token_list_never_print_the_secret(cli: Cli) -> None:
    """After creation, `directory show` and `token list` show only a token's prefix, in text and in JSON."""
    directory_id, token = cli.create_directory()
    prefix = token[: len("scimgate_") + 4]

    show_text = cli.ok("directory", "show", directory_id).output
    assert "tokens: 1" in show_text  # the text names how many, `token list` shows them
    assert hidden(token, show_text), show_text
    assert "<a token of this directory" in show_text  # the setup steps have a placeholder, not the secret
    outputs = [
        cli.ok("directory", "show", directory_id, "--json").output,
        cli.ok("token", "list", directory_id).output,
        cli.ok("token", "list", directory_id, "--json").output,
    ]
    for output in outputs:
        assert prefix in output
        assert hidden(token, output), output

    shown = cli.json("directory", "show", directory_id)
    assert shown["tokens"] == [{"id": shown["tokens"][0]["id"], "name": "created with the directory", "prefix": prefix}]
    assert shown["scim_url"] == f"{PUBLIC_URL}/scim/v2/{directory_id}"
    listed = cli.json("token", "list", directory_id)
    assert [(t["prefix"], t["status"], t["expires_at"]) for t in listed] == [(prefix, "active", None)]


# directory list


def test_list_shows_directories_and_filters_by_external_id(cli: Cli) -> None:
    """`directory list` shows every directory oldest first; --external-id only that customer's."""
    first, _ = cli.create_directory("Contoso", "--external-id", "org_1")
    second, _ = cli.create_directory("Fabrikam", "--external-id", "org_2", "--idp", "okta")
    third, _ = cli.create_directory("Contoso EU", "--external-id", "org_1")

    assert [d["id"] for d in cli.json("directory", "list")] == [first, second, third]
    assert [d["id"] for d in cli.json("directory", "list", "--external-id", "org_1")] == [first, third]
    assert cli.json("directory", "list", "--external-id", "org_3") == []

    text = cli.ok("directory", "list", "--external-id", "org_2").output
    assert second in text and "Fabrikam" in text and "okta" in text and "(external id org_2)" in text
    assert first not in text and third not in text


def test_list_when_there_are_no_directories(cli: Cli) -> None:
    """`directory list` on an empty database says how to create one; with --json it prints []."""
    result = cli.ok("directory", "list")
    assert "No directories yet" in result.output
    assert "scimgate directory create" in result.output
    assert cli.json("directory", "list") == []


def test_data_dir_comes_from_the_environment(cli: Cli, data_dir: Path) -> None:
    """SCIMGATE_DATA_DIR chooses the database as --data-dir does."""
    directory_id, _ = cli.create_directory()
    result = CliRunner().invoke(main, ["directory", "list", "--json"], env={"SCIMGATE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    assert [d["id"] for d in json.loads(result.stdout)] == [directory_id]


# directory disable / enable


def test_disable_refuses_the_token_and_enable_restores_it_with_the_data(cli: Cli, server: Server) -> None:
    """A disabled directory's token gets 401 and its users are kept; once enabled the same token sees them."""
    directory_id, token = cli.create_directory()
    server.create_user(directory_id, token, "ada@example.com")

    disabled = cli.ok("directory", "disable", directory_id)
    assert f"Directory {directory_id} disabled" in disabled.output
    assert server.status(directory_id, token) == 401
    shown = cli.json("directory", "show", directory_id)
    assert shown["status"] == "disabled" and shown["disabled_at"] is not None

    enabled = cli.json("directory", "enable", directory_id)
    assert enabled["status"] == "active" and enabled["disabled_at"] is None
    response = server.users(directory_id, token)
    assert response.status_code == 200
    assert [user["userName"] for user in response.json()["Resources"]] == ["ada@example.com"]


def test_disable_also_stops_oauth_clients(cli: Cli, server: Server) -> None:
    """A disabled directory's OAuth client cannot get an access token."""
    directory_id, _ = cli.create_directory()
    made = cli.json("client", "create", directory_id)
    cli.ok("directory", "disable", directory_id)
    refused = server.oauth_token(made["client_id"], made["client_secret"])
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


# directory delete


def test_delete_without_yes_off_a_terminal_refuses_and_keeps_everything(cli: Cli, server: Server) -> None:
    """`directory delete` with no terminal to confirm on and no --yes deletes nothing (exit 1)."""
    directory_id, token = cli.create_directory()
    server.create_user(directory_id, token, "ada@example.com")

    result = cli.run("directory", "delete", directory_id)
    assert result.exit_code == 1
    assert "--yes" in result.output
    assert [d["id"] for d in cli.json("directory", "list")] == [directory_id]
    response = server.users(directory_id, token)
    assert response.status_code == 200
    assert response.json()["totalResults"] == 1


def test_delete_with_yes_removes_the_directory_and_its_credentials(cli: Cli, server: Server) -> None:
    """`directory delete --yes` deletes the directory: it is no longer listed and its token and client stop."""
    directory_id, token = cli.create_directory()
    kept_id, kept_token = cli.create_directory("Fabrikam")
    server.create_user(directory_id, token, "ada@example.com")
    made = cli.json("client", "create", directory_id)
    access = server.oauth_token(made["client_id"], made["client_secret"]).json()["access_token"]
    assert server.status(directory_id, access) == 200

    result = cli.ok("directory", "delete", directory_id, "--yes")
    assert f"Deleted directory {directory_id}" in result.output
    assert [d["id"] for d in cli.json("directory", "list")] == [kept_id]
    assert server.status(directory_id, token) == 401
    assert server.status(directory_id, access) == 401
    assert server.oauth_token(made["client_id"], made["client_secret"]).status_code == 401
    assert cli.run("directory", "show", directory_id).exit_code == 3
    assert server.status(kept_id, kept_token) == 200  # another customer's directory is untouched


def test_delete_json_names_the_deleted_directory(cli: Cli) -> None:
    """`directory delete --yes --json` prints which directory was deleted."""
    directory_id, _ = cli.create_directory()
    assert cli.json("directory", "delete", directory_id, "--yes") == {"deleted": directory_id}
    assert cli.json("directory", "list") == []


# Unknown ids


@pytest.mark.parametrize(
    "command",
    [
        ["directory", "show"],
        ["directory", "disable"],
        ["directory", "enable"],
        ["directory", "delete", "--yes"],
        ["token", "list"],
        ["token", "create"],
        ["client", "create"],
        ["client", "list"],
    ],
)
def test_unknown_directory_is_exit_3_naming_it(cli: Cli, command: list[str]) -> None:
    """A command on a directory id that does not exist exits 3 and names the id."""
    cli.create_directory()
    result = cli.run(*command, "dir_doesnotexist")
    assert result.exit_code == 3, result.output
    assert "dir_doesnotexist" in result.output


def test_unknown_token_or_client_is_exit_3_naming_it(cli: Cli) -> None:
    """revoke/rotate of a token id, or rotate-secret of a client id, that the directory lacks exits 3."""
    directory_id, _ = cli.create_directory()
    other_id, _ = cli.create_directory("Fabrikam")
    other_token = cli.json("token", "list", other_id)[0]["id"]
    for command in (
        ["token", "revoke", directory_id, "tok_doesnotexist"],
        ["token", "rotate", directory_id, "tok_doesnotexist"],
        ["token", "revoke", directory_id, other_token],  # a token of another directory
        ["client", "rotate-secret", directory_id, "cli_doesnotexist"],
    ):
        result = cli.run(*command)
        assert result.exit_code == 3, (command, result.output)
        assert command[3] in result.output


# token create / revoke / rotate


def test_token_create_prints_a_second_working_token(cli: Cli, server: Server) -> None:
    """`token create` prints a new token, once; it and the first token both open the directory."""
    directory_id, first = cli.create_directory()
    result = cli.ok("token", "create", directory_id, "--name", "Okta production")
    second = result.output.splitlines()[0]
    assert second.startswith("scimgate_") and second != first
    assert "shown only this once" in result.output
    assert server.status(directory_id, first) == 200
    assert server.status(directory_id, second) == 200
    names = [t["name"] for t in cli.json("token", "list", directory_id)]
    assert names == ["created with the directory", "Okta production"]


def test_token_of_one_directory_does_not_open_another(cli: Cli, server: Server) -> None:
    """A token printed for one directory gets 401 on another directory's SCIM URL."""
    first_id, first_token = cli.create_directory()
    second_id, second_token = cli.create_directory("Fabrikam")
    assert server.status(second_id, first_token) == 401
    assert server.status(first_id, second_token) == 401
    assert server.status(second_id, second_token) == 200


def test_token_revoke_refuses_the_token_at_once(cli: Cli, server: Server) -> None:
    """A revoked token gets 401 on the next request and is listed as revoked; the directory's other token works."""
    directory_id, token = cli.create_directory()
    other = cli.json("token", "create", directory_id)
    token_id = cli.json("token", "list", directory_id)[0]["id"]
    assert server.status(directory_id, token) == 200

    result = cli.ok("token", "revoke", directory_id, token_id)
    assert f"Token {token_id} revoked." in result.output
    assert server.status(directory_id, token) == 401
    assert server.status(directory_id, other["token"]) == 200
    statuses = {t["id"]: t["status"] for t in cli.json("token", "list", directory_id)}
    assert statuses == {token_id: "revoked", other["id"]: "active"}


def test_token_rotate_with_overlap_keeps_both_tokens_working(cli: Cli, server: Server) -> None:
    """`token rotate --overlap 1h`: the new and the old token both work, and the old one shows its expiry."""
    directory_id, old = cli.create_directory()
    old_id = cli.json("token", "list", directory_id)[0]["id"]

    before = datetime.now(UTC)
    rotated = cli.json("token", "rotate", directory_id, old_id, "--overlap", "1h")
    assert rotated["replaces"] == old_id
    assert rotated["token"].startswith("scimgate_") and rotated["token"] != old
    assert server.status(directory_id, old) == 200
    assert server.status(directory_id, rotated["token"]) == 200

    listed = {t["id"]: t for t in cli.json("token", "list", directory_id)}
    ends = datetime.fromisoformat(listed[old_id]["expires_at"])
    assert before + timedelta(minutes=59) < ends <= datetime.now(UTC) + timedelta(hours=1)
    assert datetime.fromisoformat(rotated["old_token_expires_at"]) == ends
    assert listed[old_id]["status"] == "active"
    assert listed[rotated["id"]]["expires_at"] is None
    assert "expires" in cli.ok("token", "list", directory_id).output


def test_token_rotate_text_prints_the_new_token_and_when_the_old_stops(cli: Cli, server: Server) -> None:
    """`token rotate` in text prints the new token on its first line and when the old one stops working."""
    directory_id, _ = cli.create_directory()
    old_id = cli.json("token", "list", directory_id)[0]["id"]
    result = cli.ok("token", "rotate", directory_id, old_id, "--overlap", "90m")
    new = result.output.splitlines()[0]
    assert new.startswith("scimgate_")
    assert f"replaces {old_id}, which stops working at" in result.output
    assert server.status(directory_id, new) == 200


def test_token_rotate_without_overlap_stops_the_old_token_now(cli: Cli, server: Server) -> None:
    """`token rotate --overlap 0`: the old token gets 401 at once, the new one works."""
    directory_id, old = cli.create_directory()
    old_id = cli.json("token", "list", directory_id)[0]["id"]
    assert server.status(directory_id, old) == 200

    rotated = cli.json("token", "rotate", directory_id, old_id, "--overlap", "0")
    assert server.status(directory_id, old) == 401
    assert server.status(directory_id, rotated["token"]) == 200
    statuses = {t["id"]: t["status"] for t in cli.json("token", "list", directory_id)}
    assert statuses == {old_id: "expired", rotated["id"]: "active"}


def test_token_rotate_refuses_a_revoked_token(cli: Cli, server: Server) -> None:
    """Rotating a revoked token exits 1, says why, and issues nothing that works."""
    directory_id, token = cli.create_directory()
    token_id = cli.json("token", "list", directory_id)[0]["id"]
    cli.ok("token", "revoke", directory_id, token_id)

    result = cli.run("token", "rotate", directory_id, token_id)
    assert result.exit_code == 1
    assert "revoked" in result.output
    assert "scimgate_" not in result.output
    assert [t["id"] for t in cli.json("token", "list", directory_id)] == [token_id]
    assert server.status(directory_id, token) == 401


def test_token_rotate_refuses_a_bad_overlap(cli: Cli) -> None:
    """`token rotate --overlap` that is not a duration is a usage error and changes nothing."""
    directory_id, _ = cli.create_directory()
    token_id = cli.json("token", "list", directory_id)[0]["id"]
    result = cli.run("token", "rotate", directory_id, token_id, "--overlap", "soon")
    assert result.exit_code == 2
    assert "soon" in result.output
    assert [t["expires_at"] for t in cli.json("token", "list", directory_id)] == [None]


# OAuth clients


def test_client_create_prints_credentials_that_get_a_working_access_token(cli: Cli, server: Server) -> None:
    """`client create --lifetime 2h` prints the endpoint, id and secret; they get a 2 h token that opens SCIM."""
    directory_id, _ = cli.create_directory()
    result = cli.ok("client", "create", directory_id, "--lifetime", "2h")
    fields = dict(line.split(":", 1) for line in result.output.splitlines() if line.startswith(("Token", "Client")))
    endpoint, client_id, secret = (fields[name].strip() for name in ("Token Endpoint", "Client ID", "Client Secret"))
    assert endpoint == f"{PUBLIC_URL}/oauth/token"
    assert client_id.startswith("cli_")
    assert secret.startswith("scimgate_cs_")

    response = server.oauth_token(client_id, secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert 7190 <= body["expires_in"] <= 7200
    assert server.status(directory_id, body["access_token"]) == 200
    assert server.oauth_token(client_id, secret + "x").status_code == 401


def test_client_create_refuses_a_lifetime_over_6h(cli: Cli) -> None:
    """`client create --lifetime 7h` is a usage error (exit 2) naming --lifetime, and creates no client."""
    directory_id, _ = cli.create_directory()
    for lifetime in ("7h", "59m"):
        result = cli.run("client", "create", directory_id, "--lifetime", lifetime)
        assert result.exit_code == 2, result.output
        assert "--lifetime" in result.output
        assert "scimgate_cs_" not in result.output
    assert cli.json("client", "list", directory_id) == []


def test_client_rotate_secret_keeps_the_old_secret_during_the_overlap(cli: Cli, server: Server) -> None:
    """`client rotate-secret`: the new secret works, the old one too during the overlap; two secrets listed."""
    directory_id, _ = cli.create_directory()
    made = cli.json("client", "create", directory_id)
    client_id, old = made["client_id"], made["client_secret"]

    result = cli.ok("client", "rotate-secret", directory_id, client_id, "--overlap", "1h")
    new = result.output.splitlines()[0].removeprefix("Client Secret:").strip()
    assert new.startswith("scimgate_cs_") and new != old
    for secret in (new, old):
        response = server.oauth_token(client_id, secret)
        assert response.status_code == 200, response.text
        assert server.status(directory_id, response.json()["access_token"]) == 200

    [listed] = cli.json("client", "list", directory_id)
    assert listed["client_id"] == client_id
    assert len(listed["secrets"]) == 2
    assert sorted(s["expires_at"] is None for s in listed["secrets"]) == [False, True]
    output = cli.ok("client", "list", directory_id, "--json").output + cli.ok("client", "list", directory_id).output
    assert "2 secret(s)" in output
    assert hidden(old, output) and hidden(new, output)


def test_client_rotate_secret_without_overlap_stops_the_old_secret(cli: Cli, server: Server) -> None:
    """`client rotate-secret --overlap 0`: the old secret is refused at once, the new one works."""
    directory_id, _ = cli.create_directory()
    made = cli.json("client", "create", directory_id)
    rotated = cli.json("client", "rotate-secret", directory_id, made["client_id"], "--overlap", "0")
    assert rotated["client_id"] == made["client_id"]
    assert server.oauth_token(made["client_id"], made["client_secret"]).status_code == 401
    assert server.oauth_token(made["client_id"], rotated["client_secret"]).status_code == 200


def test_client_secret_opens_only_its_own_directory(cli: Cli, server: Server) -> None:
    """An access token from one directory's client gets 401 on another directory."""
    directory_id, _ = cli.create_directory()
    other_id, _ = cli.create_directory("Fabrikam")
    made = cli.json("client", "create", directory_id)
    access = server.oauth_token(made["client_id"], made["client_secret"]).json()["access_token"]
    assert server.status(other_id, access) == 401
    assert server.status(directory_id, access) == 200


# config show


@pytest.mark.parametrize("via", ["environment", "flag"])
def test_config_show_masks_the_operator_key(cli: Cli, via: str) -> None:
    """`config show` prints ******** for the operator key, never the key, from a variable or a flag."""
    env = {"SCIMGATE_OPERATOR_KEY": OPERATOR_KEY} if via == "environment" else None
    flag = ["--operator-key", OPERATOR_KEY] if via == "flag" else []
    text = cli.run("config", "show", *flag, env=env)
    as_json = cli.run("config", "show", "--json", *flag, env=env)
    for result in (text, as_json):
        assert result.exit_code == 0, result.output
        assert OPERATOR_KEY not in result.output
        assert OPERATOR_KEY[20:] not in result.output
    assert "operator_key = ********" in text.output
    values = json.loads(as_json.stdout)
    assert values["operator_key"] == "********"
    assert values["public_url"] == PUBLIC_URL
    assert values["resolved_database_url"] == f"sqlite:///{(cli.data_dir / 'scimgate.db').resolve()}"


def test_config_show_without_operator_key_says_none(cli: Cli) -> None:
    """`config show` with no operator key shows it unset, not masked."""
    assert cli.json("config", "show")["operator_key"] is None


def test_config_show_hides_the_database_password(cli: Cli) -> None:
    """`config show --database-url postgresql://u:secretpw@...` never prints the password."""
    url = "postgresql://u:secretpw@127.0.0.1/x"
    for extra in ([], ["--json"]):
        result = cli.run("config", "show", "--database-url", url, *extra)
        assert result.exit_code == 0, result.output
        assert "secretpw" not in result.output
        assert "u:***@127.0.0.1/x" in result.output
    env_result = cli.run("config", "show", "--json", env={"SCIMGATE_DATABASE_URL": url})
    assert "secretpw" not in env_result.output


def test_config_show_refuses_a_short_operator_key(cli: Cli) -> None:
    """An operator key under 32 characters exits 1 with a message about operator_key, without echoing the key."""
    short = "short-key-0123456789"
    result = cli.run("config", "show", env={"SCIMGATE_OPERATOR_KEY": short})
    assert result.exit_code == 1
    assert "operator_key" in result.output
    assert short not in result.output


def test_config_show_hides_a_password_given_as_a_query_parameter(cli: Cli) -> None:
    """`config show` never prints a database password, also when the URL carries it as ?password=."""
    result = cli.run("config", "show", "--database-url", "postgresql://u@127.0.0.1/x?password=secretpw")
    assert result.exit_code == 0, result.output
    assert "secretpw" not in result.output


def test_management_commands_refuse_invalid_settings(cli: Cli) -> None:
    """A management command with an invalid setting exits 1 and names the setting."""
    result = cli.run("directory", "list", env={"SCIMGATE_TOKEN_CACHE_SECONDS": "600"})
    assert result.exit_code == 1
    assert "token_cache_seconds" in result.output


# Schema


def set_schema(data_dir: Path, revision: str) -> None:
    db = Database(f"sqlite:///{(data_dir / 'scimgate.db').resolve()}")
    try:
        if revision == "newer":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        else:
            migrate.upgrade(db, revision)
    finally:
        db.dispose()


def test_management_command_refuses_an_older_schema_and_says_to_migrate(data_dir: Path) -> None:
    """On a database an older scimgate made, a management command exits 1, says to migrate, and writes nothing."""
    data_dir.mkdir()
    set_schema(data_dir, "0002")
    cli = Cli(data_dir)
    result = cli.run("directory", "create", "Contoso")
    assert result.exit_code == 1
    assert "scimgate migrate" in result.output
    assert "scimgate_" not in result.output
    assert CliRunner().invoke(main, ["migrate", "--data-dir", str(data_dir)]).exit_code == 0
    assert cli.json("directory", "list") == []


def test_management_command_on_a_newer_schema_says_a_newer_scimgate_made_it(cli: Cli) -> None:
    """On a database a newer scimgate migrated, a management command says so instead of advising migrate."""
    set_schema(cli.data_dir, "newer")
    result = cli.run("directory", "list")
    assert result.exit_code == 1
    assert "newer scimgate" in result.output
    assert "scimgate migrate" not in result.output


# Help


@pytest.mark.parametrize(
    ("group", "subcommands"),
    [
        ("directory", ["create", "list", "show", "disable", "enable", "delete"]),
        ("token", ["create", "list", "revoke", "rotate"]),
        ("client", ["create", "list", "rotate-secret"]),
        ("config", ["show"]),
    ],
)
def test_group_help_lists_its_subcommands(group: str, subcommands: list[str]) -> None:
    """`scimgate GROUP --help` lists every subcommand of the group."""
    result = CliRunner().invoke(main, [group, "--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1].split()
    for subcommand in subcommands:
        assert subcommand in listed


def test_management_command_help_shows_json_and_database_flags() -> None:
    """Each management command's --help offers --json, --data-dir, --database-url and --public-url."""
    for command in (["directory", "create"], ["token", "rotate"], ["client", "rotate-secret"], ["config", "show"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        for flag in ("--json", "--data-dir", "--database-url", "--public-url"):
            assert flag in result.output, (command, flag)


def test_an_unusable_database_url_is_a_message_not_a_traceback(cli: Cli) -> None:
    """A URL that is not one, or a database that does not answer, exits 1 with one line and no password."""
    for url in ("notaurl", "postgresql://u:secretpw@127.0.0.1:1/x"):
        result = cli.run("directory", "list", "--database-url", url)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "secretpw" not in result.output
        assert "database" in result.output.lower()


def test_names_longer_than_the_database_allows_are_usage_errors(cli: Cli) -> None:
    """A 201-character name or key exits 2 before anything is written, on every backend."""
    assert cli.run("directory", "create", "x" * 201).exit_code == 2
    assert cli.run("directory", "create", "ok", "--external-id", "k" * 201).exit_code == 2
    assert cli.json("directory", "list") == []


def test_secret_settings_reach_worker_processes_unmasked() -> None:
    """serve --workers passes every secret setting to its workers as itself, not as pydantic's mask."""
    from scimgate.cli import _environment
    from scimgate.config import Settings

    settings = Settings(operator_key="k" * 40, admin_password="a long admin password")
    environment = _environment(settings)
    assert environment["SCIMGATE_OPERATOR_KEY"] == "k" * 40
    assert environment["SCIMGATE_ADMIN_PASSWORD"] == "a long admin password"
    parsed = Settings.model_validate({name[9:].lower(): value for name, value in environment.items()})
    assert parsed.admin_password is not None
