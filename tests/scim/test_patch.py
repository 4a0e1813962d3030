"""PATCH semantics (RFC 7644 §3.5.2): the RFC's examples, mutability, atomicity, errors, membership, ETags."""

import json
import logging
from typing import Any

import pytest

from tests.helpers.scim import Scim, assert_scim_error, patch

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.both_backends
def test_rfc_7644_add_member_example(scim: Scim) -> None:
    """§3.5.2.1: add a member to a group."""
    user = scim.create_user("babs@example.com")["id"]
    group = scim.create_group("Tour Guides")["id"]
    response = patch(
        scim,
        f"/Groups/{group}",
        {
            "op": "add",
            "path": "members",
            "value": [{"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{user}", "value": user}],
        },
    )
    assert response.status_code == 204 and response.content == b"" and response.headers["etag"] == 'W/"2"'
    assert [m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]] == [user]


def test_rfc_7644_add_emails_and_nickname_without_path(scim: Scim) -> None:
    """§3.5.2.1: no-path add of an object appends emails and sets nickName."""
    user = scim.create_user("b@example.com", emails=[{"value": "b@example.com", "type": "work"}])["id"]
    response = patch(
        scim,
        f"/Users/{user}",
        {"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["nickName"] == "Babs"
    assert body["emails"] == [{"value": "b@example.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}]


@pytest.mark.both_backends
def test_rfc_7644_remove_examples(scim: Scim) -> None:
    """§3.5.2.2: remove one member by filter, a sub-attribute by filter, and all members."""
    a, b = scim.create_user("a@example.com")["id"], scim.create_user("b@example.com")["id"]
    group = scim.create_group("G", [a, b])["id"]
    assert patch(scim, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{a}"]'}).status_code == 204
    assert [m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]] == [b]
    assert patch(scim, f"/Groups/{group}", {"op": "remove", "path": "members"}).status_code == 204
    assert "members" not in scim.get(f"/Groups/{group}").json()
    user = scim.create_user("c@example.com", emails=[{"value": "c@x.example", "type": "work", "primary": True}])["id"]
    body = patch(scim, f"/Users/{user}", {"op": "remove", "path": 'emails[type eq "work"].primary'}).json()
    assert body["emails"] == [{"value": "c@x.example", "type": "work"}]


def test_emptying_a_group_is_logged_loudly(scim: Scim, caplog: pytest.LogCaptureFixture) -> None:
    """D13: a value-less remove of members empties the group (RFC) and leaves a warning naming the group."""
    a, b = scim.create_user("a@example.com")["id"], scim.create_user("b@example.com")["id"]
    group = scim.create_group("G", [a, b])["id"]
    with caplog.at_level(logging.WARNING, logger="scimgate.scim"):
        # Replacing the members with some of them removes the rest but does not empty the group: no warning.
        replace = {"op": "replace", "path": "members", "value": [{"value": b}]}
        assert patch(scim, f"/Groups/{group}", replace).status_code == 204
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert patch(scim, f"/Groups/{group}", {"op": "remove", "path": "members"}).status_code == 204
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert group in warning and "all 1 members removed" in warning


def test_rfc_7644_replace_examples(scim: Scim) -> None:
    """§3.5.2.3: replace a complex attribute keeps sub-attributes not given; replace a filtered value."""
    user = scim.create_user(
        "r@example.com",
        name={"givenName": "R", "familyName": "F"},
        addresses=[{"type": "work", "streetAddress": "1 Main"}],
    )["id"]
    body = patch(
        scim,
        f"/Users/{user}",
        {"op": "replace", "path": "name", "value": {"givenName": "Ray"}},
        {"op": "replace", "path": 'addresses[type eq "work"]', "value": {"locality": "Hollywood"}},
    ).json()
    assert body["name"] == {"givenName": "Ray", "familyName": "F"}
    assert body["addresses"] == [{"type": "work", "streetAddress": "1 Main", "locality": "Hollywood"}]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "x"},
        {"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"},
        {"op": "replace", "path": "schemas", "value": []},
        {"op": "replace", "value": {"id": "x", "userName": "new@example.com"}},
        {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "x"},
    ],
)
def test_server_owned_attributes_are_mutability_errors(scim: Scim, operation: dict[str, Any]) -> None:
    """id, meta, schemas, User.groups and read-only sub-attributes: 400 mutability, and nothing changes."""
    user = scim.create_user("m@example.com")
    response = patch(scim, f"/Users/{user['id']}", operation)
    assert_scim_error(response, 400, "mutability")
    assert scim.get(f"/Users/{user['id']}").json() == user


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "groups", "value": [{"value": "{group}"}]},
        {"op": "replace", "path": "groups", "value": [{"value": "{group}"}]},
        {"op": "add", "value": {"groups": [{"value": "{group}"}]}},
    ],
)
def test_a_user_cannot_join_an_existing_group_through_its_groups(scim: Scim, operation: dict[str, Any]) -> None:
    """Security plan D4 (RFC 7643 §4.1.2: User.groups is readOnly): naming an existing admins group in the user's
    own groups is 400 mutability, and no membership is made; memberships change on the group only."""
    user = scim.create_user("user1@contoso.example")
    admins = scim.create_group("Contoso admins")
    named = json.loads(json.dumps(operation).replace("{group}", admins["id"]))
    assert_scim_error(patch(scim, f"/Users/{user['id']}", named), 400, "mutability")
    assert "members" not in scim.get(f"/Groups/{admins['id']}").json()
    assert "groups" not in scim.get(f"/Users/{user['id']}").json()
    found = scim.get(f'/Groups?filter=members.value eq "{user["id"]}"').json()
    assert found["totalResults"] == 0


