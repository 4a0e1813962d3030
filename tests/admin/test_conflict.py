"""A 409 in the log links the resource holding the name and shows, side by side, the fields that differ."""

import re

import pytest
from starlette.testclient import TestClient

from scimgate.admin.conflict import Difference, differences
from tests.helpers.admin import sign_in
from tests.helpers.scim import PATCH_OP, Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def conflict_entry(app_client: TestClient, scim: Scim) -> str:
    flush(scim.client)
    page = app_client.get("/admin/log", params={"directory": scim.directory_id, "status": "409"}).text
    links = re.findall(r'href="(/admin/log/req_[0-9a-z]+)"', page)
    assert len(links) == 1
    return app_client.get(links[0]).text


def rows(html: str) -> list[tuple[str, str, str]]:
    table = re.search(r'<table class="wrap" id="differences">(.*?)</table>', html, re.S)
    assert table is not None
    cells = re.findall(r"<tr><th><code>(.*?)</code></th><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1))
    return [(field, re.sub("<[^>]+>", "", sent), re.sub("<[^>]+>", "", stored)) for field, sent, stored in cells]


@pytest.mark.both_backends
def test_a_refused_creation_links_the_user_holding_the_username_and_shows_what_differs(
    app_client: TestClient, scim: Scim
) -> None:
    """Microsoft's sample: AdeleV is re-created with another externalId and a new given name."""
    sign_in(app_client)
    adele = scim.create_user(
        "AdeleV@contoso.example", externalId="AdeleVance", name={"givenName": "Adele", "familyName": "Vance"}
    )
    scim.post(
        "/Users",
        {
            "schemas": [USER],
            "userName": "AdeleV@contoso.example",
            "externalId": "AdeleVance2",
            "name": {"givenName": "Adele J", "familyName": "Vance"},
            "title": "Retail Manager",
        },
    )
    entry = conflict_entry(app_client, scim)
    assert f'href="/admin/directories/{scim.directory_id}/users/{adele["id"]}"' in entry
    assert rows(entry) == [
        ("externalId", "AdeleVance2", "AdeleVance"),
        ("name.givenName", "Adele J", "Adele"),
        ("title", "Retail Manager", "not stored"),
    ]


@pytest.mark.both_backends
def test_a_refused_rename_of_a_group_links_the_group_holding_the_name(app_client: TestClient, scim: Scim) -> None:
    """A PATCH renaming a group to a taken displayName: the holder is linked; only the name is compared."""
    sign_in(app_client)
    held = scim.create_group("Sales")
    other = scim.create_group("Marketing")
    operation = {"op": "replace", "path": "displayName", "value": "SALES"}
    answer = scim.client.patch(
        f"{scim.base}/Groups/{other['id']}",
        json={"schemas": [PATCH_OP], "Operations": [operation]},
        headers=scim.headers(),
    )
    assert answer.status_code == 409
    entry = conflict_entry(app_client, scim)
    assert f'href="/admin/directories/{scim.directory_id}/groups/{held["id"]}"' in entry
    assert rows(entry) == [("displayName", "SALES", "Sales")]


def test_fields_compare_by_name_whatever_their_case_and_lists_whole() -> None:
    """`emails` differs whole; `USERNAME` is `userName`; schemas, password and what was not sent never show."""
    sent = {"schemas": [USER], "USERNAME": "a@x.example", "password": "[redacted]", "emails": [{"value": "a@x"}]}
    stored = {"schemas": [USER], "userName": "a@x.example", "emails": [{"value": "b@x"}], "active": True}
    assert differences(sent, stored) == [Difference("emails", '[{"value": "a@x"}]', '[{"value": "b@x"}]')]
