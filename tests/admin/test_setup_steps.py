"""The directory page's setup steps send a web admin to the "Create a token" button; the CLI's name the command."""

import re

from starlette.testclient import TestClient

from scimgate.directories.service import get_directory
from scimgate.directories.setup import setup_for
from scimgate.store.database import Database
from tests.helpers.admin import sign_in
from tests.helpers.scim import BASE_URL, Scim


def steps(html: str) -> str:
    found = re.search(r"<h2>Set up the IdP</h2>(.*?)<h2 id=\"tokens\">", html, re.S)
    assert found is not None
    return found.group(1)


def test_the_admin_pages_steps_point_at_the_button_not_the_cli(app_client: TestClient, scim: Scim) -> None:
    """Every IdP's token step names the button below, which the hint links to; no step asks for `token create`."""
    sign_in(app_client)
    page = app_client.get(f"/admin/directories/{scim.directory_id}").text
    shown = steps(page)
    assert "scimgate token create" not in shown
    assert shown.count("the &#34;Create a token&#34; button below shows one, once") == 5  # each IdP shown
    assert '<a href="#tokens">Create a token</a>' in shown and 'id="create-token">Create a token</button>' in page


def test_a_new_token_is_in_the_steps_and_the_hint_goes(app_client: TestClient, scim: Scim) -> None:
    """Once a token has been made on the page, the steps carry it and no longer send the admin to the button."""
    csrf = sign_in(app_client)
    page = app_client.post(f"/admin/directories/{scim.directory_id}/tokens", data={"csrf": csrf}).text
    token = re.search(r'<code class="token">([^<]+)</code>', page)
    assert token is not None and f"Secret Token: {token.group(1)}" in steps(page)
    assert "Create a token" not in steps(page)


def test_the_cli_steps_keep_the_command(scim: Scim, database: Database) -> None:
    """Elsewhere (the CLI, the API) the same steps name the command: there the reader has a shell."""
    with database.read() as conn:
        directory = get_directory(conn, scim.directory_id)
    assert directory is not None
    assert f"Secret Token: <a token of this directory: scimgate token create {scim.directory_id}>" in (
        setup_for(directory, BASE_URL).entra
    )