@pytest.mark.both_backends
def test_a_failing_operation_leaves_everything_unchanged(scim: Scim) -> None:
    """Atomicity: op 1 is valid, op 2 fails; the user, its version and lastModified are as before."""
    user = scim.create_user("atomic@example.com", displayName="Before")
    response = patch(
        scim,
        f"/Users/{user['id']}",
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "replace", "path": "active", "value": "maybe"},
    )
    assert_scim_error(response, 400, "invalidValue")
    assert scim.get(f"/Users/{user['id']}").json() == user


@pytest.mark.both_backends
def test_a_failing_member_operation_adds_no_member(scim: Scim) -> None:
    """Unknown member ids are named in the error and none of the request's members are written."""
    real = scim.create_user("real@example.com")["id"]
    group = scim.create_group("G")
    response = patch(
        scim,
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": real}, {"value": "usr_ghost"}]},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
    )
    body = assert_scim_error(response, 400, "invalidValue")
    assert "usr_ghost" in body["detail"]
    assert scim.get(f"/Groups/{group['id']}").json() == group


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove"}, "noTarget"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": "replace", "path": "title"}, "invalidValue"),
        ({"op": "replace", "path": "name.givenName.x", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "__class__", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'title[value eq "x"]', "value": "x"}, "invalidPath"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
        ({"op": "replace", "path": "emails", "value": "not-a-list-of-objects"}, "invalidValue"),
    ],
)
def test_malformed_operations(scim: Scim, operation: dict[str, Any], scim_type: str) -> None:
    """Each RFC error type where the RFC says so; the user is unchanged."""
    user = scim.create_user("bad@example.com", title="T")
    assert_scim_error(patch(scim, f"/Users/{user['id']}", operation), 400, scim_type)
    assert scim.get(f"/Users/{user['id']}").json() == user


@pytest.mark.parametrize("body", [[], {"Operations": []}, {"Operations": "x"}, {"schemas": [PATCH]}, "x"])
def test_malformed_bodies(scim: Scim, body: Any) -> None:
    """A PATCH body without a non-empty Operations array is invalidSyntax."""
    user = scim.create_user("body@example.com")["id"]
    response = scim.client.patch(scim.base + f"/Users/{user}", json=body, headers=scim.headers())
    assert_scim_error(response, 400, "invalidSyntax")


