"""Finding a request in the provisioning log by what the admin knows, combined with the other filters."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scimgate.provisioning.log_search import LogFilter, relative_path, search
from scimgate.store.database import Database
from scimgate.store.tables import request_log, request_log_terms
from tests.helpers.scim import Scim, flush, patch

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def found(database: Database, **criteria: object) -> list[str]:
    """``METHOD relative-path → status`` of each match, newest first."""
    with database.read() as conn:
        rows = search(conn, LogFilter(**criteria))  # type: ignore[arg-type]
    return [f"{row.method} {relative_path(row.directory_id, row.path, row.query)} → {row.status}" for row in rows]


@pytest.mark.both_backends
def test_search_by_username_external_id_email_and_name(scim: Scim, database: Database) -> None:
    """A userName, an externalId, an email, a word of a display name: each finds the requests that carried it, in
    any case, and nothing else."""
    adele = scim.create_user(
        "AdeleV@contoso.example",
        externalId="AdeleVance",
        displayName="Adele Vance",
        emails=[{"value": "adele.vance@mail.contoso.example", "type": "work"}],
    )
    scim.create_user("other@contoso.example", externalId="Someone")
    scim.get('/Users?filter=userName eq "adelev@contoso.example"')
    flush(scim.client)
    create = "POST /Users → 201"
    lookup = 'GET /Users?filter=userName eq "adelev@contoso.example" → 200'
    assert found(database, text="ADELEV@contoso.example") == [lookup, create]
    assert found(database, text="adelevance") == [lookup, create]  # the lookup's answer carried it
    assert found(database, text="adele.vance@mail.contoso.example") == [lookup, create]
    assert found(database, text="vance") == [lookup, create]
    assert found(database, text=adele["id"]) == [lookup, create]
    assert found(database, text="nobody@contoso.example") == []


@pytest.mark.both_backends
def test_search_by_ids_filter_values_and_prefix(scim: Scim, database: Database) -> None:
    """A request id finds its entry; a user id finds the group PATCH that added it; a filter value finds the
    lookup; a beginning finds every value it begins."""
    user = scim.create_user("grace@contoso.example")
    group = scim.create_group("Token Ring")
    patch(scim, f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    lookup = scim.get('/Groups?filter=displayName eq "Token Ring"')
    flush(scim.client)
    assert found(database, text=lookup.headers["x-request-id"]) == [
        'GET /Groups?filter=displayName eq "Token Ring" → 200'
    ]
    added = found(database, text=user["id"])
    # The group lookup whose answer lists the user, the PATCH that added it, its creation.
    assert [a.split(" ", 2)[:2] for a in added] == [
        ["GET", "/Groups?filter=displayName"],
        ["PATCH", f"/Groups/{group['id']}"],
        ["POST", "/Users"],
    ]
    assert len(found(database, text="token ring")) == 2 and len(found(database, text="ring")) == 2
    assert found(database, text="grace@") == found(database, text="grace@contoso.example")
    assert len(found(database, text="grace@")) == 1


@pytest.mark.both_backends
def test_search_combines_with_directory_status_resource_and_time(
    scim: Scim, other_scim: Scim, database: Database
) -> None:
    """Text, directory, status, resource type and a time range narrow each other."""
    scim.create_user("dup@contoso.example")
    scim.post("/Users", {"schemas": [USER], "userName": "DUP@contoso.example"})
    other_scim.create_user("dup@contoso.example")
    flush(scim.client)
    assert len(found(database, text="dup@contoso.example")) == 3
    assert found(database, text="dup@contoso.example", status="failed") == ["POST /Users → 409"]
    assert len(found(database, text="dup@contoso.example", directory_id=other_scim.directory_id)) == 1
    assert found(database, text="dup@contoso.example", resource="Group") == []
    with database.write() as conn:
        oldest = conn.execute(sa.select(sa.func.min(request_log.c.id))).scalar_one()
        conn.execute(
            request_log.update().where(request_log.c.id == oldest).values(time=datetime.now(UTC) - timedelta(days=3))
        )
    since = datetime.now(UTC) - timedelta(days=1)
    assert len(found(database, text="dup@contoso.example", since=since)) == 2
    assert len(found(database, text="dup@contoso.example", until=since)) == 1


@pytest.mark.both_backends
def test_terms_are_not_secrets_and_go_with_their_entry(scim: Scim, database: Database) -> None:
    """A password is never a search term; pruning an entry removes its terms."""
    scim.create_user("pw@contoso.example", password="Correct-Horse-9")
    patch(scim, "/Users/usr_x", {"op": "replace", "path": "password", "value": "Battery-Staple-7"})
    flush(scim.client)
    with database.read() as conn:
        terms = {row.term for row in conn.execute(sa.select(request_log_terms))}
    assert "pw@contoso.example" in terms
    assert not any("horse" in term or "staple" in term for term in terms)
    writer = scim.client.app.state.request_log  # type: ignore[attr-defined]
    writer.max_rows = 0
    writer.prune()
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(request_log_terms)).scalar_one() == 0


def test_an_anonymous_request_is_found_by_its_path_only(scim: Scim, database: Database) -> None:
    """What a request without a valid credential sent is not kept, so it is not searchable either."""
    scim.client.post(f"{scim.base}/Users", json={"userName": "anon@contoso.example"})
    scim.client.get(f"{scim.base}/Users/usr_probe", headers={"Authorization": "Bearer wrong"})
    flush(scim.client)
    assert found(database, text="anon@contoso.example") == []
    assert found(database, text="usr_probe") == ["GET /Users/usr_probe → 401"]


def test_paths_are_shown_relative_to_the_directory() -> None:
    """The directory's SCIM URL is left out and the query decoded, as the IdP's admin reads it."""
    assert relative_path("dir_a", "/scim/v2/dir_a/Users", "filter=userName+eq+%22a%40b%22") == (
        '/Users?filter=userName eq "a@b"'
    )
    assert relative_path("dir_a", "/scim/v2/dir_a", None) == "/"
    assert relative_path(None, "/scim/v2/Users", None) == "/scim/v2/Users"
