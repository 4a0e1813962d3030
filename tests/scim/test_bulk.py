"""Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, limits."""

from typing import Any

import pytest

from scimgate.scim import bulk as bulk_module
from tests.helpers.scim import Scim, assert_scim_error

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def bulk(scim: Scim, *operations: dict[str, Any], **extra: Any) -> Any:
    return scim.post("/Bulk", {"schemas": [BULK], "Operations": list(operations), **extra})


@pytest.mark.both_backends
def test_group_created_before_its_members_in_one_request(scim: Scim) -> None:
    """RFC 7644 §3.7.2: a group referring to users by bulkId, sent first, is created after them with both members."""
    response = bulk(
        scim,
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {
                "schemas": [GROUP],
                "displayName": "Tour Guides",
                "members": [{"type": "User", "value": "bulkId:u1"}, {"type": "User", "value": "bulkId:u2"}],
            },
        },
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "alice"}},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [USER], "userName": "bob"}},
        {
            "method": "PATCH",
            "path": "/Users/bulkId:u1",
            "data": {"Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]
    results = body["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "201", "200"]
    assert [r.get("bulkId") for r in results] == ["g", "u1", "u2", None]
    group = scim.client.get(results[0]["location"], headers=scim.headers()).json()
    users = {scim.client.get(r["location"], headers=scim.headers()).json()["userName"]: r for r in results[1:3]}
    assert sorted(m["value"] for m in group["members"]) == sorted(
        r["location"].rsplit("/", 1)[1] for r in users.values()
    )
    assert scim.client.get(users["alice"]["location"], headers=scim.headers()).json()["active"] is False


@pytest.mark.both_backends
def test_errors_are_per_operation_and_fail_on_errors_stops(scim: Scim) -> None:
    """A failing operation reports its SCIM error; after failOnErrors errors the rest are not processed."""
    scim.create_user("taken")
    response = bulk(
        scim,
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
        {"method": "DELETE", "path": "/Users/usr_missing"},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "never-created"}},
        failOnErrors=2,
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["409", "404"]
    assert results[0]["response"]["scimType"] == "uniqueness"
    assert scim.get('/Users?filter=userName eq "never-created"').json()["totalResults"] == 0


@pytest.mark.both_backends
def test_circular_and_unknown_references_fail_with_409(scim: Scim) -> None:
    """Two groups each naming the other as a member, and a reference to a bulkId nobody creates."""
    response = bulk(
        scim,
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "x",
            "data": {"displayName": "X", "members": [{"value": "bulkId:y"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "y",
            "data": {"displayName": "Y", "members": [{"value": "bulkId:x"}]},
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:nobody",
            "data": {"Operations": [{"op": "add", "path": "title", "value": "t"}]},
        },
    )
    assert [r["status"] for r in response.json()["Operations"]] == ["409", "409", "409"]
    assert scim.get("/Groups").json()["totalResults"] == 0


def test_limits(scim: Scim, settings: Any) -> None:
    """More operations than maxOperations is 413; both limits are advertised."""
    settings.max_bulk_operations = 2
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": {"userName": f"b{i}"}} for i in range(3)]
    assert_scim_error(bulk(scim, *ops), 413)
    assert scim.get("/Users").json()["totalResults"] == 0
    advertised = scim.get("/ServiceProviderConfig").json()["bulk"]
    assert advertised == {"supported": True, "maxOperations": 2, "maxPayloadSize": 1048576}


def test_malformed_bulk_requests(scim: Scim) -> None:
    """Bad methods, paths, missing bulkIds and duplicate bulkIds are refused before anything runs."""
    for operation in (
        {"method": "GET", "path": "/Users"},
        {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}},
        {"method": "POST", "path": "/Printers", "bulkId": "p", "data": {}},
    ):
        response = bulk(scim, operation)
        if response.status_code == 200:
            assert response.json()["Operations"][0]["status"] == "400"
        else:
            assert_scim_error(response, 400, "invalidValue")
    duplicate = {"method": "POST", "path": "/Users", "bulkId": "d", "data": {"userName": "d"}}
    assert_scim_error(bulk(scim, duplicate, duplicate), 400, "invalidValue")
    assert scim.get("/Users").json()["totalResults"] == 0


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _chained_request(size: int) -> list[dict[str, Any]]:
    """``size`` users, each the manager of the one before it, and ``size`` groups, each holding its user and the
    next group: everything is listed before what it refers to, so each operation waits for one created later
    (``size`` * 2 rounds of reference resolution)."""
    groups = [
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": f"g{i}",
            "data": {
                "displayName": f"Contoso team {i}",
                "members": [{"value": f"bulkId:u{i}"}] + ([{"value": f"bulkId:g{i + 1}"}] if i + 1 < size else []),
            },
        }
        for i in range(size)
    ]
    users = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{i}",
            "data": {"userName": f"user{i}@contoso.example"}
            | ({ENTERPRISE: {"manager": {"value": f"bulkId:u{i + 1}"}}} if i + 1 < size else {}),
        }
        for i in range(size)
    ]
    return groups + users


def _values(value: Any) -> int:
    """How many JSON values (objects, arrays, scalars) a document holds."""
    if isinstance(value, dict):
        return 1 + sum(_values(item) for item in value.values())
    if isinstance(value, list):
        return 1 + sum(_values(item) for item in value)
    return 1


def test_a_thousand_chained_operations_resolve_in_linear_work(
    scim: Scim, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20, finding 13: reference resolution looked at every pending operation again in every round, so a
    request whose operations each wait for the next took quadratic work (one 1 MB request: 33 s of CPU). Now each
    value of the request is searched for bulkId references once, however many rounds the references take."""
    operations = _chained_request(500)
    looked_at = 0
    walk = bulk_module._collect

    def counting(value: Any, found: set[str]) -> None:
        nonlocal looked_at
        looked_at += 1
        walk(value, found)

    monkeypatch.setattr(bulk_module, "_collect", counting)
    response = bulk(scim, *operations)
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201"] * 1000
    assert looked_at <= sum(_values(op["data"]) for op in operations)
    first = scim.get('/Groups?filter=displayName eq "Contoso team 0"').json()["Resources"][0]
    team = scim.get(f"/Groups/{first['id']}").json()
    assert len(team["members"]) == 2
    user = scim.get(f"/Users/{results[500]['location'].rsplit('/', 1)[1]}").json()
    assert user[ENTERPRISE]["manager"]["value"] == results[501]["location"].rsplit("/", 1)[1]
