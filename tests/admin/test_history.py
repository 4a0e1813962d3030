"""A user's and a group's admin page list the requests about them (the provisioning log) and their events."""

import re
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from scimgate.admin import history
from scimgate.events.outbox import emit
from scimgate.events.types import Event, GroupUserAdded, UserUpdated
from scimgate.store import migrate
from scimgate.store.database import Database
from tests.helpers.admin import sign_in
from tests.helpers.plans import analyze, plan, recorded_selects
from tests.helpers.scim import PATCH_OP, Scim, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def section(html: str, table_id: str) -> str:
    found = re.search(rf'<table class="[^"]*" id="{table_id}">(.*?)</table>', html, re.S)
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


NEWER = 10_001
"""More newer events of other resources than the pages used to look through (the directory's newest 10,000)."""


def others_change(database: Database, directory_id: str, count: int = NEWER) -> None:
    """``count`` events about other users and groups, written after the resource's own, as the outbox writes them:
    updates of other users, and one in ten a membership of another group."""
    happened: list[Event] = []
    for i in range(count):
        user = {"id": f"usr_other{i % 500:05d}", "user_name": f"other{i % 500}@contoso.example"}
        if i % 10:
            happened.append(UserUpdated(user, raw={}, changed=["displayName"]))
        else:
            happened.append(GroupUserAdded(user, group={"id": f"grp_other{i % 7}", "display_name": "Others"}))
    with database.write() as conn:
        emit(conn, directory_id, happened, datetime.now(UTC))


def event_types(page: str) -> list[str]:
    return re.findall(r"<code>([a-z._]+)</code>", section(page, "resource-events"))


@pytest.mark.both_backends
def test_events_older_than_ten_thousand_newer_ones_of_others_are_still_listed(
    app_client: TestClient, scim: Scim, database: Database
) -> None:
    """A user and a group that have not changed since 10,001 events about others were written keep their history
    on their pages (they used to show "No events": only the directory's newest 10,000 were looked through)."""
    sign_in(app_client)
    user = scim.create_user("quiet@contoso.example")
    group = scim.create_group("Quiet ones", members=[user["id"]])
    others_change(database, scim.directory_id)
    user_page = app_client.get(f"/admin/directories/{scim.directory_id}/users/{user['id']}").text
    assert event_types(user_page) == ["group.user_added", "user.created"]
    assert "to group <strong>Quiet ones</strong>" in section(user_page, "resource-events")
    group_page = app_client.get(f"/admin/directories/{scim.directory_id}/groups/{group['id']}").text
    assert event_types(group_page) == ["group.user_added", "group.created"]
    assert "added <strong>quiet@contoso.example</strong>" in section(group_page, "resource-events")


@pytest.mark.both_backends
def test_a_resources_events_are_read_from_its_indexes_newest_first(scim: Scim, database: Database) -> None:
    """The lookup is a range of the object index and one of the group index, each read newest first and only as
    far as the page needs, on both backends: never a scan of the directory's events. And a busy resource's page
    shows its newest events, as many as the page holds."""
    user = scim.create_user("busy@contoso.example")
    for i in range(history.SHOWN + 5):  # more changes than a page shows
        scim.client.patch(
            f"{scim.base}/Users/{user['id']}",
            json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": f"T{i}"}]},
            headers=scim.headers(),
        )
    others_change(database, scim.directory_id)
    analyze(database)
    with recorded_selects(database) as selects, database.read() as conn:
        found = history.events_about(conn, scim.directory_id, user["id"])
    assert len(found) == history.SHOWN and [row.type for row in found] == ["user.updated"] * history.SHOWN
    assert [row.sequence for row in found] == sorted((row.sequence for row in found), reverse=True)
    [(statement, parameters)] = selects
    text = plan(database, statement, parameters)
    for index in ("ix_events_directory_id_object_id_sequence", "ix_events_directory_id_group_id_sequence"):
        assert index in text, text
    if database.is_sqlite:
        assert "SCAN events" not in text, text
    else:
        assert "Seq Scan" not in text and "Bitmap" not in text, text


@pytest.mark.both_backends
def test_events_written_before_the_index_existed_are_found_after_the_upgrade(scim: Scim, database: Database) -> None:
    """Migration 0014 fills the new columns from each event's data: a schema taken back to 0013 (which drops them)
    and upgraded again lists the user's and the group's events as before."""
    user = scim.create_user("early@contoso.example")
    group = scim.create_group("Early birds", members=[user["id"]])
    migrate.downgrade(database, "0013")
    migrate.upgrade(database)
    with database.read() as conn:
        about_user = [row.type for row in history.events_about(conn, scim.directory_id, user["id"])]
        about_group = [row.type for row in history.events_about(conn, scim.directory_id, group["id"])]
    assert about_user == ["group.user_added", "user.created"]
    assert about_group == ["group.user_added", "group.created"]
