"""Setup links on the admin page: a button on the directory page, the URL shown once, the list, revoking."""

import re

from starlette.testclient import TestClient

from tests.helpers.admin import sign_in
from tests.helpers.scim import BASE_URL, Scim


def test_the_directory_page_makes_a_link_shown_once_then_listed_and_revoked(app_client: TestClient, scim: Scim) -> None:
    """Create a setup link from the directory page: its URL opens the setup page; the list shows its last use and
    not the URL; revoking stops it."""
    csrf = sign_in(app_client)
    page = app_client.get(f"/admin/directories/{scim.directory_id}").text
    assert 'id="create-link"' in page
    made = app_client.post(f"/admin/directories/{scim.directory_id}/links", data={"csrf": csrf, "days": "1"})
    assert made.status_code == 200
    found = re.search(r'<code class="token">([^<]+)</code>', made.text)
    assert found is not None and found.group(1).startswith(f"{BASE_URL}/setup/scimgate_sl_")
    url = found.group(1)
    path = url[len(BASE_URL) :]
    assert TestClient(app_client.app, base_url=BASE_URL).get(path).status_code == 200
    listed = app_client.get(f"/admin/directories/{scim.directory_id}/links").text
    assert url not in listed and "never" not in listed.split('id="links"')[1].split("</table>")[0]
    link_id = re.search(r"<small>(lnk_[0-9a-z]+)</small>", listed)
    assert link_id is not None
    revoke = f"/admin/directories/{scim.directory_id}/links/{link_id.group(1)}/revoke"
    assert app_client.post(revoke, data={"csrf": csrf}).status_code == 200  # redirected to the list
    assert TestClient(app_client.app, base_url=BASE_URL).get(path).status_code == 404
    assert (
        '<td class="link-status">revoked</td>' in app_client.get(f"/admin/directories/{scim.directory_id}/links").text
    )


def test_making_a_link_needs_the_session_and_its_csrf_token(app_client: TestClient, scim: Scim) -> None:
    """No session: the sign-in page; a wrong CSRF token: 403; neither makes a link."""
    path = f"/admin/directories/{scim.directory_id}/links"
    anonymous = app_client.post(path, data={"days": "7"}, follow_redirects=False)
    assert anonymous.status_code == 303
    sign_in(app_client)
    assert app_client.post(path, data={"csrf": "wrong", "days": "7"}).status_code == 403
    assert "No setup links." in app_client.get(path).text
