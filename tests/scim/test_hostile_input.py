"""Security test plan cases C, D, F, G, J and K that other modules did not already cover (docs/security.md maps
every case to its test). The cases that reach the storage (a deleted name reused, rows written behind the app,
member lists, a rollback) run on both backends, the others on SQLite."""

import json
import time
from typing import Any

import pytest

from tests.events.receiver import Receiver
from tests.helpers.scim import Scim, assert_scim_error

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(scim: Scim, path: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return scim.client.patch(scim.base + path, json=body, headers=scim.headers())


def refused(response: Any, status: int = 400) -> dict[str, Any]:
    """A SCIM error with this status (whatever its scimType)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/scim+json"
    body: dict[str, Any] = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == str(status)
    return body


def raw_post(scim: Scim, body: str) -> Any:
    return scim.client.post(
        scim.base + "/Users", content=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"schemas": ["' + USER + '"], "userName": "a", "userName": "admin"}',  # F3: which one wins is a guess
        '{"schemas": ["' + USER + '"], "userName": "a", "name": {"givenName": "x", "givenName": "y"}}',
        '{"schemas": ["' + USER + '"], "userName": "a", "title": ' + "9" * 10_000 + "}",  # F3: huge number
        '{"schemas": ["' + USER + '"], "userName": "a", "title": Infinity}',
        '{"a":' * 100_000 + "1" + "}" * 100_000,  # F2: objects nested 100,000 deep
    ],
)
def test_ambiguous_or_monstrous_json_is_400_quickly(scim: Scim, body: str) -> None:
    """Duplicate keys, 10,000-digit numbers, Infinity and 100,000-deep nesting: 400 invalidSyntax, at once."""
    started = time.monotonic()
    assert_scim_error(raw_post(scim, body), 400, "invalidSyntax")
    # A guard against quadratic or recursive blow-ups (minutes), not a speed target: loose enough for a busy machine.
    assert time.monotonic() - started < 10
    assert scim.get("/Users").json()["totalResults"] == 0


@pytest.mark.parametrize("invisible", ["\u200b", "\u202e", "\u2028", "\u0007"])
def test_user_names_with_invisible_characters_are_refused(scim: Scim, invisible: str) -> None:
    """G2: a zero-width space, a bidi override, a line separator or a control character would make a userName
    that looks like another's; 400 invalidValue, and no second user."""
    scim.create_user("alice@example.com")
    response = scim.post("/Users", {"schemas": [USER], "userName": f"alice{invisible}@example.com"})
    assert_scim_error(response, 400, "invalidValue")
    assert scim.get("/Users").json()["totalResults"] == 1


@pytest.mark.parametrize("path", ["meta.version", "meta.location", "meta.created", "id", "schemas"])
def test_server_owned_values_cannot_be_patched(scim: Scim, path: str) -> None:
    """D2: the server owns id, meta and schemas; the resource is unchanged."""
    user = scim.create_user("owned@example.com")
    assert_scim_error(
        patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": path, "value": "x"}), 400, "mutability"
    )
    assert scim.get(f"/Users/{user['id']}").json()["meta"] == user["meta"]


@pytest.mark.parametrize(
    "path",
    [
        "__class__",
        "__dict__.is_admin",
        "__init__",
        "_sa_instance_state",
        "__proto__.x",
        "constructor.prototype.x",
    ],
)
def test_dunder_and_prototype_paths_are_refused(scim: Scim, path: str) -> None:
    """D6: internal names are never reachable by a PATCH path; nothing changes."""
    user = scim.create_user("dunder@example.com")
    body = refused(patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": path, "value": 1}))
    assert body["scimType"] in ("invalidPath", "invalidValue", "mutability")
    assert scim.get(f"/Users/{user['id']}").json() == user


@pytest.mark.parametrize("query", ['directory_id eq "x"', 'user_name_key eq "x"', "attributes pr", "version eq 1"])
def test_storage_columns_are_not_filterable(scim: Scim, query: str) -> None:
    """C7: the database's own columns are not attributes; C1: the error shows no SQL."""
    response = scim.get("/Users", params={"filter": query})
    body = assert_scim_error(response, 400, "invalidFilter")
    for leak in ("SELECT", "FROM users", "sqlite3", "psycopg", "directory_id ="):
        assert leak not in body["detail"]


@pytest.mark.parametrize("column", ["directory_id", "user_name_key", "attributes", "version"])
def test_storage_columns_are_not_sortable(scim: Scim, column: str) -> None:
    refused(scim.get(f"/Users?sortBy={column}"))


@pytest.mark.both_backends
def test_a_deleted_user_is_gone_for_every_operation(scim: Scim) -> None:
    """J2 and G6: after DELETE, GET, PATCH, PUT and DELETE are 404; the userName is free for a new user with a new
    id, and the old id stays gone."""
    user = scim.create_user("leaver@example.com")
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404
    assert patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "x"}).status_code == 404
    assert scim.put(f"/Users/{user['id']}", {"schemas": [USER], "userName": "leaver@example.com"}).status_code == 404
    assert scim.delete(f"/Users/{user['id']}").status_code == 404
    again = scim.create_user("leaver@example.com")
    assert again["id"] != user["id"] and scim.get(f"/Users/{user['id']}").status_code == 404
    found = scim.get('/Users?filter=userName eq "leaver@example.com"').json()["Resources"]
    assert [u["id"] for u in found] == [again["id"]]