def test_unknown_attributes_are_skipped_and_extensions_kept(scim: Scim) -> None:
    """Tolerant mode: a core attribute no schema has is skipped, the known ones in the same request apply, and an
    attribute of an extension nobody declared is kept as sent (issue 18: it used to be dropped with a 200)."""
    user = scim.create_user("u@example.com")["id"]
    body = patch(
        scim,
        f"/Users/{user}",
        {"op": "replace", "value": {"favouriteColour": "blue", "title": "T"}},
        {"op": "add", "path": "urn:example:custom:2.0:User:badge", "value": "7"},
    ).json()
    assert body["title"] == "T" and "favouriteColour" not in body
    assert body["urn:example:custom:2.0:User"] == {"badge": "7"}
    assert "urn:example:custom:2.0:User" in body["schemas"]


def test_adding_an_existing_value_changes_nothing(scim: Scim) -> None:
    """RFC 7644 §3.5.2.1: an add of a value already present succeeds without bumping the version."""
    user = scim.create_user("same@example.com", title="T", emails=[{"value": "s@example.com", "type": "work"}])
    response = patch(
        scim,
        f"/Users/{user['id']}",
        {"op": "add", "path": "title", "value": "T"},
        {"op": "add", "path": "emails", "value": [{"value": "s@example.com", "type": "work"}]},
    )
    assert response.status_code == 200
    assert response.json()["meta"] == user["meta"]


def test_empty_string_and_null_clear(scim: Scim) -> None:
    """Microsoft's gallery validation PATCHes "" then null and expects the attribute to read back empty."""
    user = scim.create_user("clear@example.com", title="T", nickName="N")["id"]
    patch(
        scim,
        f"/Users/{user}",
        {"op": "replace", "path": "title", "value": ""},
        {"op": "replace", "path": "nickName", "value": None},
    )
    body = scim.get(f"/Users/{user}").json()
    assert "title" not in body and "nickName" not in body


@pytest.mark.both_backends
def test_patch_can_rename_but_not_onto_a_taken_name(scim: Scim) -> None:
    """A userName taken in any case is a 409 and the PATCH applies nothing."""
    scim.create_user("taken@example.com")
    user = scim.create_user("free@example.com")
    response = patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "userName", "value": "TAKEN@example.com"})
    assert_scim_error(response, 409, "uniqueness")
    assert scim.get(f"/Users/{user['id']}").json() == user


