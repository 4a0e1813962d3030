"""Events are written with their change, numbered per directory, ordered across directories, and carry the
normalised object and the raw SCIM resource; a request that fails emits nothing. Both backends."""

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.directories.service import create_directory, delete_directory, set_disabled
from scimgate.events import feed
from scimgate.store.database import Database
from scimgate.store.tables import events, users
from tests.helpers.scim import BASE_URL, Api, Scim, all_events

pytestmark = pytest.mark.both_backends

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(scim: Scim, path: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return scim.client.patch(scim.base + path, json=body, headers=scim.headers())


def test_a_user_created_carries_the_normalised_user_and_the_raw_resource(scim: Scim, database: Database) -> None:
    """user.created has what an application needs to create the account, and the SCIM resource as returned."""
    created = scim.create_user(
        "ada@example.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@example.com", "type": "work"}],
        externalId="e-1",
        roles=[{"value": "Admin", "display": "Administrator", "type": "WindowsAzureActiveDirectoryRole"}],
    )
    event = all_events(database, scim.directory_id, ["user.created"])[0]
    assert event["id"].startswith("evt_") and event["timestamp"].endswith("Z")
    user = event["data"]["object"]
    assert (user["id"], user["email"], user["given_name"], user["family_name"]) == (
        created["id"],
        "ada@example.com",
        "Ada",
        "Lovelace",
    )
    assert (user["active"], user["external_id"], user["groups"], user["roles"]) == (True, "e-1", [], ["Admin"])
    assert event["data"]["raw"] == scim.get(f"/Users/{created['id']}").json()


def test_a_failed_request_emits_nothing(scim: Scim, database: Database) -> None:
    """A 409, a 400 PATCH and a 404 write change nothing, so they emit nothing."""
    user = scim.create_user("once@example.com")
    before = all_events(database, scim.directory_id)
    assert scim.post("/Users", {"schemas": [USER], "userName": "ONCE@example.com"}).status_code == 409
    assert patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": "maybe"}).status_code == 400
    assert patch(scim, f"/Users/{user['id']}", {"op": "remove", "path": "emails[type eq"}).status_code == 400
    assert scim.delete("/Users/usr_missing").status_code == 404
    group = scim.create_group("Team")
    add_unknown = {"op": "add", "path": "members", "value": [{"value": user["id"]}, {"value": "usr_ghost"}]}
    assert patch(scim, f"/Groups/{group['id']}", add_unknown).status_code == 400
    after = all_events(database, scim.directory_id)
    assert [e["type"] for e in after[len(before) :]] == ["group.created"]