@pytest.mark.parametrize("external_id", ["1", "0", "admin"])
def test_external_ids_never_link_to_other_users(scim: Scim, external_id: str) -> None:
    """D9: an externalId equal to an internal-looking value or another user's id makes a new user, nothing else."""
    other = scim.create_user("other@example.com")
    for value in (external_id, other["id"]):
        made = scim.create_user(f"x{value}@example.com", externalId=value)
        assert made["id"] != other["id"] and made["externalId"] == value
    assert scim.get(f"/Users/{other['id']}").json() == other


def test_a_long_hostile_user_name_is_not_echoed(scim: Scim) -> None:
    """E4: a 5 KB userName full of markup gets a short detail, no markup."""
    response = scim.post("/Users", {"schemas": [USER], "userName": "<script>alert(1)</script>" * 200})
    body = refused(response)
    assert len(body["detail"]) < 300 and "<script>alert(1)</script><script>" not in body["detail"]


def test_unusual_methods_and_overrides_do_nothing(scim: Scim) -> None:
    """K4: TRACE and CONNECT are 405 SCIM errors; X-HTTP-Method-Override never turns a POST into a DELETE."""
    user = scim.create_user("kept@example.com")
    for method in ("TRACE", "CONNECT"):
        refused(scim.client.request(method, f"{scim.base}/Users", headers=scim.headers()), 405)
    override = scim.headers({"X-HTTP-Method-Override": "DELETE", "Content-Type": "application/scim+json"})
    scim.client.post(f"{scim.base}/Users/{user['id']}", content=b"{}", headers=override)
    assert scim.get(f"/Users/{user['id']}").status_code == 200


def test_content_negotiation_never_yields_html(scim: Scim) -> None:
    """K3: text/plain and XML bodies are 415; Accept: text/html still gets SCIM JSON."""
    for content_type in ("text/plain", "application/xml"):
        response = scim.client.post(
            f"{scim.base}/Users", content=b"userName=x", headers=scim.headers({"Content-Type": content_type})
        )
        refused(response, 415)
    html = scim.client.get(f"{scim.base}/Users", headers=scim.headers({"Accept": "text/html"}))
    assert html.headers["content-type"].startswith("application/scim+json") and "<html" not in html.text