def test_user_patch_honours_attributes(scim: Scim) -> None:
    """The 200 response of a user PATCH can be projected like a GET."""
    user = scim.create_user("proj@example.com")["id"]
    response = patch(scim, f"/Users/{user}?attributes=title", {"op": "add", "path": "title", "value": "T"})
    assert response.json() == {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": user, "title": "T"}


def test_group_patch_returns_the_group_only_when_asked(scim: Scim) -> None:
    """Groups answer 204; with excludedAttributes=members they answer 200 without members."""
    group = scim.create_group("Quiet")["id"]
    response = patch(
        scim, f"/Groups/{group}?excludedAttributes=members", {"op": "add", "path": "externalId", "value": "e1"}
    )
    assert response.status_code == 200 and response.json()["externalId"] == "e1" and "members" not in response.json()


@pytest.mark.both_backends
def test_membership_is_reflected_in_user_groups(scim: Scim) -> None:
    """User.groups follows PATCHes of the group's members."""
    user = scim.create_user("ug@example.com")["id"]
    group = scim.create_group("Readers")["id"]
    patch(scim, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": user}]})
    assert [g["value"] for g in scim.get(f"/Users/{user}").json()["groups"]] == [group]
    patch(scim, f"/Groups/{group}", {"op": "remove", "path": "members", "value": [{"value": user}]})
    assert "groups" not in scim.get(f"/Users/{user}").json()


@pytest.mark.both_backends
def test_if_match_and_if_none_match(scim: Scim) -> None:
    """A stale If-Match is 412 and changes nothing; If-None-Match with the current version is 304 on GET."""
    user = scim.create_user("etag@example.com")
    version = user["meta"]["version"]
    ok = patch(
        scim, f"/Users/{user['id']}", {"op": "add", "path": "title", "value": "T"}, headers={"If-Match": version}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != version
    stale = patch(
        scim, f"/Users/{user['id']}", {"op": "add", "path": "title", "value": "U"}, headers={"If-Match": version}
    )
    assert_scim_error(stale, 412)
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "T"
    current = ok.headers["etag"]
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": current}).status_code == 304
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": version}).status_code == 200
    assert (
        scim.put(f"/Users/{user['id']}", {"userName": "etag@example.com"}, headers={"If-Match": version}).status_code
        == 412
    )
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": version}).status_code == 412
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": "*"}).status_code == 204


@pytest.mark.both_backends
def test_member_patch_reads_only_the_rows_it_changes(scim: Scim, database: Any) -> None:
    """Adding or removing a member never selects the group's whole membership (O(changed), not O(members))."""
    import sqlalchemy as sa

    members = [scim.create_user(f"o{i}@example.com")["id"] for i in range(5)]
    newcomer = scim.create_user("newcomer@example.com")["id"]
    group = scim.create_group("Many", members)["id"]
    statements: list[str] = []

    def record(_c: Any, _cu: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert (
            patch(
                scim, f"/Groups/{group}", {"op": "Add", "path": "members", "value": [{"value": newcomer}]}
            ).status_code
            == 204
        )
        assert (
            patch(scim, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{members[0]}"]'}).status_code
            == 204
        )
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "group_members" in s]
    assert reads and all("member_id IN" in s for s in reads), reads


def test_strict_directory_refuses_the_idp_dialects(scim: Scim, database: Any) -> None:
    """In strict RFC mode: capitalised ops, unknown paths, create-on-absent and remove-with-value are refused."""
    from scimgate.directories.service import set_strict

    user = scim.create_user("strict@example.com")["id"]
    group = scim.create_group("Strict", [user])["id"]
    with database.write() as conn:
        set_strict(conn, scim.directory_id, True)
    scim.client.app.state.token_cache.forget()  # type: ignore[attr-defined]  # as an in-process change would
    assert_scim_error(
        patch(scim, f"/Users/{user}", {"op": "Replace", "path": "title", "value": "T"}), 400, "invalidSyntax"
    )
    assert_scim_error(
        patch(scim, f"/Users/{user}", {"op": "replace", "path": "favouriteColour", "value": "x"}), 400, "invalidPath"
    )
    assert_scim_error(
        patch(
            scim, f"/Users/{user}", {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@example.com"}
        ),
        400,
        "noTarget",
    )
    assert patch(scim, f"/Users/{user}", {"op": "replace", "path": "title", "value": "T"}).status_code == 200
    # RFC reading of Entra's member removal: a value on remove is not a selector; strict mode refuses it.
    response = patch(scim, f"/Groups/{group}", {"op": "remove", "path": "members", "value": [{"value": user}]})
    assert response.status_code == 400
    assert [m["value"] for m in scim.get(f"/Groups/{group}").json()["members"]] == [user]
    with database.write() as conn:
        set_strict(conn, scim.directory_id, False)
    scim.client.app.state.token_cache.forget()  # type: ignore[attr-defined]
    assert patch(scim, f"/Users/{user}", {"op": "Replace", "path": "title", "value": "U"}).status_code == 200


def test_skipped_attributes_are_logged_by_name_only(scim: Scim, caplog: pytest.LogCaptureFixture) -> None:
    """Tolerant mode reports what it skipped, without the values (which are the IdP's data)."""
    import logging

    user = scim.create_user("log@example.com")["id"]
    with caplog.at_level(logging.INFO, logger="scimgate.scim"):
        patch(scim, f"/Users/{user}", {"op": "add", "path": "favouriteColour", "value": "secret-blue"})
    assert "favouriteColour" in caplog.text and "secret-blue" not in caplog.text
