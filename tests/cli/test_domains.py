"""``scimgate domain add|list|verify|remove`` and ``scimgate directory policy``, on the database the server uses,
with a fake resolver in click's context object (no DNS lookup leaves the machine)."""

import json
import os

import pytest
from click.testing import CliRunner, Result

from scimgate.cli import main
from scimgate.store.database import Database
from tests.helpers.domains import FakeResolver
from tests.helpers.scim import BASE_URL, Scim, assert_scim_error


@pytest.fixture(autouse=True)
def no_scimgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)


def scimgate(database: Database, resolver: FakeResolver, *args: str) -> Result:
    url = database.engine.url.render_as_string(hide_password=False)
    options = ["--database-url", url, "--public-url", BASE_URL]
    return CliRunner().invoke(main, [*args, *options], obj={"resolver": resolver}, catch_exceptions=False)


@pytest.mark.both_backends
def test_a_domain_is_added_verified_by_dns_listed_and_removed(database: Database, scim: Scim) -> None:
    """`add` prints the record; `verify` exits 1 until it is published, then 0; `list` shows it; `remove` forgets."""
    resolver = FakeResolver()
    added = scimgate(database, resolver, "domain", "add", scim.directory_id, "Example.com", "--json")
    assert added.exit_code == 0, added.output
    record = json.loads(added.output)["record_value"]
    early = scimgate(database, resolver, "domain", "verify", scim.directory_id, "example.com")
    assert early.exit_code == 1 and record in early.output and "_scimgate.example.com" in early.output
    resolver.publish("_scimgate.example.com", record)
    done = scimgate(database, resolver, "domain", "verify", scim.directory_id, "example.com")
    assert done.exit_code == 0 and "verified (dns)" in done.output
    listed = scimgate(database, resolver, "domain", "list", scim.directory_id, "--json")
    assert [(d["domain"], d["verified"]) for d in json.loads(listed.output)] == [("example.com", True)]
    assert scimgate(database, resolver, "domain", "remove", scim.directory_id, "example.com").exit_code == 0
    assert "No domains" in scimgate(database, resolver, "domain", "list", scim.directory_id).output


@pytest.mark.both_backends
def test_the_operator_vouches_and_enforce_refuses_outside_users(database: Database, scim: Scim) -> None:
    """`verify --operator` needs no DNS; `directory policy DIR enforce` makes the SCIM endpoint refuse others."""
    resolver = FakeResolver()
    assert scimgate(database, resolver, "domain", "add", scim.directory_id, "example.com").exit_code == 0
    vouched = scimgate(database, resolver, "domain", "verify", scim.directory_id, "example.com", "--operator")
    assert vouched.exit_code == 0 and "verified (operator)" in vouched.output and resolver.asked == []
    assert scimgate(database, resolver, "directory", "policy", scim.directory_id, "enforce").exit_code == 0
    scim.create_user("ok@example.com")
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "no@othercompany.com"}
    assert_scim_error(scim.post("/Users", body), 400, "invalidValue")


def test_mistakes_exit_with_their_code(database: Database, scim: Scim) -> None:
    """A bad domain or policy, an unknown directory or domain: 1, 2, 3."""
    resolver = FakeResolver()
    assert scimgate(database, resolver, "domain", "add", scim.directory_id, "not a domain").exit_code == 1
    assert scimgate(database, resolver, "directory", "policy", scim.directory_id, "loud").exit_code == 2
    assert scimgate(database, resolver, "domain", "list", "dir_nothere").exit_code == 3
    assert scimgate(database, resolver, "domain", "verify", scim.directory_id, "example.net").exit_code == 3
    assert scimgate(database, resolver, "domain", "remove", scim.directory_id, "example.net").exit_code == 3
