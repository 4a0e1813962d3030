"""``scimgate directory link|links|unlink``: setup links from the terminal, on the database the server uses."""

import json
import os

import pytest
from click.testing import CliRunner, Result

from scimgate.cli import main
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, Scim


@pytest.fixture(autouse=True)
def no_scimgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)


def scimgate(database: Database, *args: str) -> Result:
    url = database.engine.url.render_as_string(hide_password=False)
    options = ["--database-url", url, "--public-url", BASE_URL]
    return CliRunner().invoke(main, ["directory", *args, *options], catch_exceptions=False)


@pytest.mark.both_backends
def test_link_prints_a_url_that_opens_the_setup_page_until_unlinked(database: Database, scim: Scim) -> None:
    """`directory link DIR --expires 2h` prints the URL once; `links` lists it (opened, never the URL); `unlink`
    stops it."""
    made = scimgate(database, "link", scim.directory_id, "--expires", "2h", "--json")
    assert made.exit_code == 0, made.output
    link = json.loads(made.output)
    path = link["url"][len(BASE_URL) :]
    assert scim.client.get(path).status_code == 200
    listed = scimgate(database, "links", scim.directory_id)
    assert link["id"] in listed.output and "active" in listed.output and "last opened never" not in listed.output
    assert path.split("/")[-1] not in listed.output
    assert scimgate(database, "unlink", scim.directory_id, link["id"]).exit_code == 0
    assert scim.client.get(path).status_code == 404
    assert "revoked" in scimgate(database, "links", scim.directory_id).output


def test_link_refuses_a_long_lifetime_and_an_unknown_directory(database: Database, scim: Scim) -> None:
    """More than 30 days is a usage error; an unknown directory or link exits 3."""
    assert scimgate(database, "link", scim.directory_id, "--expires", "31d").exit_code == 2
    assert scimgate(database, "link", "dir_nothere").exit_code == 3
    assert scimgate(database, "unlink", scim.directory_id, "lnk_nothere").exit_code == 3
