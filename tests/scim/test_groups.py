"""Groups: create, read, replace, delete and list; membership lives in its own table."""

from typing import Any

import pytest

from tests.helpers.scim import BASE_URL, Scim, load_sample

pytestmark = pytest.mark.both_backends

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_rfc_group_with_members_round_trips(scim: Scim) -> None:
    """RFC 7643 §8.4: a group created with two members reads back with both, with $ref and type; the members'
    display names (computed, returned: request) come when asked for."""
    babs = scim.create_user("bjensen@example.com", displayName="Babs Jensen")
    mandy = scim.create_user("mandy@example.com")
    sample = load_sample("rfc/rfc7643-8.4-group.json")
    sample["members"][0]["value"] = babs["id"]
    sample["members"][1]["value"] = mandy["id"]
    response = scim.post("/Groups", sample)
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("grp_") and created["displayName"] == "Tour Guides"
    assert response.headers["location"] == created["meta"]["location"]
    members = sorted(created["members"], key=lambda m: m["value"] == mandy["id"])
    assert members == [
        {"value": babs["id"], "$ref": f"{BASE_URL}{scim.base}/Users/{babs['id']}", "type": "User"},
        {"value": mandy["id"], "$ref": f"{BASE_URL}{scim.base}/Users/{mandy['id']}", "type": "User"},
    ]
    assert scim.get(f"/Groups/{created['id']}").json() == created
    named = scim.get(f"/Groups/{created['id']}?attributes=members.value,members.display").json()["members"]
    assert sorted((m["value"], m["display"]) for m in named) == sorted(
        [(babs["id"], "Babs Jensen"), (mandy["id"], "mandy@example.com")]
    )


def test_user_groups_is_derived_from_membership(scim: Scim) -> None:
    """A member's User.groups lists the group, read-only, with its display name."""
    user = scim.create_user("member@example.com")
    group = scim.create_group("Engineering", [user["id"]])
    groups = scim.get(f"/Users/{user['id']}").json()["groups"]
    assert groups == [
        {
            "value": group["id"],
            "$ref": f"{BASE_URL}{scim.base}/Groups/{group['id']}",
            "display": "Engineering",
            "type": "direct",
        }
    ]


def test_excluded_members_are_not_returned(scim: Scim) -> None:
    """excludedAttributes=members removes members from reads and lists (Entra's group reads always ask this)."""
    user = scim.create_user("m@example.com")
    group = scim.create_group("Sales", [user["id"]])
    read = scim.get(f"/Groups/{group['id']}?excludedAttributes=members").json()
    assert "members" not in read and read["displayName"] == "Sales"
    listed = scim.get('/Groups?excludedAttributes=members&filter=displayName eq "Sales"').json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


def test_unknown_member_fails_the_whole_create(scim: Scim) -> None:
    """A member id that is not a user or group of this directory is 400 invalidValue, and no group is created."""
    user = scim.create_user("real@example.com")
    response = scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "Mixed", "members": [{"value": user["id"]}, {"value": "usr_nope"}]},
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert scim.get('/Groups?filter=displayName eq "Mixed"').json()["totalResults"] == 0


def test_member_of_another_directory_is_refused_like_an_unknown_one(scim: Scim, other_scim: Scim) -> None:
    """Another directory's user id cannot be added; the error is the same as for an id that never existed."""
    foreign = other_scim.create_user("foreign@example.com")
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "G", "members": [{"value": foreign["id"]}]})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert "not users or groups of this directory" in response.json()["detail"]


def test_nested_group_member(scim: Scim) -> None:
    """A group can be a member of another group, typed Group."""
    child = scim.create_group("Child")
    parent = scim.create_group("Parent", [child["id"]])
    assert parent["members"][0]["type"] == "Group" and parent["members"][0]["value"] == child["id"]
    named = scim.get(f"/Groups/{parent['id']}?attributes=members.display").json()
    assert named["members"] == [{"display": "Child"}]


