"""``/api/v1/log``: the provisioning log searched as on the admin page."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.scim import Api, Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.both_backends
def test_the_api_finds_a_username_s_409_and_its_detail(api: Api, scim: Scim) -> None:
    """Search by userName with status 409: one entry, with the directory's name, the path after the directory and
    the target; its detail has the redacted bodies."""
    scim.create_user("adele@contoso.example", externalId="AdeleVance")
    scim.post("/Users", {"schemas": [USER], "userName": "adele@contoso.example", "externalId": "AdeleVance2"})
    flush(scim.client)
    answer = api.get("/log", params={"q": "Adele@Contoso.example", "status": "409"})
    assert answer.status_code == 200, answer.text
    (entry,) = answer.json()["data"]
    assert (entry["directory_name"], entry["request"], entry["target"]) == (
        "Contoso",
        "/Users",
        "adele@contoso.example",
    )
    assert entry["method"] == "POST" and entry["reason"] == "user_name_taken"
    detail = api.get(f"/log/{entry['id']}").json()
    assert "AdeleVance2" in detail["request_body"] and detail["bodies_kept"] is True
    assert api.get("/log", params={"q": "adele@contoso.example"}).json()["data"][1]["status"] == 201


@pytest.mark.both_backends
def test_the_api_combines_directory_time_and_paging(api: Api, scim: Scim, other_scim: Scim) -> None:
    """A directory, a time range and ``before`` narrow and page the search."""
    for n in range(3):
        scim.get(f'/Users?filter=externalId eq "E-{n}"')
    other_scim.get('/Users?filter=externalId eq "E-0"')
    flush(scim.client)
    assert len(api.get("/log", params={"q": "e-0"}).json()["data"]) == 2
    mine = api.get("/log", params={"q": "e-", "directory_id": scim.directory_id, "limit": 2}).json()
    assert [e["request"] for e in mine["data"]] == [
        '/Users?filter=externalId eq "E-2"',
        '/Users?filter=externalId eq "E-1"',
    ]
    rest = api.get("/log", params={"q": "e-", "directory_id": scim.directory_id, "before": mine["next_before"]})
    assert [e["request"] for e in rest.json()["data"]] == ['/Users?filter=externalId eq "E-0"']
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert api.get("/log", params={"q": "e-0", "since": later}).json()["data"] == []


def test_the_api_refuses_what_it_cannot_search(api: Api) -> None:
    """An unknown status word, an unknown resource type or an unknown entry: 422 and 404, as problem documents."""
    assert api.get("/log", params={"status": "broken"}).status_code == 422
    assert api.get("/log", params={"resource": "Widget"}).status_code == 422
    missing = api.get("/log/req_missing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


@pytest.mark.both_backends
def test_the_api_searches_credential_failures_by_cause(api: Api, scim: Scim) -> None:
    """The statuses a banner links the admin page's log with also search the API: a mistyped token is among the
    credential_unknown refusals, not the credential_setup ones (which count toward quarantine)."""
    mistyped = {"Authorization": "Bearer scimgate_mistyped0000000000000000000000000"}
    assert scim.client.get(f"{scim.base}/Users", headers=mistyped).status_code == 401
    scim.get("/Users")
    flush(scim.client)
    unknown = api.get("/log", params={"status": "credential_unknown"})
    assert unknown.status_code == 200, unknown.text
    assert [(e["status"], e["reason"]) for e in unknown.json()["data"]] == [(401, "unknown_token")]
    assert api.get("/log", params={"status": "credential_setup"}).json()["data"] == []


@pytest.mark.both_backends
def test_status_ignored_finds_only_requests_accepted_without_something(api: Api, scim: Scim) -> None:
    """``status=ignored``: the successes tolerant mode accepted without an unknown attribute, not every success
    (an entry with nothing ignored used to be stored as JSON ``null``, which ``IS NOT NULL`` matched)."""
    scim.create_user("plain@contoso.example")
    scim.post("/Users", {"schemas": [USER], "userName": "odd@contoso.example", "favouriteColour": "teal"})
    flush(scim.client)
    found = api.get("/log", params={"status": "ignored", "directory_id": scim.directory_id}).json()["data"]
    assert [entry["target"] for entry in found] == ["odd@contoso.example"]
