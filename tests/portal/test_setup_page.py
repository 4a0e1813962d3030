"""The setup page behind a link: what the customer's IT admin sees and can do, and all it cannot."""

import logging
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from scimgate.directories.credentials import list_tokens
from scimgate.directories.links import revoke_link
from scimgate.store.database import Database
from scimgate.store.tables import setup_links
from tests.helpers.scim import Scim, flush
from tests.helpers.setup_links import form_token, new_link, shown_token

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_the_page_shows_the_chosen_idps_steps_with_the_tenant_url(database: Database, scim: Scim) -> None:
    """No operator key needed; the SCIM URL is this directory's, and choosing Okta shows Okta's steps."""
    _, page = new_link(database, scim.directory_id)
    client = TestClient(scim.client.app, base_url=str(scim.client.base_url))  # no cookie, no key
    shown = client.get(page)
    assert shown.status_code == 200
    assert f"/scim/v2/{scim.directory_id}</code>" in shown.text and 'data-copy="#scim-url"' in shown.text
    assert "Set up provisioning for Contoso" in shown.text
    assert "scimgate " not in shown.text  # no operator command: the IT admin has no CLI
    okta = client.get(page + "?idp=okta").text
    assert "SCIM connector base URL" in okta and "Authentication Mode: HTTP Header" in okta
    google = client.get(page + "?idp=google").text
    assert "Auto-provisioning" in google
    assert shown.headers["referrer-policy"] == "no-referrer" and shown.headers["cache-control"] == "no-store"


def test_a_token_made_on_the_page_is_shown_once_and_provisions(database: Database, scim: Scim) -> None:
    """Create a token: it is on that response only, and the IdP can use it; rotating gives another, and the old one
    keeps working (the overlap)."""
    _, page = new_link(database, scim.directory_id)
    csrf = form_token(scim.client, page)
    made = scim.client.post(page + "/tokens", data={"csrf": csrf})
    assert made.status_code == 201
    token = shown_token(made.text)
    assert token not in scim.client.get(page).text
    headers = {"Authorization": f"Bearer {token}"}
    assert scim.client.get(f"/scim/v2/{scim.directory_id}/Users", headers=headers).status_code == 200
    token_id = next(t for t in made.text.split("/tokens/")[1:] if "/rotate" in t).split("/")[0]
    rotated = scim.client.post(f"{page}/tokens/{token_id}/rotate", data={"csrf": csrf})
    assert rotated.status_code == 201
    new = shown_token(rotated.text)
    assert new != token
    for each in (token, new):
        response = scim.client.get(f"/scim/v2/{scim.directory_id}/Users", headers={"Authorization": f"Bearer {each}"})
        assert response.status_code == 200


