"""The management API: directories, their credentials, and read access to users and groups. What depends on the
storage (ordering and paging, cascading deletes, strings PostgreSQL cannot store) runs on both backends."""

from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from scimgate.store.tables import group_members, tokens, users
from scimgate.tokens import display_prefix
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Api, Scim

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def scim_for(api: Api, directory_id: str, token: str) -> Scim:
    return Scim(api.client, directory_id, token)


def create(api: Api, name: str = "Contoso", **fields: Any) -> tuple[dict[str, Any], Scim]:
    response = api.post("/directories", {"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    directory = body["directory"]
    return directory, scim_for(api, directory["id"], body["token"]["token"])


def test_every_request_needs_the_operator_key(api: Api, scim: Scim) -> None:
    """No key, a wrong key, or a SCIM token: 401, and no directory data in the answer."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, scim.headers(), {"Authorization": f"Basic {OPERATOR_KEY}"}):
        response = api.client.get("/api/v1/directories", headers=headers)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert scim.directory_id not in response.text and "SCIM tokens do not work here" in body["detail"]


def test_the_operator_key_never_opens_scim(api: Api, scim: Scim) -> None:
    """The operator key is not a SCIM token (security plan A11, the other way round)."""
    response = api.client.get(f"{scim.base}/Users", headers=api.headers())
    assert response.status_code == 401


def test_without_an_operator_key_the_api_is_off(database: Database) -> None:
    """With no key configured nothing opens the API, and the error says which setting turns it on."""
    with TestClient(create_app(Settings(public_url=BASE_URL), database)) as client:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {OPERATOR_KEY}"}):
            body = assert_problem(client.get("/api/v1/directories", headers=headers), 401)
            assert "SCIMGATE_OPERATOR_KEY" in body["detail"]


def test_a_short_operator_key_is_refused() -> None:
    """A guessable operator key does not start the service."""
    with pytest.raises(ValueError, match="operator_key"):
        Settings(operator_key="short")


def test_openapi_document_describes_the_api(api: Api) -> None:
    """/api/v1/openapi.json and /api/v1/docs are served, and name the endpoints."""
    spec = api.client.get("/api/v1/openapi.json").json()
    assert "/directories/{directory_id}/tokens/{token_id}/rotate" in spec["paths"]
    assert "/directories/{directory_id}/groups/{group_id}/members" in spec["paths"]
    assert api.client.get("/api/v1/docs").status_code == 200


def test_create_directory_returns_a_working_token_once(api: Api) -> None:
    """The created directory's token opens its SCIM URL, and the directory shows what to paste into the IdP."""
    response = api.post("/directories", {"name": "Contoso", "idp": "entra", "external_id": "org_42"})
    assert response.status_code == 201
    body = response.json()
    directory, token = body["directory"], body["token"]["token"]
    assert directory["scim_url"] == f"{BASE_URL}/scim/v2/{directory['id']}"
    assert (directory["idp"], directory["external_id"], directory["status"]) == ("entra", "org_42", "active")
    assert directory["created_at"].endswith("Z") or "+00:00" in directory["created_at"]
    assert any(directory["scim_url"] in step for step in body["setup"]["entra"])
    assert any(token in step for step in body["setup"]["okta"])
    scim = scim_for(api, directory["id"], token)
    assert scim.get("/Users").status_code == 200
    # Shown once: later reads of the directory and its tokens never carry the secret.
    later = api.get(f"/directories/{directory['id']}").text + api.get(f"/directories/{directory['id']}/tokens").text
    later += api.get(f"/directories/{directory['id']}/setup").text
    assert token not in later


def test_directory_fields_are_validated(api: Api) -> None:
    """Bad input is a 422 problem that names the field; nothing is created."""
    for body in ({"name": ""}, {"name": "x", "idp": "azure"}, {"name": "x" * 201}, {}):
        problem = assert_problem(api.post("/directories", body), 422)
        assert problem["errors"][0]["where"].startswith("body")
    assert api.get("/directories").json()["data"] == []


@pytest.mark.both_backends
def test_list_directories_pages_and_filters(api: Api) -> None:
    """Directories come in creation order, a page at a time, and can be found by the application's key."""
    made = [create(api, f"Customer {i}", external_id=f"org_{i % 2}")[0]["id"] for i in range(5)]
    first = api.get("/directories?limit=2").json()
    second = api.get(f"/directories?limit=2&after={first['next_after']}").json()
    third = api.get(f"/directories?limit=2&after={second['next_after']}").json()
    seen = [d["id"] for page in (first, second, third) for d in page["data"]]
    assert seen == made and third["next_after"] is None
    assert [d["id"] for d in api.get("/directories?external_id=org_1").json()["data"]] == [made[1], made[3]]
    assert_problem(api.get("/directories?limit=0"), 422)
    assert_problem(api.get("/directories?limit=100000"), 422)


def test_change_a_directory(api: Api) -> None:
    """Rename, re-key, change the IdP, go strict; unknown values are refused and change nothing."""
    directory, scim = create(api)
    changed = api.patch(f"/directories/{directory['id']}", {"name": "Contoso EU", "idp": "okta", "strict": True})
    assert (changed.json()["name"], changed.json()["idp"], changed.json()["strict"]) == ("Contoso EU", "okta", True)
    # Strict mode applies to the directory's SCIM requests at once (this worker forgets what it remembered).
    patch = {"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    user = scim.create_user("strict@example.com")
    refused = scim.client.patch(f"{scim.base}/Users/{user['id']}", json=patch, headers=scim.headers())
    assert refused.status_code == 400
    assert_problem(api.patch(f"/directories/{directory['id']}", {"idp": "azure"}), 422)
    assert_problem(api.patch(f"/directories/{directory['id']}", {"name": None}), 422)
    assert api.get(f"/directories/{directory['id']}").json()["idp"] == "okta"
    assert_problem(api.patch("/directories/dir_missing", {"name": "x"}), 404)


def test_disable_refuses_the_idp_and_keeps_the_data(api: Api) -> None:
    """A disabled directory answers 401 to its own token; enabled again, its users are all there."""
    directory, scim = create(api)
    user = scim.create_user("kept@example.com")
    disabled = api.patch(f"/directories/{directory['id']}", {"status": "disabled"}).json()
    assert disabled["status"] == "disabled" and disabled["disabled_at"]
    assert scim.get("/Users").status_code == 401
    assert api.get(f"/directories/{directory['id']}/users").json()["data"][0]["id"] == user["id"]
    assert api.patch(f"/directories/{directory['id']}", {"status": "active"}).json()["disabled_at"] is None
    assert scim.get(f"/Users/{user['id']}").status_code == 200


@pytest.mark.both_backends
def test_delete_needs_confirmation_and_removes_everything(api: Api, database: Database) -> None:
    """Without ?confirm=<id> nothing is deleted; with it, the directory's rows are gone and its token opens
    nothing."""
    directory, scim = create(api)
    other, other_scim = create(api, "Fabrikam")
    user = scim.create_user("gone@example.com")
    scim.create_group("Gone", members=[user["id"]])
    other_scim.create_user("stays@example.com")
    for query in ("", "?confirm=yes", f"?confirm={other['id']}"):
        assert_problem(api.delete(f"/directories/{directory['id']}{query}"), 400)
    assert scim.get("/Users").json()["totalResults"] == 1
    assert api.delete(f"/directories/{directory['id']}?confirm={directory['id']}").status_code == 204
    assert scim.get("/Users").status_code == 401
    assert_problem(api.get(f"/directories/{directory['id']}"), 404)
    with database.read() as conn:
        for table in (users, tokens, group_members):
            left = conn.execute(sa.select(sa.func.count()).where(table.c.directory_id == directory["id"])).scalar()
            assert left == 0, table.name
    assert other_scim.get("/Users").json()["totalResults"] == 1


def test_tokens_create_list_rotate_revoke(api: Api) -> None:
    """Rotation keeps the old token working for the overlap; revocation stops a token at once on this worker."""
    directory, first = create(api)
    base = f"/directories/{directory['id']}/tokens"
    made = api.post(base, {"name": "Okta"})
    assert made.status_code == 201
    second = scim_for(api, directory["id"], made.json()["token"])
    listed = api.get(base).json()
    assert [t["name"] for t in listed] == ["created with the directory", "Okta"]
    assert all(t["prefix"].startswith("scimgate_") and t["status"] == "active" for t in listed)
    assert first.token not in str(listed) and second.token not in str(listed)

    rotated = api.post(f"{base}/{listed[0]['id']}/rotate", {"overlap_seconds": 3600})
    assert rotated.status_code == 201 and rotated.json()["expires_at"]
    third = scim_for(api, directory["id"], rotated.json()["token"])
    assert first.get("/Users").status_code == 200 and third.get("/Users").status_code == 200
    old = next(t for t in api.get(base).json() if t["id"] == listed[0]["id"])
    assert old["expires_at"] is not None and old["status"] == "active"

    revoked = api.delete(f"{base}/{made.json()['id']}")
    assert revoked.json()["status"] == "revoked"
    assert second.get("/Users").status_code == 401
    assert_problem(api.post(f"{base}/{made.json()['id']}/rotate", {}), 409)
    assert_problem(api.post(f"{base}/{listed[0]['id']}/rotate", {"overlap_seconds": -1}), 422)

    immediate = api.post(f"{base}/{rotated.json()['id']}/rotate", {"overlap_seconds": 0})
    assert third.get("/Users").status_code == 401
    assert scim_for(api, directory["id"], immediate.json()["token"]).get("/Users").status_code == 200


def test_a_token_is_managed_only_through_its_own_directory(api: Api) -> None:
    """Another directory's token id is not found under this directory: it cannot be listed, rotated or revoked."""
    mine, _ = create(api)
    theirs, their_scim = create(api, "Fabrikam")
    their_token = api.get(f"/directories/{theirs['id']}/tokens").json()[0]["id"]
    assert_problem(api.delete(f"/directories/{mine['id']}/tokens/{their_token}"), 404)
    assert_problem(api.post(f"/directories/{mine['id']}/tokens/{their_token}/rotate", {}), 404)
    assert their_scim.get("/Users").status_code == 200
    assert_problem(api.get("/directories/dir_missing/tokens"), 404)


def test_oauth_clients_and_secret_rotation(api: Api) -> None:
    """A client's secret gets access tokens; rotation keeps the old secret for the overlap; revoking or deleting
    stops it."""
    directory, _ = create(api)
    base = f"/directories/{directory['id']}/clients"
    made = api.post(base, {"name": "Entra gallery", "access_token_seconds": 7200})
    assert made.status_code == 201
    client_id, secret = made.json()["secret"]["client_id"], made.json()["secret"]["client_secret"]
    assert made.json()["secret"]["token_endpoint"] == f"{BASE_URL}/oauth/token"
    assert_problem(api.post(base, {"access_token_seconds": 600}), 422)
    assert_problem(api.post(base, {"access_token_seconds": 7 * 3600}), 422)

    def exchange(client_secret: str) -> Any:
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        return api.client.post("/oauth/token", data=form)

    first_token = exchange(secret).json()
    assert 7190 <= first_token["expires_in"] <= 7200
    rotated = api.post(f"{base}/{client_id}/secrets", {"overlap_seconds": 600}).json()
    assert exchange(secret).status_code == 200 and exchange(rotated["client_secret"]).status_code == 200
    listed = api.get(base).json()[0]
    assert [s["status"] for s in listed["secrets"]] == ["active", "active"]
    assert listed["secrets"][0]["expires_at"] is not None and secret not in str(listed)

    first = scim_for(api, directory["id"], first_token["access_token"])
    assert first.get("/Users").status_code == 200
    api.delete(f"{base}/{client_id}/secrets/{listed['secrets'][0]['id']}")
    assert exchange(secret).status_code == 401
    assert first.get("/Users").status_code == 401  # a revoked secret takes the client's tokens with it
    scim = scim_for(api, directory["id"], exchange(rotated["client_secret"]).json()["access_token"])
    assert scim.get("/Users").status_code == 200
    assert api.delete(f"{base}/{client_id}").status_code == 204
    assert scim.get("/Users").status_code == 401  # the client's access tokens went with it
    assert exchange(rotated["client_secret"]).status_code == 401
    assert_problem(api.delete(f"{base}/{client_id}"), 404)


def test_no_secret_given_where_an_id_goes_is_repeated(api: Api) -> None:
    """A token, client secret or webhook signing secret where an id goes (the directory's, the token's, the client's,
    the secret's, the webhook's): 404, and the problem shows the secret's kind and four characters, not the 48 it
    used to."""
    directory, scim = create(api)
    base = f"/directories/{directory['id']}"
    made = api.post(f"{base}/clients", {}).json()["secret"]
    client_id, secret = made["client_id"], made["client_secret"]
    signing = "whsec_MfKQ9r0LpWnaqQ3LzVx1dEBCeOMNIzs1dNkwzT2YxRI"
    slips = [
        (scim.token, api.get(f"/directories/{scim.token}/tokens")),
        (scim.token, api.delete(f"{base}/tokens/{scim.token}")),
        (scim.token, api.post(f"{base}/tokens/{scim.token}/rotate", {})),
        (secret, api.post(f"{base}/clients/{secret}/secrets", {})),
        (secret, api.delete(f"{base}/clients/{secret}")),
        (secret, api.delete(f"{base}/clients/{client_id}/secrets/{secret}")),
        (secret, api.delete(f"{base}/clients/{secret}/secrets/{secret}")),
        (signing, api.delete(f"/webhooks/{signing}")),
    ]
    for given, answer in slips:
        assert_problem(answer, 404)
        shown = display_prefix(given)
        assert shown + "…" in answer.text and given[: len(shown) + 1] not in answer.text, answer.text


def test_users_are_readable_normalised_and_raw(api: Api) -> None:
    """Each user comes as the normalised view an application acts on, with the SCIM resource beside it."""
    directory, scim = create(api)
    user = scim.create_user(
        "ada@example.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@home.example", "type": "home"}, {"value": "ada@example.com", "type": "work"}],
        externalId="e-1",
    )
    group = scim.create_group("Engineering", members=[user["id"]])
    scim.create_user("off@example.com", active=False)
    page = api.get(f"/directories/{directory['id']}/users").json()
    ada, off = page["data"]
    assert ada["email"] == "ada@example.com"  # the work email, as Entra sends no primary
    assert (ada["given_name"], ada["family_name"], ada["display_name"]) == ("Ada", "Lovelace", "Ada Lovelace")
    assert (ada["active"], ada["external_id"]) == (True, "e-1")
    assert ada["groups"] == [{"id": group["id"], "display_name": "Engineering"}]
    assert ada["raw"] == scim.get(f"/Users/{user['id']}").json()
    assert off["active"] is False and off["email"] is None
    assert api.get(f"/directories/{directory['id']}/users/{user['id']}").json() == ada


@pytest.mark.both_backends
def test_group_members_are_paged(api: Api) -> None:
    """A group is read without its members; the members come a page at a time, in id order."""
    directory, scim = create(api)
    members = [scim.create_user(f"m{i}@example.com")["id"] for i in range(5)]
    group = scim.create_group("Big", members=members)
    base = f"/directories/{directory['id']}/groups"
    shown = api.get(f"{base}/{group['id']}").json()
    assert (shown["display_name"], shown["member_count"]) == ("Big", 5)
    assert "members" not in shown["raw"]
    seen: list[str] = []
    after = ""
    while True:
        page = api.get(f"{base}/{group['id']}/members?limit=2{after}").json()
        seen += [m["id"] for m in page["data"]]
        assert all(m["type"] == "User" and m["display_name"] for m in page["data"])
        if page["next_after"] is None:
            break
        after = f"&after={page['next_after']}"
    assert seen == sorted(members)
    assert api.get(base).json()["data"][0]["member_count"] == 5


def test_reads_never_cross_directories(api: Api) -> None:
    """A user or group id of another directory is not found under this one."""
    mine, _ = create(api)
    theirs, their_scim = create(api, "Fabrikam")
    user = their_scim.create_user("theirs@example.com")
    group = their_scim.create_group("Theirs", members=[user["id"]])
    assert_problem(api.get(f"/directories/{mine['id']}/users/{user['id']}"), 404)
    assert_problem(api.get(f"/directories/{mine['id']}/groups/{group['id']}"), 404)
    assert_problem(api.get(f"/directories/{mine['id']}/groups/{group['id']}/members"), 404)
    assert api.get(f"/directories/{mine['id']}/users").json()["data"] == []


def test_unknown_endpoint_is_a_problem(api: Api) -> None:
    """An unknown path under /api/v1 is a JSON problem, not an HTML page."""
    assert_problem(api.get("/nothing-here"), 404)


@pytest.mark.both_backends
def test_nul_characters_are_refused_not_a_database_error(api: Api) -> None:
    """NUL in a path, a query or a name is a 400 or 422 problem on every backend (PostgreSQL cannot store it)."""
    assert_problem(api.get("/directories/dir%00x"), 400)
    assert_problem(api.get("/directories?after=%00"), 400)
    assert_problem(api.post("/directories", {"name": "bad\u0000name"}), 422)
    assert api.get("/directories").json()["data"] == []


def test_an_unexpected_error_is_a_problem_document(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a handler gives a 500 problem+json that says nothing changed, not a plain-text page."""

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("scimgate.api.directories.list_directories", broken)
    body = assert_problem(api.get("/directories"), 500)
    assert "boom" not in body["detail"] and "nothing was changed" in body["detail"]


def test_bodies_with_only_defaults_may_be_left_out(api: Api) -> None:
    """Creating a token or client and rotating need no body when the defaults do."""
    directory, _ = create(api)
    base = f"/api/v1/directories/{directory['id']}"
    token = api.client.post(f"{base}/tokens", headers=api.headers())
    assert token.status_code == 201, token.text
    rotated = api.client.post(f"{base}/tokens/{token.json()['id']}/rotate", headers=api.headers())
    assert rotated.status_code == 201, rotated.text
    client = api.client.post(f"{base}/clients", headers=api.headers())
    assert client.status_code == 201, client.text
    secret = api.client.post(f"{base}/clients/{client.json()['client']['client_id']}/secrets", headers=api.headers())
    assert secret.status_code == 201, secret.text


def test_null_is_refused_for_fields_that_cannot_be_empty(api: Api) -> None:
    """``status: null`` is refused like ``name: null``, not ignored."""
    directory, _ = create(api)
    for field in ("status", "name", "idp", "strict"):
        assert_problem(api.patch(f"/directories/{directory['id']}", {field: None}), 422)


@pytest.mark.parametrize("key", ["has spaces in it but is long enough 0123", "ünïcödé-key-that-is-long-enough-01234"])
def test_an_operator_key_that_cannot_travel_in_a_bearer_header_is_refused(key: str) -> None:
    """The key must fit RFC 6750's token characters, or it could never be sent."""
    with pytest.raises(ValueError, match="openssl rand"):
        Settings(operator_key=key)
