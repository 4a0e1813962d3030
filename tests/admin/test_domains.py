"""The admin page's email domains: the directory page lists them with their TXT record and sets the policy; a
user outside the verified domains carries a warning on its page."""

from starlette.testclient import TestClient

from scimgate.directories.domains import add_domain, get_policy, mark_verified
from scimgate.store.database import Database
from tests.helpers.admin import sign_in
from tests.helpers.scim import Scim


def test_the_directory_page_lists_domains_and_sets_the_policy(
    app_client: TestClient, database: Database, scim: Scim
) -> None:
    """A declared domain shows its record; the flag button sets the policy (CSRF checked) and the page says so."""
    with database.write() as conn:
        record = add_domain(conn, scim.directory_id, "example.com").record_value
    csrf = sign_in(app_client)
    page = app_client.get(f"/admin/directories/{scim.directory_id}").text
    assert "_scimgate.example.com" in page and record in page and "not checked (policy off)" in page
    path = f"/admin/directories/{scim.directory_id}/change"
    assert app_client.post(path, data={"action": "policy-flag"}).status_code == 403
    assert app_client.post(path, data={"csrf": csrf, "action": "policy-flag"}).status_code == 200
    with database.read() as conn:
        assert get_policy(conn, scim.directory_id) == "flag"
    assert "accepted and flagged" in app_client.get(f"/admin/directories/{scim.directory_id}").text


def test_a_flagged_user_carries_a_warning_on_its_page(app_client: TestClient, database: Database, scim: Scim) -> None:
    """Under flag, the user at another company's domain is marked; the one inside is not."""
    with database.write() as conn:
        add_domain(conn, scim.directory_id, "example.com")
        mark_verified(conn, scim.directory_id, "example.com")
    csrf = sign_in(app_client)
    app_client.post(f"/admin/directories/{scim.directory_id}/change", data={"csrf": csrf, "action": "policy-flag"})
    outside = scim.create_user("ceo@othercompany.com")
    inside = scim.create_user("ada@example.com")
    base = f"/admin/directories/{scim.directory_id}/users"
    assert 'id="domain-warning"' in app_client.get(f"{base}/{outside['id']}").text
    assert 'id="domain-warning"' not in app_client.get(f"{base}/{inside['id']}").text