def test_urls_in_resources_are_never_fetched(scim: Scim) -> None:
    """K6: photos and $ref values pointing at a listener on loopback are stored as strings; nothing is fetched."""
    receiver = Receiver()
    try:
        url = receiver.start()
        user = scim.create_user("ssrf@example.com", photos=[{"value": url, "type": "photo"}])
        group = scim.create_group("SSRF", members=[user["id"]])
        patch(
            scim,
            f"/Groups/{group['id']}",
            {"op": "add", "path": "members", "value": [{"value": user["id"], "$ref": url}]},
        )
        scim.get(f"/Users/{user['id']}")
        scim.get("/Users")
        time.sleep(0.3)
        assert receiver.received == []
        assert scim.get(f"/Users/{user['id']}").json()["photos"][0]["value"] == url
    finally:
        receiver.stop()


def test_markup_round_trips_as_data(scim: Scim) -> None:
    """K7: markup in a displayName is stored and returned exactly, JSON-escaped by the serializer only."""
    markup = "<img src=x onerror=alert(1)>"
    user = scim.create_user("markup@example.com", displayName=markup)
    response = scim.get(f"/Users/{user['id']}")
    assert json.loads(response.text)["displayName"] == markup


@pytest.mark.both_backends
def test_a_user_name_stored_before_the_rule_can_still_be_updated(scim: Scim, database: Any) -> None:
    """The invisible-character rule applies to userNames being set; a user stored earlier with one can still be
    deactivated. Characters some scripts need (ZWNJ, ZWJ) are allowed."""
    import sqlalchemy as sa

    from scimgate.store.tables import users

    user = scim.create_user("legacy@example.com")
    with database.write() as conn:
        stored = {"userName": "leg\u200bacy@example.com", "active": True}
        conn.execute(
            sa.update(users).where(users.c.id == user["id"]).values(user_name=stored["userName"], attributes=stored)
        )
    answer = patch(scim, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})
    assert answer.status_code in (200, 204) and scim.get(f"/Users/{user['id']}").json()["active"] is False
    assert scim.create_user("\u0645\u06cc\u200c\u0646\u0627@example.com")["id"]  # a Persian name with ZWNJ


@pytest.mark.both_backends
def test_members_per_request_are_capped(scim: Scim, settings: Any) -> None:
    """F7: more than 100,000 members in one request is 413 with what to do instead; nothing is written."""
    settings.max_body_bytes = 8_000_000
    group = scim.create_group("Capped")
    ids = [{"value": f"usr_{i:07d}"} for i in range(100_001)]
    response = patch(scim, f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": ids})
    body = refused(response, 413)
    assert "100,000" in body["detail"]
    assert "members" not in scim.get(f"/Groups/{group['id']}").json()


def test_a_body_trickled_too_slowly_is_408() -> None:
    """F8: a client that sends its body a few bytes at a time gets 408 when the read timeout runs out."""
    import asyncio

    from starlette.requests import Request

    from scimgate.scim.errors import RequestTimeout
    from scimgate.scim.http import read_json

    async def trickle() -> dict[str, Any]:
        await asyncio.sleep(0.2)
        return {"type": "http.request", "body": b"{", "more_body": True}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/scim+json")]}
    started = time.monotonic()
    try:
        asyncio.run(read_json(Request(scope, trickle), 1_000_000, timeout=0.5))
    except RequestTimeout as error:
        assert error.status == 408 and "0.5 seconds" in error.detail
    else:
        raise AssertionError("a trickled body was accepted")
    assert time.monotonic() - started < 2


@pytest.mark.both_backends
def test_a_fault_inside_a_patch_leaves_the_user_as_it_was(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    """D5: a PATCH whose transaction fails after its writes (here, as its event is recorded) answers 500 and leaves
    the user, its version and its ETag exactly as before."""
    from starlette.testclient import TestClient

    import scimgate.scim.changes as record

    user = scim.create_user("atomic@example.com", title="Before")

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the database went away between the write and the commit")

    monkeypatch.setattr(record, "user_changed", fail)
    client = TestClient(scim.client.app, base_url="http://testserver", raise_server_exceptions=False)
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "After"}]}
    response = client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=scim.headers())
    assert response.status_code == 500 and response.json()["status"] == "500"
    after = scim.get(f"/Users/{user['id']}")
    assert after.json() == user and after.headers["etag"] == user["meta"]["version"]
