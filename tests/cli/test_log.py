"""``scimgate log``: the provisioning log searched from the terminal, on the database the server writes."""

import json
import os

import pytest
from click.testing import CliRunner, Result

from scimgate.cli import main
from scimgate.store.database import Database
from tests.helpers.scim import Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(autouse=True)
def no_scimgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)


def scimgate_log(database: Database, *args: str) -> Result:
    url = database.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["log", *args, "--database-url", url], catch_exceptions=False)


@pytest.mark.both_backends
def test_log_finds_a_username_and_explains_its_409(database: Database, scim: Scim) -> None:
    """`scimgate log adele@… --status 409` prints the refused creation: the directory by name, the path after the
    directory, the request id and the reason with its advice."""
    scim.create_user("adele@contoso.example")
    refused = scim.post("/Users", {"schemas": [USER], "userName": "Adele@contoso.example"})
    scim.create_user("other@contoso.example")
    flush(scim.client)
    result = scimgate_log(database, "ADELE@contoso.example", "--status", "409")
    assert result.exit_code == 0, result.output
    first, advice = result.output.splitlines()
    assert "  Contoso  POST /Users  → 409  " + refused.headers["x-request-id"] in first
    assert advice.startswith("    user_name_taken: ")
    assert "No requests match." in scimgate_log(database, "nobody@contoso.example").output


@pytest.mark.both_backends
def test_log_limits_and_prints_json(database: Database, scim: Scim) -> None:
    """--limit is how many are printed; --json gives the same entries as data, newest first."""
    for n in range(5):
        scim.get(f'/Users?filter=externalId eq "X-{n}"')
    flush(scim.client)
    found = json.loads(scimgate_log(database, "x-", "--limit", "2", "--json", "--since", "1h").output)
    assert [entry["request"] for entry in found] == [
        '/Users?filter=externalId eq "X-4"',
        '/Users?filter=externalId eq "X-3"',
    ]
    assert found[0]["directory_name"] == "Contoso" and found[0]["target"] == 'externalId eq "X-4"'
    assert json.loads(scimgate_log(database, "x-", "--json", "--until", "1h").output) == []


def test_log_refuses_a_bad_time_or_status(database: Database) -> None:
    """A time that is neither a duration nor a date, or a status that is no status: a usage error (exit 2)."""
    assert scimgate_log(database, "--since", "yesterday").exit_code == 2
    assert scimgate_log(database, "--status", "broken").exit_code == 2