def test_forms_need_the_pages_csrf_token_and_minting_is_rate_limited(database: Database, scim: Scim) -> None:
    """A post without the page's token, or marked cross-site, mints nothing; six tokens a minute, then 429."""
    _, page = new_link(database, scim.directory_id)
    assert scim.client.post(page + "/tokens", data={}).status_code == 403
    csrf = form_token(scim.client, page)
    cross = scim.client.post(page + "/tokens", data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    statuses = [scim.client.post(page + "/tokens", data={"csrf": csrf}).status_code for _ in range(7)]
    assert statuses == [201] * 6 + [429]


@pytest.mark.both_backends
def test_a_link_for_one_directory_sees_and_changes_nothing_of_another(
    database: Database, scim: Scim, other_scim: Scim
) -> None:
    """A's page shows none of B's users, groups or requests, and cannot rotate B's token."""
    scim.create_user("adele@contoso.example")
    other_scim.create_user("bianca@fabrikam.example")
    other_scim.create_group("Fabrikam staff")
    flush(scim.client)
    _, page = new_link(database, scim.directory_id)
    shown = scim.client.get(page).text + scim.client.get(page + "/activity").text
    assert "adele@contoso.example" in shown
    assert "bianca@fabrikam.example" not in shown and "Fabrikam" not in shown and other_scim.directory_id not in shown
    with database.read() as conn:
        (b_token,) = list_tokens(conn, other_scim.directory_id)
    csrf = form_token(scim.client, page)
    refused = scim.client.post(f"{page}/tokens/{b_token.id}/rotate", data={"csrf": csrf})
    assert refused.status_code == 404
    with database.read() as conn:
        assert [t.expires_at for t in list_tokens(conn, other_scim.directory_id)] == [None]
    assert other_scim.get("/Users").status_code == 200


@pytest.mark.both_backends
def test_expired_revoked_and_wrong_links_get_the_same_not_found_page(database: Database, scim: Scim) -> None:
    """Each is a 404 page saying the link does not work, with nothing of the directory."""
    _, expired = new_link(database, scim.directory_id, timedelta(seconds=1))
    link_id, revoked = new_link(database, scim.directory_id)
    with database.write() as conn:
        revoke_link(conn, scim.directory_id, link_id)
        conn.execute(
            setup_links.update().where(setup_links.c.id != link_id).values(expires_at=setup_links.c.created_at)
        )
    for page in (expired, revoked, "/setup/scimgate_sl_guess", revoked + "/activity"):
        response = scim.client.get(page)
        assert response.status_code == 404, page
        assert "This setup link does not work" in response.text and "Contoso" not in response.text


def test_no_operator_action_is_reachable_from_a_link(database: Database, scim: Scim) -> None:
    """Disable, delete, other pages: nothing under the link answers but the page, its activity and its tokens."""
    _, page = new_link(database, scim.directory_id)
    csrf = form_token(scim.client, page)
    for path in ("", "/change", "/delete", "/links", "/users", f"/directories/{scim.directory_id}/change"):
        response = scim.client.post(page + path, data={"csrf": csrf, "action": "disable"})
        assert response.status_code in (404, 405), path
    assert scim.client.get(page + "/tokens").status_code == 405
    assert scim.get("/Users").status_code == 200  # still enabled
    # The page gives no admin session: the admin page still asks for the key.
    admin = scim.client.get("/admin/", follow_redirects=False)
    assert admin.status_code == 303 and admin.headers["location"].endswith("/login")
    assert scim.client.get("/api/v1/directories").status_code == 401


def test_the_live_panel_shows_requests_with_the_logs_explanation(database: Database, scim: Scim) -> None:
    """A refused create appears in the activity with its reason and advice; the checklist follows the data."""
    _, page = new_link(database, scim.directory_id)
    before = scim.client.get(page + "/activity").json()
    assert before["requests"] == [] and not any(item["done"] for item in before["checklist"])
    scim.create_user("adele@contoso.example")
    scim.post("/Users", {"schemas": [USER], "userName": "ADELE@contoso.example"})
    flush(scim.client)
    after = scim.client.get(page + "/activity").json()
    refused = after["requests"][0]
    assert refused["status"] == 409 and refused["request"] == "POST /Users"
    assert refused["reason"] == "user_name_taken" and refused["advice"]
    done = {item["key"]: item["done"] for item in after["checklist"]}
    assert done == {"connection_tested": True, "first_user": True, "first_group": False, "no_recent_failures": False}
    assert [u["user_name"] for u in after["users"]] == ["adele@contoso.example"]
    assert "user_name_taken" in scim.client.get(page).text


def test_the_server_log_never_holds_the_links_secret(
    database: Database, scim: Scim, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log writes /setup/… for the page and its activity: a log line opens nothing."""
    _, page = new_link(database, scim.directory_id)
    with caplog.at_level(logging.INFO, logger="scimgate.access"):
        scim.client.get(page)
        scim.client.get(page + "/activity")
    lines = [r.getMessage() for r in caplog.records if r.name == "scimgate.access"]
    assert [line.split()[1] for line in lines] == ["/setup/…", "/setup/…/activity"]
    assert page.split("/")[-1] not in caplog.text
