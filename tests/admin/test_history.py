"""A user's and a group's admin page list the requests about them (the provisioning log) and their events."""

import re

import pytest
from starlette.testclient import TestClient

from tests.helpers.admin import sign_in
from tests.helpers.scim import PATCH_OP, Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def section(html: str, table_id: str) -> str:
    found = re.search(rf'<table class="wrap" id="{table_id}">(.*?)</table>', html, re.S)
    assert found is not None, table_id
    return found.group(1)


@pytest.mark.both_backends
def test_a_users_page_lists_its_requests_by_id_and_by_what_the_idp_looked_it_up_by(
    app_client: TestClient, scim: Scim
) -> None:
    """The lookup by userName before the user existed, its creation, a refused duplicate (by userName) and a PATCH
    by id are listed; another user's requests are not."""
    sign_in(app_client)
    scim.get('/Users?filter=userName eq "AdeleV@contoso.example"')
    adele = scim.create_user("AdeleV@contoso.example", externalId="AdeleVance")
    scim.post("/Users", {"schemas": [USER], "userName": "adelev@contoso.example", "externalId": "AdeleVance2"})
    scim.client.patch(
        f"{scim.base}/Users/{adele['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers=scim.headers(),
    )
    other = scim.create_user("someone@contoso.example")
    scim.get(f"/Users/{other['id']}")
    flush(scim.client)
    page = app_client.get(f"/admin/directories/{scim.directory_id}/users/{adele['id']}").text
    rows = section(page, "requests")
    assert rows.count("<tr class=") == 4 and "someone@" not in rows and other["id"] not in rows
    assert "GET /Users?filter=userName eq" in rows and f"PATCH /Users/{adele['id']}" in rows
    assert "user_name_taken" in rows and rows.count("POST /Users") == 2


@pytest.mark.both_backends
def test_a_groups_page_lists_its_requests_but_not_those_of_a_group_sharing_a_word(
    app_client: TestClient, scim: Scim
) -> None:
    """ "Sales" and "Sales Team" share the indexed word "sales": each page lists its own requests only."""
    sign_in(app_client)
    sales = scim.create_group("Sales")
    team = scim.create_group("Sales Team")
    scim.get('/Groups?filter=displayName eq "Sales Team"')
    flush(scim.client)
    rows = section(app_client.get(f"/admin/directories/{scim.directory_id}/groups/{sales['id']}").text, "requests")
    assert rows.count("<tr class=") == 1 and team["id"] not in rows
    rows = section(app_client.get(f"/admin/directories/{scim.directory_id}/groups/{team['id']}").text, "requests")
    assert rows.count("<tr class=") == 2 and "displayName eq" in rows


@pytest.mark.both_backends
def test_the_pages_list_their_events(app_client: TestClient, scim: Scim) -> None:
    """The user's page has its creation, its update (with the changed field) and joining a group (named); the
    group's page has its creation and the member it gained."""
    sign_in(app_client)
    user = scim.create_user("lee@contoso.example")
    scim.create_user("another@contoso.example")
    scim.client.patch(
        f"{scim.base}/Users/{user['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Lee G"}]},
        headers=scim.headers(),
    )
    group = scim.create_group("Engineering", members=[user["id"]])
    user_rows = section(
        app_client.get(f"/admin/directories/{scim.directory_id}/users/{user['id']}").text, "resource-events"
    )
    assert [t for t in re.findall(r"<code>([a-z._]+)</code>", user_rows)] == [
        "group.user_added",
        "user.updated",
        "user.created",
    ]
    assert "to group <strong>Engineering</strong>" in user_rows and "changed: displayName" in user_rows
    group_rows = section(
        app_client.get(f"/admin/directories/{scim.directory_id}/groups/{group['id']}").text, "resource-events"
    )
    assert "group.created" in group_rows and "added <strong>lee@contoso.example</strong>" in group_rows
    assert "another@" not in group_rows
