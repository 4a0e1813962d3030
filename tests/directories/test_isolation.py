"""Sections A (authentication) and B (tenant isolation) of the security test plan; B, which is about what the
storage's queries return, on both backends.

Where each case is tested (docs/security.md has the same table with the results):

A1 no header on every route: test_auth.test_no_header_is_401_on_every_route, test_a1_every_scim_route_needs_a_token.
A2 empty tokens; no secret → config error: test_auth.test_empty_or_malformed_headers_are_401,
   test_a2_an_empty_or_short_operator_key_does_not_start.
A3 fresh install lets nobody in: test_auth.test_fresh_install_without_tokens_lets_nobody_in.
A4 flipped, truncated, newline-appended tokens: test_auth.test_wrong_token_variants_are_401.
A5 token in the query string or a form body: test_auth.test_token_in_query_string_is_not_accepted,
   test_auth.test_token_in_form_body_is_not_accepted, test_access_log (no token in the log).
A6 Basic, Token, lower-case bearer: test_auth.test_empty_or_malformed_headers_are_401,
   test_auth.test_scheme_is_case_insensitive.
A7 rotation overlap, revocation within seconds, expiry, ids not values: test_credentials.*,
   test_auth.test_a_revoked_token_stops_working_within_the_cache_window, test_a7_lists_carry_ids_never_secrets.
A8 JWT mode: scimgate accepts no JWT (OAuth access tokens are opaque): test_a8_jwts_open_nothing.
A9 rate limiting of bad tokens: issue 11 (hardening).
A10 path-normalisation bypasses: test_a10_path_tricks_never_reach_data.
A11 a SCIM token on the management API: test_a11_scim_tokens_do_not_open_the_management_api.
A12 only the operator may manage tokens: test_management_api.test_every_request_needs_the_operator_key (there
    are no lesser roles); tokens shown once: test_management_api.test_create_directory_returns_a_working_token_once.
A13 Host and X-Forwarded-Host never steer URLs; old prefixes 404: test_a13_locations_come_from_the_configured_url.
B1 another directory's id is a 404 like a random one: test_b1_another_directorys_user_is_not_found_like_a_random_id.
B2 PUT, PATCH, DELETE on another directory's resources: test_b2_writes_to_another_directory_change_nothing.
B3 filter and .search for another directory's userName: test_b3_searches_never_find_another_directorys_users.
B4 userName taken only in another directory: test_b4_user_names_are_unique_per_directory.
B5 adding another directory's user as a member: test_b5_members_of_another_directory_are_unknown.
B6 cursors of another directory or query: test_cursors.test_cursor_of_another_directory_or_query_is_invalid.
B7 a token on another directory's URL: test_auth.test_token_of_another_directory_is_refused_like_a_wrong_token
   (401, the same answer as for an unknown directory, so URLs reveal nothing either).
B8 member filters with another directory's id: test_b8_member_filters_find_nothing_across_directories.
"""

import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.cli import main
from scimgate.config import Settings
from scimgate.store.database import Database
from scimgate.store.tables import group_members, groups, users
from tests.helpers.scim import Api, Scim

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _without(text: str, *ids: str) -> str:
    for value in ids:
        text = text.replace(value, "<id>")
    return text


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/Users", "/Users/usr_x", "/Groups", "/Groups/grp_x", "/.search", "/Bulk"])
def test_a1_every_scim_route_needs_a_token(scim: Scim, method: str, path: str) -> None:
    """Whatever the method, no token is a 401 with a Bearer challenge and no data."""
    scim.create_user("secret@example.com")
    response = scim.client.request(method, scim.base + path, content=b"{}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "secret@example.com" not in response.text


@pytest.mark.parametrize("key", ["", "short"])
def test_a2_an_empty_or_short_operator_key_does_not_start(key: str, tmp_path: Any) -> None:
    """serve refuses a management key that is empty or guessable, before it listens."""
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), "--operator-key", key])
    assert result.exit_code == 1 and "operator_key" in result.output


def test_a7_lists_carry_ids_never_secrets(api: Api) -> None:
    """What operators read back about credentials names them by id and prefix, never by value."""
    created = api.post("/directories", {"name": "Contoso"}).json()
    directory_id, token = created["directory"]["id"], created["token"]["token"]
    client = api.post(f"/directories/{directory_id}/clients", {}).json()
    listed = api.get(f"/directories/{directory_id}/tokens").text + api.get(f"/directories/{directory_id}/clients").text
    assert created["token"]["id"] in listed and client["client"]["client_id"] in listed
    assert token not in listed and client["secret"]["client_secret"] not in listed