def test_a_change_that_rolls_back_leaves_no_event(
    scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the transaction fails after the event was written, neither the user nor its event exists."""
    import scimgate.scim.changes as record

    def fail_after_emitting(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise RuntimeError("crash between the event and the commit")

    original = record.user_created
    monkeypatch.setattr(record, "user_created", fail_after_emitting)
    client = TestClient(scim.client.app, base_url=BASE_URL, raise_server_exceptions=False)
    response = Scim(client, scim.directory_id, scim.token).post("/Users", {"schemas": [USER], "userName": "g@x.org"})
    assert response.status_code == 500 and response.json()["status"] == "500"
    assert all_events(database, scim.directory_id, ["user.created"]) == []
    with database.read() as conn:
        assert conn.execute(sa.select(users.c.id).where(users.c.directory_id == scim.directory_id)).first() is None


def test_a_failed_event_write_fails_the_change(scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """J4: when the audit record (the event) cannot be written, the change is not made either: 503, no user."""
    import scimgate.events.outbox as outbox

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT INTO events …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(outbox, "_insert", refuse)
    response = scim.post("/Users", {"schemas": [USER], "userName": "unaudited@example.com"})
    assert response.status_code == 503 and response.json()["status"] == "503"
    monkeypatch.undo()
    assert scim.get("/Users").json()["totalResults"] == 0


def test_deactivation_and_reactivation_are_their_own_events(scim: Scim, database: Database) -> None:
    """active false → user.deactivated (the one an application must act on at once); true again → reactivated."""
    user = scim.create_user("leaver@example.com")
    patch(scim, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})
    patch(scim, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})  # no change
    patch(scim, f"/Users/{user['id']}", {"op": "replace", "value": {"active": True, "displayName": "Back"}})
    found = all_events(database, scim.directory_id)[-2:]
    assert [e["type"] for e in found] == ["user.deactivated", "user.reactivated"]
    assert found[0]["data"]["object"]["active"] is False
    assert found[1]["data"]["changed"] == ["active", "displayName"]


def test_deleting_a_user_or_group_says_what_was_deleted(scim: Scim, database: Database) -> None:
    """user.deleted and group.deleted carry the resource as it was."""
    user = scim.create_user("gone@example.com")
    group = scim.create_group("Gone", members=[user["id"]])
    scim.delete(f"/Groups/{group['id']}")
    scim.delete(f"/Users/{user['id']}")
    deleted = all_events(database, scim.directory_id, ["user.deleted", "group.deleted"])
    assert [(e["type"], e["data"]["object"]["id"]) for e in deleted] == [
        ("group.deleted", group["id"]),
        ("user.deleted", user["id"]),
    ]
    assert deleted[1]["data"]["object"]["user_name"] == "gone@example.com"


def test_each_directory_numbers_its_events_without_gaps(database: Database, scim: Scim, other_scim: Scim) -> None:
    """Sequences count 1, 2, 3… per directory; positions order all of them; a directory filter sees its own."""
    for i in range(3):
        scim.create_user(f"a{i}@example.com")
        other_scim.create_user(f"b{i}@example.com")
    everything = all_events(database)
    positions = [e["position"] for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    for directory_id in (scim.directory_id, other_scim.directory_id):
        mine = all_events(database, directory_id)
        assert [e["sequence"] for e in mine] == [1, 2, 3, 4]
        assert [e["type"] for e in mine] == ["directory.created"] + ["user.created"] * 3


def test_concurrent_writers_keep_every_directory_in_sequence(database: Database, scim: Scim, other_scim: Scim) -> None:
    """Writers in parallel (threads, one connection each): every event is in the feed once, and each directory's
    events come in sequence order, whatever order the transactions committed in."""
    errors: list[BaseException] = []

    def write(target: Scim, prefix: str) -> None:
        try:
            for i in range(15):
                user = target.create_user(f"{prefix}{i}@example.com")
                patch(target, f"/Users/{user['id']}", {"op": "replace", "path": "displayName", "value": f"U{i}"})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(s, p)) for s, p in ((scim, "x"), (other_scim, "y"), (scim, "z"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    everything = all_events(database)
    assert len({e["id"] for e in everything}) == len(everything) == 2 + 3 * 30
    for directory_id in (scim.directory_id, other_scim.directory_id):
        sequences = [e["sequence"] for e in everything if e["directory_id"] == directory_id]
        assert sequences == list(range(1, len(sequences) + 1))


def test_directory_events(database: Database) -> None:
    """directory.created, .disabled (once, however often it is disabled) and .deleted, which outlives the
    directory's other events: they held copies of its data."""
    with database.write() as conn:
        directory = create_directory(conn, "Contoso", external_id="org_1", idp="okta")
        set_disabled(conn, directory.id, True)
        set_disabled(conn, directory.id, True)
    found = all_events(database, directory.id)
    assert [(e["type"], e["sequence"]) for e in found] == [("directory.created", 1), ("directory.disabled", 2)]
    assert found[0]["data"]["object"] == {"id": directory.id, "name": "Contoso", "external_id": "org_1", "idp": "okta"}
    with database.write() as conn:
        delete_directory(conn, directory.id)
    found = all_events(database, directory.id)
    assert [(e["type"], e["sequence"]) for e in found] == [("directory.deleted", 3)]
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(events.c.directory_id == directory.id)).scalar() == 1


def test_feed_pages_and_resumes(database: Database, scim: Scim) -> None:
    """Pages of the feed join up exactly; a type filter that matches nothing still moves the cursor to the head."""
    for i in range(5):
        scim.create_user(f"p{i}@example.com")
    seen, after = [], 0
    while True:
        page = feed.read(database, after, limit=2)
        seen += page.events
        if len(page.events) < 2:
            break
        after = page.next_after
    assert [e["position"] for e in seen] == [e["position"] for e in all_events(database)]
    nothing = feed.read(database, 0, types=["group.deleted"])
    assert nothing.events == [] and nothing.next_after == seen[-1]["position"]


