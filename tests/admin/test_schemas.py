"""The admin page's Schemas tab (docs/custom-attributes.md): declared extensions listed, declared from JSON and
removed, each form behind the session's CSRF token."""

import json
import re
from typing import Any

from starlette.testclient import TestClient

from tests.helpers.admin import sign_in
from tests.helpers.scim import Scim

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DEFINITION = {
    "id": ACME,
    "name": "AcmeUser",
    "attributes": [
        {"name": "region", "type": "string"},
        {"name": "badgeId", "type": "string", "caseExact": True},
        {"name": "vip", "type": "boolean"},
    ],
    "scimgate": {"indexed": ["badgeId"], "names": {"badgeId": "badge"}},
}


def declared_ids(scim: Scim) -> list[str]:
    """The schema URNs the directory's /Schemas lists."""
    return [schema["id"] for schema in scim.get("/Schemas").json()["Resources"]]


def rows(page: str) -> str:
    """The declarations table's body."""
    found = re.search(r'<table id="schemas">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert found is not None, page
    return found.group(1)


def declare(client: TestClient, csrf: str | None, definition: Any, directory_id: str = "") -> Any:
    data = {"action": "declare", "definition": definition, "directory_id": directory_id}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post("/admin/schemas", data=data, follow_redirects=False)


def test_the_tab_lists_nothing_and_offers_every_directory(app_client: TestClient, scim: Scim) -> None:
    """With nothing declared the table says so, and the form offers the instance and each directory by name."""
    sign_in(app_client)
    page = app_client.get("/admin/schemas")
    assert page.status_code == 200 and '<a href="/admin/schemas">Schemas</a>' in page.text
    assert "No extension schema is declared." in rows(page.text)
    assert '<option value="">every directory</option>' in page.text
    assert f'<option value="{scim.directory_id}">Contoso</option>' in page.text


def test_declaring_for_one_directory_lists_it_and_advertises_it_there_only(
    app_client: TestClient, scim: Scim, other_scim: Scim
) -> None:
    """A declaration from the form (for Contoso) is listed with its attributes, types, index and names, and at
    once in Contoso's /Schemas, not in Fabrikam's."""
    csrf = sign_in(app_client)
    response = declare(app_client, csrf, json.dumps(DEFINITION), scim.directory_id)
    assert response.status_code == 303 and response.headers["location"].endswith("/admin/schemas")
    table = rows(app_client.get("/admin/schemas").text)
    assert f"<code>{ACME}</code>" in table and "<small>User</small>" in table and scim.directory_id in table
    assert "<code>region</code> (string)" in table and "<code>vip</code> (boolean)" in table
    assert "<code>badgeId</code> (string, indexed) → <code>badge</code>" in table
    assert ACME in declared_ids(scim) and ACME not in declared_ids(other_scim)


def test_declaring_for_every_directory(app_client: TestClient, scim: Scim, other_scim: Scim) -> None:
    csrf = sign_in(app_client)
    assert declare(app_client, csrf, json.dumps(DEFINITION)).status_code == 303
    assert "every directory" in rows(app_client.get("/admin/schemas").text)
    assert ACME in declared_ids(scim) and ACME in declared_ids(other_scim)


def test_a_declaration_without_the_csrf_token_is_refused(app_client: TestClient, scim: Scim) -> None:
    """A forged cross-site form (no token, or a guessed one) declares nothing."""
    csrf = sign_in(app_client)
    for token in (None, "guess", csrf[:-1]):
        assert declare(app_client, token, json.dumps(DEFINITION)).status_code == 403
    assert "No extension schema is declared." in rows(app_client.get("/admin/schemas").text)
    assert ACME not in declared_ids(scim)


def test_a_bad_declaration_is_shown_with_the_text_kept_and_escaped(app_client: TestClient) -> None:
    """Text that is not JSON, or JSON that is no valid schema, is answered 422 with the reason above the form,
    the text kept in the form (escaped), and nothing declared."""
    csrf = sign_in(app_client)
    broken = '{"id": "</textarea><script>alert(1)</script>"'
    page = declare(app_client, csrf, broken)
    assert page.status_code == 422 and "That is not JSON" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;/textarea&gt;&lt;script&gt;" in page.text
    invalid = {**DEFINITION, "attributes": [{"name": "region", "type": "colour"}]}
    page = declare(app_client, csrf, json.dumps(invalid))
    assert page.status_code == 422 and 'id="schema-error"' in page.text and "colour" in page.text
    assert "No extension schema is declared." in rows(page.text)


def test_declaring_for_a_directory_that_does_not_exist_is_refused(app_client: TestClient) -> None:
    csrf = sign_in(app_client)
    page = declare(app_client, csrf, json.dumps(DEFINITION), "dir_nosuchdirectory")
    assert page.status_code == 422 and "There is no directory" in page.text
    assert "No extension schema is declared." in rows(page.text)


def remove(client: TestClient, csrf: str | None, directory_id: str = "", schema_id: str = ACME) -> Any:
    data = {"action": "remove", "schema_id": schema_id, "directory_id": directory_id}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post("/admin/schemas", data=data, follow_redirects=False)


def test_removing_a_declaration_needs_the_csrf_token_and_keeps_the_values(app_client: TestClient, scim: Scim) -> None:
    """The row's Remove form (its hidden fields as rendered) removes the declaration from the tab and /Schemas;
    without the token it removes nothing; the values stored meanwhile stay, undeclared."""
    csrf = sign_in(app_client)
    declare(app_client, csrf, json.dumps(DEFINITION), scim.directory_id)
    user = scim.create_user("ada@contoso.example", **{ACME: {"region": "EMEA"}})
    table = rows(app_client.get("/admin/schemas").text)
    assert f'name="schema_id" value="{ACME}"' in table
    assert f'name="directory_id" value="{scim.directory_id}"' in table
    assert remove(app_client, None, scim.directory_id).status_code == 403
    assert ACME in declared_ids(scim)
    response = remove(app_client, csrf, scim.directory_id)
    assert response.status_code == 303
    assert "No extension schema is declared." in rows(app_client.get("/admin/schemas").text)
    assert ACME not in declared_ids(scim)
    assert scim.get(f"/Users/{user['id']}").json()[ACME] == {"region": "EMEA"}


def test_removing_what_is_not_declared_is_a_404_and_an_unknown_action_a_400(app_client: TestClient) -> None:
    csrf = sign_in(app_client)
    assert remove(app_client, csrf).status_code == 404
    response = app_client.post("/admin/schemas", data={"csrf": csrf, "action": "drop"}, follow_redirects=False)
    assert response.status_code == 400