@pytest.mark.parametrize(
    "jwt",
    [
        # {"alg":"none"} with Entra's claims (issuer, the custom-app audience), unsigned.
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        "eyJpc3MiOiJodHRwczovL3N0cy53aW5kb3dzLm5ldC8xMjMvIiwiYXVkIjoiOGFkZjhlNmUtNjdiMi00YzJmLWEyNTktZTNkYzU0NzZjNjIxIn0.",
        # The same, "signed" HS256 with a guessable key.
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL3N0cy53aW5kb3dzLm5ldC8xMjMvIn0.c2lnbmF0dXJl",
    ],
)
def test_a8_jwts_open_nothing(scim: Scim, jwt: str) -> None:
    """Entra's own JWT (the blank Secret Token mode) and forged JWTs are not credentials here."""
    response = scim.client.get(scim.base + "/Users", headers={"Authorization": f"Bearer {jwt}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/%55sers",
        "/scim/v2/Users%2Fusr_x",
        "/scim/v2//Users",
        "/scim/v2/./Users",
        "/scim/v2/Users/..%2f..%2fadmin",
        "/SCIM/V2/users",
        "/scim/v2/Users;x=1",
        "/scim/v2/{dir}/%55sers",
        "/scim/v2/{dir}//Users",
        "/scim/v2/{dir}/./Users",
        "/scim/v2/{dir}/Users/..%2f..%2fadmin",
        "/scim/v2/{dir}/Users;x=1",
        "/SCIM/V2/{dir}/Users",
        "/scim/v2/{dir}%2FUsers",
        "/api/v1/../../scim/v2/{dir}/Users",
    ],
)
def test_a10_path_tricks_never_reach_data(scim: Scim, path: str) -> None:
    """Without a token, no spelling of a SCIM path gets past authentication: 401 or 404, never 200."""
    scim.create_user("hidden@example.com")
    response = scim.client.get(path.replace("{dir}", scim.directory_id))
    assert response.status_code in (401, 404)
    assert "hidden@example.com" not in response.text


def test_a11_scim_tokens_do_not_open_the_management_api(api: Api, scim: Scim) -> None:
    """A directory's SCIM token is refused on every management endpoint, including its own directory's."""
    for path in ("/directories", f"/directories/{scim.directory_id}", f"/directories/{scim.directory_id}/tokens"):
        assert api.client.get("/api/v1" + path, headers=scim.headers()).status_code == 401
    response = api.client.post(f"/api/v1/directories/{scim.directory_id}/tokens", json={}, headers=scim.headers())
    assert response.status_code == 401


def test_a13_locations_come_from_the_configured_url(scim: Scim) -> None:
    """Host and X-Forwarded-Host never change Location or meta.location; unadvertised prefixes are 404."""
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    response = scim.post("/Users", {"schemas": [USER], "userName": "host@example.com"}, headers=evil)
    assert response.status_code == 201
    assert response.headers["location"].startswith("http://testserver/scim/v2/")
    assert "evil" not in response.text and "evil" not in response.headers["location"]
    for prefix in ("/scim/v1", "/scim/test", "/scim"):
        assert scim.client.get(f"{prefix}/Users", headers=scim.headers()).status_code == 404


@pytest.mark.both_backends
def test_b1_another_directorys_user_is_not_found_like_a_random_id(scim: Scim, other_scim: Scim) -> None:
    """Another directory's user id gets the same 404 as an id that never existed, apart from the id itself."""
    theirs = other_scim.create_user("theirs@example.com")["id"]
    for endpoint in ("/Users", "/Groups"):
        cross = scim.get(f"{endpoint}/{theirs}")
        random = scim.get(f"{endpoint}/usr_01m8c0000000000000000000zz")
        assert cross.status_code == random.status_code == 404
        assert _without(cross.text, theirs) == _without(random.text, "usr_01m8c0000000000000000000zz")
        same = {"content-length": cross.headers["content-length"], "x-request-id": cross.headers["x-request-id"]}
        assert dict(cross.headers) == dict(random.headers) | same  # apart from the request id, as the plan allows


def _snapshot(database: Database, directory_id: str) -> list[Any]:
    with database.read() as conn:
        rows: list[Any] = []
        for table in (users, groups, group_members):
            query = sa.select(table).where(table.c.directory_id == directory_id)
            rows += (
                sorted(tuple(row) for row in conn.execute(query).all())
                if table is group_members
                else [(row.id, row.version, json.dumps(row.attributes, sort_keys=True)) for row in conn.execute(query)]
            )
        return rows