def test_roles_from_the_idp_and_from_group_mappings(api: Api, scim: Scim, database: Database) -> None:
    """A user's roles are Entra's app role assignments plus the roles mapped to its groups; every change of the
    resulting roles is a user.updated with roles among the changes, and only a real change is."""
    base = f"/directories/{scim.directory_id}"
    ada = scim.create_user("ada@example.com")
    bob = scim.create_user("bob@example.com", roles=[{"value": "Editor"}])
    editors = scim.create_group("Editors", members=[ada["id"]])
    writers = scim.create_group("Writers")
    assert api.post(f"{base}/role-mappings", {"group_id": editors["id"], "role": "Editor"}).status_code == 200
    api.post(f"{base}/role-mappings", {"group_id": writers["id"], "role": "Editor"})

    def role_events() -> list[tuple[str, list[str]]]:
        found = all_events(database, scim.directory_id, ["user.updated"])
        return [(e["data"]["object"]["user_name"], e["data"]["object"]["roles"]) for e in found]

    assert role_events() == [("ada@example.com", ["Editor"])]  # mapping Editors gave Ada the role
    # Bob already has Editor from Entra: joining Editors changes nothing; Ada joining Writers neither.
    patch(scim, f"/Groups/{editors['id']}", {"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
    patch(scim, f"/Groups/{writers['id']}", {"op": "add", "path": "members", "value": [{"value": ada["id"]}]})
    assert len(role_events()) == 1
    # Ada leaves Editors but is still in Writers: no change. Writers is deleted: now she loses the role.
    patch(scim, f"/Groups/{editors['id']}", {"op": "remove", "path": f'members[value eq "{ada["id"]}"]'})
    assert len(role_events()) == 1
    scim.delete(f"/Groups/{writers['id']}")
    assert role_events()[-1] == ("ada@example.com", [])
    shown = api.get(f"{base}/users/{bob['id']}").json()
    assert shown["roles"] == ["Editor"]
    # Entra's app role assignment in a PATCH (a JSON string inside value) changes the roles too.
    entra_role = {"value": '{"id":"06b07648","value":"Reader","displayName":"Reader"}'}
    patch(scim, f"/Users/{ada['id']}", {"op": "Add", "path": "roles", "value": [entra_role]})
    last = all_events(database, scim.directory_id, ["user.updated"])[-1]["data"]
    assert last["object"]["roles"] == ["Reader"] and last["changed"] == ["roles"]
    # Unmapping Editors: Bob keeps Editor (Entra assigned it), so nobody's roles change.
    count = len(role_events())
    unmapped = api.post(f"{base}/role-mappings/remove", {"group_id": editors["id"], "role": "Editor"})
    assert unmapped.status_code == 200 and unmapped.json() == []
    assert len(role_events()) == count


def test_positions_are_never_given_twice(database: Database, scim: Scim, other_scim: Scim) -> None:
    """Deleting the newest events (a deleted directory, a prune) never lets a later event take a position a reader
    has already passed."""
    scim.create_user("a@example.com")
    other_scim.create_user("b@example.com")
    head = feed.read(database, 0).next_after
    with database.write() as conn:
        delete_directory(conn, other_scim.directory_id)
    after = feed.read(database, head)
    assert [e["type"] for e in after.events] == ["directory.deleted"]
    assert after.events[0]["position"] == head + 1
    feed.prune(database, timedelta(seconds=-1))  # everything is older than "one second in the future"
    assert all_events(database) == []
    scim.create_user("c@example.com")
    assert [e["position"] for e in feed.read(database, head + 1).events] == [head + 2]


def test_enabling_a_directory_again_is_an_event(database: Database) -> None:
    """directory.enabled follows directory.disabled, so a consumer tracking the status sees both."""
    with database.write() as conn:
        directory = create_directory(conn, "Toggle")
        set_disabled(conn, directory.id, True)
        set_disabled(conn, directory.id, False)
        set_disabled(conn, directory.id, False)
    assert [e["type"] for e in all_events(database, directory.id)] == [
        "directory.created",
        "directory.disabled",
        "directory.enabled",
    ]


def test_role_lookups_are_chunked_for_huge_groups(
    api: Api, scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members are looked up in chunks (PostgreSQL takes at most 65,535 parameters): a chunk of 2 gives the same
    roles as one query."""
    import scimgate.events.roles as roles

    monkeypatch.setattr(roles, "_CHUNK", 2)
    members = [scim.create_user(f"r{i}@example.com")["id"] for i in range(5)]
    group = scim.create_group("Readers", members=members)
    api.post(f"/directories/{scim.directory_id}/role-mappings", {"group_id": group["id"], "role": "Reader"})
    updated = all_events(database, scim.directory_id, ["user.updated"])
    assert sorted(e["data"]["object"]["id"] for e in updated) == sorted(members)
    assert all(e["data"]["object"]["roles"] == ["Reader"] for e in updated)


def test_each_event_names_the_request_and_credential_behind_it(scim: Scim, database: Database, api: Api) -> None:
    """J4: an event is the audit record of its change: the X-Request-Id of the request that made it (also in the
    provisioning log) and the id of the token that authenticated it; none for a change the operator made."""
    from scimgate.store.tables import tokens

    created = scim.client.post(scim.base + "/Users", json={"userName": "audited@example.com"}, headers=scim.headers())
    assert created.status_code == 201
    with database.read() as conn:
        token_id = conn.execute(sa.select(tokens.c.id).where(tokens.c.directory_id == scim.directory_id)).scalar_one()
    [event] = all_events(database, scim.directory_id, ["user.created"])
    assert event["request_id"] == created.headers["x-request-id"] and event["token_id"] == token_id
    made = api.post("/directories", {"name": "By the operator"})
    assert made.status_code == 201
    [by_operator] = all_events(database, made.json()["directory"]["id"], ["directory.created"])
    assert by_operator["request_id"] == made.headers["x-request-id"] and by_operator["token_id"] is None
