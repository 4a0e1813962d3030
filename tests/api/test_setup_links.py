"""``/api/v1/directories/{id}/setup-links``: the operator makes, lists and revokes a directory's setup links."""

import pytest
from starlette.testclient import TestClient

from scimgate.tokens import display_prefix
from tests.helpers.scim import BASE_URL, Api, Scim


@pytest.mark.both_backends
def test_a_link_is_shown_once_listed_with_its_last_use_and_revoked(api: Api, scim: Scim) -> None:
    """The URL comes back once; the list shows the prefix and last use, never the URL; revoking stops the page."""
    made = api.post(f"/directories/{scim.directory_id}/setup-links", {"expires_in_seconds": 3600})
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert url.startswith(f"{BASE_URL}/setup/scimgate_sl_")
    client: TestClient = scim.client
    path = url[len(BASE_URL) :]
    assert client.get(path).status_code == 200
    listed = api.get(f"/directories/{scim.directory_id}/setup-links").json()
    assert [(link["id"], link["status"]) for link in listed] == [(made.json()["id"], "active")]
    assert listed[0]["last_used_at"] is not None and url.split("/")[-1] not in str(listed)
    revoked = api.delete(f"/directories/{scim.directory_id}/setup-links/{made.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.get(path).status_code == 404


@pytest.mark.both_backends
def test_a_link_of_one_directory_cannot_be_revoked_through_another(api: Api, scim: Scim, other_scim: Scim) -> None:
    """Revoking names the directory: another directory's path finds no such link, and the link keeps working."""
    made = api.post(f"/directories/{scim.directory_id}/setup-links").json()
    assert api.delete(f"/directories/{other_scim.directory_id}/setup-links/{made['id']}").status_code == 404
    assert scim.client.get(made["url"][len(BASE_URL) :]).status_code == 200


def test_links_need_the_operator_key_and_a_bounded_lifetime(api: Api, scim: Scim) -> None:
    """No key: 401. More than 30 days: 422. An unknown directory: 404."""
    path = f"/directories/{scim.directory_id}/setup-links"
    assert scim.client.post("/api/v1" + path, json={}).status_code == 401
    assert scim.client.post("/api/v1" + path, json={}, headers=scim.headers()).status_code == 401
    assert api.post(path, {"expires_in_seconds": 31 * 86400}).status_code == 422
    assert api.post("/directories/dir_nothere/setup-links").status_code == 404


def test_a_link_secret_given_for_its_id_is_not_repeated(api: Api, scim: Scim) -> None:
    """Revoking with the URL's secret where the link's id goes: 404, and the problem shows its kind and four
    characters, not the 48 it used to (a setup link's secret is 55)."""
    secret = api.post(f"/directories/{scim.directory_id}/setup-links").json()["url"].rsplit("/", 1)[1]
    answer = api.delete(f"/directories/{scim.directory_id}/setup-links/{secret}")
    assert answer.status_code == 404
    assert display_prefix(secret) + "…" in answer.text and secret[: len(display_prefix(secret)) + 1] not in answer.text