@pytest.mark.both_backends
def test_b2_writes_to_another_directory_change_nothing(database: Database, scim: Scim, other_scim: Scim) -> None:
    """PUT, PATCH and DELETE with one directory's token on another's users and groups: 404, rows unchanged."""
    user = other_scim.create_user("victim@example.com")["id"]
    group = other_scim.create_group("Victims", members=[user])["id"]
    before = _snapshot(database, other_scim.directory_id)
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    group_patch = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}
    attempts = [
        scim.put(f"/Users/{user}", {"schemas": [USER], "userName": "hijacked@example.com"}),
        scim.client.patch(f"{scim.base}/Users/{user}", json=patch, headers=scim.headers()),
        scim.delete(f"/Users/{user}"),
        scim.put(f"/Groups/{group}", {"schemas": [GROUP], "displayName": "Hijacked"}),
        scim.client.patch(f"{scim.base}/Groups/{group}", json=group_patch, headers=scim.headers()),
        scim.delete(f"/Groups/{group}"),
    ]
    assert [response.status_code for response in attempts] == [404] * 6
    assert _snapshot(database, other_scim.directory_id) == before
    assert other_scim.get(f"/Users/{user}").json()["active"] is True


@pytest.mark.both_backends
def test_b3_searches_never_find_another_directorys_users(scim: Scim, other_scim: Scim) -> None:
    """A filter or /.search for another directory's userName finds nothing, as for a name nobody has."""
    other_scim.create_user("theirs@example.com")
    query = 'userName eq "theirs@example.com"'
    assert scim.get("/Users", params={"filter": query}).json()["totalResults"] == 0
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": query}
    for path in ("/Users/.search", "/.search"):
        response = scim.post(path, search)
        assert response.status_code == 200 and response.json()["totalResults"] == 0


@pytest.mark.both_backends
def test_b4_user_names_are_unique_per_directory(scim: Scim, other_scim: Scim) -> None:
    """A userName taken in another directory is free in this one: no cross-directory 409 oracle."""
    other_scim.create_user("shared@example.com")
    response = scim.post("/Users", {"schemas": [USER], "userName": "shared@example.com"})
    assert response.status_code == 201


@pytest.mark.both_backends
def test_b5_members_of_another_directory_are_unknown(database: Database, scim: Scim, other_scim: Scim) -> None:
    """Adding another directory's user to a group fails exactly as an id nobody has; no membership row is
    written."""
    group = scim.create_group("Mine")["id"]
    theirs = other_scim.create_user("theirs@example.com")["id"]
    random = "usr_01m8c0000000000000000000zz"

    def add(member: str) -> Any:
        body = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}
        return scim.client.patch(f"{scim.base}/Groups/{group}", json=body, headers=scim.headers())

    cross, unknown = add(theirs), add(random)
    assert cross.status_code == unknown.status_code == 400
    assert cross.json()["scimType"] == "invalidValue"
    assert _without(cross.text, theirs) == _without(unknown.text, random)
    with database.read() as conn:
        assert conn.execute(sa.select(group_members).where(group_members.c.group_id == group)).first() is None


@pytest.mark.both_backends
def test_b8_member_filters_find_nothing_across_directories(scim: Scim, other_scim: Scim) -> None:
    """Filtering groups by another directory's member id finds nothing; listings never embed its members."""
    theirs = other_scim.create_user("theirs@example.com")["id"]
    other_scim.create_group("Theirs", members=[theirs])
    scim.create_group("Mine")
    found = scim.get("/Groups", params={"filter": f'members[value eq "{theirs}"]'})
    assert found.status_code == 200 and found.json()["totalResults"] == 0
    assert theirs not in scim.get("/Groups").text


@pytest.mark.both_backends
def test_one_directory_never_sees_anothers_counts(scim: Scim, other_scim: Scim) -> None:
    """totalResults counts this directory only, however many resources another holds."""
    for i in range(3):
        other_scim.create_user(f"o{i}@example.com")
    assert scim.get("/Users").json()["totalResults"] == 0
    assert scim.get("/Users?count=0").json()["totalResults"] == 0


@pytest.mark.both_backends
def test_management_reads_need_the_directory_in_the_path(database: Database, api: Api, scim: Scim) -> None:
    """Management API reads are keyed by directory: another directory's user is not found through this one."""
    created = api.post("/directories", {"name": "Other"}).json()
    user = scim.create_user("mine@example.com")["id"]
    response = api.get(f"/directories/{created['directory']['id']}/users/{user}")
    assert response.status_code == 404
    with TestClient(create_app(Settings(public_url="http://testserver"), database)) as keyless:
        assert keyless.get(f"/api/v1/directories/{scim.directory_id}/users/{user}").status_code == 401
