"""Regression tests for what the write-path review found (PATCH, Bulk, ETags)."""

from typing import Any

import pytest

from tests.helpers.scim import Scim, assert_scim_error, patch


@pytest.mark.parametrize("path", ['members[value eq "x"', "members[", 'members[value eq "x"]]', "members.value"])
def test_malformed_or_sub_attribute_members_paths_are_invalid_path(scim: Scim, path: str) -> None:
    """Not a 500, and nothing changes."""
    user = scim.create_user("m@example.com")["id"]
    group = scim.create_group("G", [user])
    assert_scim_error(patch(scim, f"/Groups/{group['id']}", {"op": "remove", "path": path}), 400, "invalidPath")
    assert scim.get(f"/Groups/{group['id']}").json() == group


def test_a_bad_operation_in_bulk_fails_alone(scim: Scim) -> None:
    """A malformed members path inside /Bulk is that operation's 400; the others are reported as done."""
    response = scim.post(
        "/Bulk",
        {
            "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
                {
                    "method": "PATCH",
                    "path": "/Groups/bulkId:g",
                    "data": {"Operations": [{"op": "remove", "path": "members["}]},
                },
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "after"}},
            ]
        },
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "400", "201"]
    assert results[1]["response"]["scimType"] == "invalidPath"
    assert scim.get('/Users?filter=userName eq "after"').json()["totalResults"] == 1


def test_bulk_version_must_be_a_string(scim: Scim) -> None:
    """A numeric version would silently drop the condition: refused."""
    response = scim.post("/Bulk", {"Operations": [{"method": "DELETE", "path": "/Users/usr_x", "version": 3}]})
    assert_scim_error(response, 400, "invalidValue")


def test_primary_set_through_a_filter_moves_the_primary(scim: Scim) -> None:
    """RFC 7643 §2.4: making the home email primary takes primary away from the work email."""
    user = scim.create_user(
        "p@example.com",
        emails=[{"value": "w@x.example", "type": "work", "primary": True}, {"value": "h@x.example", "type": "home"}],
    )["id"]
    body = patch(scim, f"/Users/{user}", {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
    assert body.status_code == 200
    assert body.json()["emails"] == [
        {"value": "w@x.example", "type": "work"},
        {"value": "h@x.example", "type": "home", "primary": True},
    ]


def test_complex_values_merge_and_null_clears_one_sub_attribute(scim: Scim) -> None:
    """replace name {givenName: null} clears givenName only; unknown sub-attributes are skipped, not destructive."""
    user = scim.create_user("c@example.com", name={"givenName": "G", "familyName": "F"})["id"]
    assert patch(scim, f"/Users/{user}", {"op": "replace", "path": "name", "value": {"givenName": None}}).json()[
        "name"
    ] == {"familyName": "F"}
    assert patch(scim, f"/Users/{user}", {"op": "add", "path": "name", "value": {"bogus": "x"}}).json()["name"] == {
        "familyName": "F"
    }
    assert patch(
        scim, f"/Users/{user}", {"op": "replace", "value": {"name": {"givenName": "N", "familyName": None}}}
    ).json()["name"] == {"givenName": "N"}


def test_sub_attribute_of_every_value(scim: Scim) -> None:
    """remove emails.primary takes primary off every email, and keeps the emails."""
    user = scim.create_user("s@example.com", emails=[{"value": "a@x.example", "type": "work", "primary": True}])["id"]
    body = patch(scim, f"/Users/{user}", {"op": "remove", "path": "emails.primary"}).json()
    assert body["emails"] == [{"value": "a@x.example", "type": "work"}]


@pytest.mark.both_backends
def test_remove_by_value_matches_the_stored_value(scim: Scim) -> None:
    """Entra's remove with a value array names values, not whole stored objects; roles JSON strings too."""
    user = scim.create_user(
        "r@example.com",
        emails=[{"value": "w@x.example", "type": "work", "primary": True}, {"value": "o@x.example", "type": "other"}],
    )["id"]
    body = patch(scim, f"/Users/{user}", {"op": "remove", "path": "emails", "value": [{"value": "w@x.example"}]})
    assert body.json()["emails"] == [{"value": "o@x.example", "type": "other"}]
    role = {"value": '{"id":"06b","value":"25","displayName":"Role1234"}'}
    assert patch(scim, f"/Users/{user}", {"op": "Add", "path": "roles", "value": [role]}).json()["roles"] == [
        {"value": "25", "display": "Role1234"}
    ]
    assert "roles" not in patch(scim, f"/Users/{user}", {"op": "Remove", "path": "roles", "value": [role]}).json()


def test_adding_a_present_value_adds_no_duplicate(scim: Scim) -> None:
    """The same email (value and type) added again, even without its primary flag, is not added twice."""
    user = scim.create_user("d@example.com", emails=[{"value": "w@x.example", "type": "work", "primary": True}])["id"]
    body = patch(
        scim, f"/Users/{user}", {"op": "add", "path": "emails", "value": [{"value": "w@x.example", "type": "work"}]}
    ).json()
    assert body["emails"] == [{"value": "w@x.example", "type": "work", "primary": True}]


@pytest.mark.parametrize(
    "path", ["urn:ietf:params:scim:schemas:core:2.0:User:id", "urn:ietf:params:scim:schemas:core:2.0:User:meta.created"]
)
def test_urn_qualified_server_owned_attributes(scim: Scim, path: str) -> None:
    """id and meta are mutability errors however they are spelled."""
    user = scim.create_user("u@example.com")["id"]
    assert_scim_error(patch(scim, f"/Users/{user}", {"op": "add", "path": path, "value": "x"}), 400, "mutability")


def test_adding_an_empty_extension_changes_nothing(scim: Scim) -> None:
    """add {} to the enterprise extension is not a removal."""
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    user = scim.create_user("e@example.com", **{enterprise: {"department": "D"}})["id"]
    body = patch(scim, f"/Users/{user}", {"op": "add", "path": enterprise, "value": {}}).json()
    assert body[enterprise] == {"department": "D"}


def test_case_duplicate_keys_in_a_no_path_value(scim: Scim) -> None:
    """{"userName": …, "USERNAME": …} is refused as on POST."""
    user = scim.create_user("k@example.com")["id"]
    response = patch(scim, f"/Users/{user}", {"op": "replace", "value": {"userName": "a", "USERNAME": "b"}})
    assert_scim_error(response, 400, "invalidSyntax")


def test_long_if_match_is_not_echoed(scim: Scim) -> None:
    """A 10 kB If-Match header is quoted only as a short excerpt in the 412."""
    user = scim.create_user("l@example.com")["id"]
    response = patch(
        scim,
        f"/Users/{user}",
        {"op": "add", "path": "title", "value": "t"},
        headers={"If-Match": '"' + "x" * 10_000 + '"'},
    )
    assert len(assert_scim_error(response, 412)["detail"]) < 300


@pytest.mark.both_backends
def test_member_lists_longer_than_postgresql_parameters(scim: Scim, settings: Any) -> None:
    """70,000 member ids in one removal (over PostgreSQL's 65,535 parameters) work on both backends."""
    settings.max_body_bytes = 4_000_000
    user = scim.create_user("keep@example.com")["id"]
    group = scim.create_group("Huge", [user])["id"]
    ids = [{"value": f"usr_{i:06d}"} for i in range(70_000)]
    assert patch(scim, f"/Groups/{group}", {"op": "remove", "path": "members", "value": ids}).status_code == 204
    assert [m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]] == [user]
