"""JumpCloud's "Custom SCIM Identity Management" connector, in its order.

JumpCloud documents behaviour, not wire bodies (jumpcloud.com/support, "Provision and manage users and groups in
apps using the Custom SCIM Identity Management integration", and its Groups article): Test Connection creates a
test user and group and deletes them (deactivates the user when DELETE is not supported); a user is looked up
before it is created; updates are PATCHes, one ``replace`` per attribute with a path; deactivation is
``replace active false``; empty groups are not pushed, an existing group of the same name is taken over, renames
are supported, and members are added as bare ``{value}`` objects and removed by value (no filter path: Entra's
older form, as app.uni-moni.com's setup notes describe). The bodies here are those shapes [inferred where JumpCloud
shows none].
"""

from typing import Any

from scimgate.check.expect import equal, list_response, resource, status
from scimgate.check.runner import GROUP, PATCH_OP, USER, Session, Step

JUMPCLOUD = "JumpCloud shows the sync error on the application's Identity Management tab and retries later."


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_connection(session: Session) -> None:
    list_response(session.send("GET", "/Users"), consequence=JUMPCLOUD)
    user = resource(
        session.send("POST", "/Users", {"schemas": [USER], "userName": f"jc.test.{session.tag}"}),
        201,
        consequence=JUMPCLOUD,
    )
    group = resource(
        session.send("POST", "/Groups", {"schemas": [GROUP], "displayName": f"jc test {session.tag}"}), 201
    )
    for path in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
        status(session.send("DELETE", path), 204, 200, consequence=JUMPCLOUD)


def users(session: Session) -> None:
    name = f"jc.{session.tag}@scimgate-check.example"
    list_response(session.send("GET", f'/Users?filter=userName eq "{name}"'), total=0)
    body = {"schemas": [USER], "userName": name, "name": {"givenName": "Jo", "familyName": "Check"}, "active": True}
    created = resource(session.send("POST", "/Users", body), 201, consequence=JUMPCLOUD)
    session.saved["user"] = created["id"]
    path = f"/Users/{created['id']}"
    session.remember(path)
    update = ops(
        {"op": "replace", "path": "name.givenName", "value": "Joanna"},
        {"op": "replace", "path": "title", "value": "Engineer"},
    )
    status(session.send("PATCH", path, update), 200, 204, consequence=JUMPCLOUD)
    status(session.send("PATCH", path, ops({"op": "replace", "path": "active", "value": False})), 200, 204)
    read = resource(session.send("GET", path), 200, consequence=JUMPCLOUD)
    equal(read.get("name", {}).get("givenName"), "Joanna", "name.givenName after JumpCloud's PATCH", JUMPCLOUD)
    equal(read.get("active"), False, "active after JumpCloud's deactivation", JUMPCLOUD)


def groups(session: Session) -> None:
    one = session.saved["user"]
    body = {"schemas": [GROUP], "displayName": f"jc group {session.tag}", "members": [{"value": one}]}
    group = resource(session.send("POST", "/Groups", body), 201, consequence=JUMPCLOUD)
    path = f"/Groups/{group['id']}"
    session.remember(path)
    rename = ops({"op": "replace", "path": "displayName", "value": f"jc group {session.tag} (renamed)"})
    status(session.send("PATCH", path, rename), 200, 204, consequence=JUMPCLOUD)
    remove = ops({"op": "remove", "path": "members", "value": [{"value": one}]})
    status(session.send("PATCH", path, remove), 200, 204, consequence=JUMPCLOUD)
    members = resource(session.send("GET", path), 200, consequence=JUMPCLOUD).get("members") or []
    equal(members, [], "members after a remove by value", JUMPCLOUD)


STEPS: list[tuple[str, Step]] = [
    ("Test Connection (a test user and group, created and deleted)", test_connection),
    ("Users: lookup, create, PATCH per attribute, deactivate", users),
    ("Groups: create with members, rename, remove by value", groups),
]
CRITICAL = {"Users: lookup, create, PATCH per attribute, deactivate"}