def test_put_replaces_members_by_difference(scim: Scim) -> None:
    """PUT with members sets exactly those members; without members it leaves membership alone."""
    a, b, c = (scim.create_user(f"{n}@example.com")["id"] for n in "abc")
    group = scim.create_group("Team", [a, b])
    replaced = scim.put(
        f"/Groups/{group['id']}", {"schemas": [GROUP], "displayName": "Team", "members": [{"value": b}, {"value": c}]}
    ).json()
    assert sorted(m["value"] for m in replaced["members"]) == sorted([b, c])
    renamed = scim.put(f"/Groups/{group['id']}", {"schemas": [GROUP], "displayName": "Team 2"}).json()
    assert renamed["displayName"] == "Team 2"
    assert sorted(m["value"] for m in renamed["members"]) == sorted([b, c])
    emptied = scim.put(f"/Groups/{group['id']}", {"schemas": [GROUP], "displayName": "Team 2", "members": []}).json()
    assert "members" not in emptied


def test_group_cannot_contain_itself(scim: Scim) -> None:
    """PUT listing the group as its own member is refused."""
    group = scim.create_group("Loop")
    response = scim.put(
        f"/Groups/{group['id']}", {"schemas": [GROUP], "displayName": "Loop", "members": [{"value": group["id"]}]}
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"


def test_deleting_a_user_removes_its_memberships(scim: Scim) -> None:
    """No membership points at a deleted user; the group's version moves."""
    a = scim.create_user("stay@example.com")["id"]
    b = scim.create_user("leave@example.com")["id"]
    group = scim.create_group("Ops", [a, b])
    scim.delete(f"/Users/{b}")
    after = scim.get(f"/Groups/{group['id']}").json()
    assert [m["value"] for m in after["members"]] == [a]
    assert after["meta"]["version"] != group["meta"]["version"]


def test_deleting_a_group_removes_it_from_users(scim: Scim) -> None:
    """After DELETE /Groups/{id}: 404 on the group, and the user's groups no longer list it."""
    user = scim.create_user("u@example.com")
    group = scim.create_group("Temp", [user["id"]])
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.get(f"/Groups/{group['id']}").status_code == 404
    assert "groups" not in scim.get(f"/Users/{user['id']}").json()


def test_group_display_name_is_required(scim: Scim) -> None:
    """A group without displayName is 400 invalidValue."""
    response = scim.post("/Groups", {"schemas": [GROUP], "externalId": "x"})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"


def test_group_paging(scim: Scim) -> None:
    """Groups page like users."""
    for i in range(5):
        scim.create_group(f"Group {i}")
    body: dict[str, Any] = scim.get("/Groups?startIndex=4&count=10").json()
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 4, 2)
    assert [g["displayName"] for g in body["Resources"]] == ["Group 3", "Group 4"]


def test_urn_qualified_members_are_checked_like_members(scim: Scim, other_scim: Scim) -> None:
    """urn:…:Group:members is members: an unknown or foreign id is refused, a real one becomes a membership."""
    foreign = other_scim.create_user("f@example.com")["id"]
    refused = scim.post("/Groups", {"displayName": "Q", f"{GROUP}:members": [{"value": foreign}]})
    assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
    user = scim.create_user("q@example.com")["id"]
    created = scim.post("/Groups", {"displayName": "Q", f"{GROUP}:members": [{"value": user}]}).json()
    assert [m["value"] for m in created["members"]] == [user]
    assert scim.get(f'/Groups?filter=members eq "{user}"').json()["totalResults"] == 1


def test_member_keys_differing_only_in_case_are_refused(scim: Scim) -> None:
    """{"value": A, "Value": B} is ambiguous: 400, not a guess."""
    a, b = scim.create_user("ka@example.com")["id"], scim.create_user("kb@example.com")["id"]
    response = scim.post("/Groups", {"displayName": "K", "members": [{"value": a, "Value": b}]})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"


def test_excluded_members_never_reads_the_membership_table(scim: Scim, database: Any) -> None:
    """GET /Groups/{id}?excludedAttributes=members and the Entra list query send no SQL to group_members."""
    import sqlalchemy as sa

    user = scim.create_user("ex@example.com")["id"]
    group = scim.create_group("Big", [user])["id"]
    statements: list[str] = []

    def record(_c: Any, _cu: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        scim.get(f"/Groups/{group}?excludedAttributes=members")
        scim.get('/Groups?excludedAttributes=members&filter=displayName eq "Big"')
        scim.get(f"/Groups/{group}?attributes=displayName")
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    assert statements and not any("group_members" in s for s in statements)
