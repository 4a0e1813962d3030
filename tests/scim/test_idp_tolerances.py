"""The requests IdPs document that a strict reading of RFC 7644 would refuse (issue 19): accepted in tolerant mode,
refused in strict mode with the strict-mode hint. Each cites the IdP's own document or code."""

from datetime import datetime
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimgate.store.database import Database
from scimgate.store.tables import request_log
from tests.helpers.scim import BASE_URL, PATCH_OP, Scim, assert_scim_error, flush

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def strict(scim: Scim, database: Database) -> None:
    from scimgate.directories.service import update_directory

    with database.write() as conn:
        update_directory(conn, scim.directory_id, strict=True)
    scim.client.app.state.token_cache.forget()  # type: ignore[attr-defined]


def group_patch(scim: Scim, group_id: str, *operations: dict[str, Any]) -> Any:
    return scim.client.patch(
        f"{scim.base}/Groups/{group_id}",
        json={"schemas": [PATCH_OP], "Operations": list(operations)},
        headers=scim.headers(),
    )


def test_okta_renames_a_group_with_its_own_id_in_the_value(scim: Scim) -> None:
    """Okta's SCIM 2.0 reference: {"op":"replace","value":{"id":"<the group's id>","displayName":"…"}}, also sent
    on every membership update. The id is the group's own: the rename applies (it used to be 400 mutability)."""
    group = scim.create_group("Avengers")
    response = group_patch(scim, group["id"], {"op": "replace", "value": {"id": group["id"], "displayName": "Heroes"}})
    assert response.status_code in (200, 204), response.text
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Heroes"


def test_a_different_id_in_a_patch_value_is_still_refused(scim: Scim) -> None:
    group = scim.create_group("Avengers")
    response = group_patch(scim, group["id"], {"op": "replace", "value": {"id": "grp_other", "displayName": "X"}})
    assert_scim_error(response, 400, "mutability")
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Avengers"


def test_meta_and_schemas_inside_a_no_path_value_are_ignored(scim: Scim) -> None:
    """Okta and authentik echo what they read: authentik's group update is a no-path replace of schemas,
    displayName, externalId and id (goauthentik/authentik providers/scim/clients/groups.py)."""
    group = scim.create_group("Readers")
    value = {"schemas": [GROUP], "id": group["id"], "meta": {"resourceType": "Group"}, "displayName": "Writers"}
    assert group_patch(scim, group["id"], {"op": "replace", "value": value}).status_code in (200, 204)
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Writers"


def test_strict_mode_refuses_the_own_id_and_says_why(scim: Scim, database: Database) -> None:
    group = scim.create_group("Avengers")
    strict(scim, database)
    response = group_patch(scim, group["id"], {"op": "replace", "value": {"id": group["id"], "displayName": "X"}})
    assert_scim_error(response, 400, "mutability")
    assert "not in strict mode" in response.json()["detail"]


def test_entra_reference_check_with_unquoted_values_and_an_unqualified_manager(scim: Scim) -> None:
    """Microsoft's SCIM tutorial (MicrosoftDocs/azure-docs, active-directory-scim-provisioning.md, step 4):
    GET /Users?filter=id eq <id> and manager eq <manager id>&attributes=id: values unquoted, manager named without
    the enterprise URN and compared as a whole (its value)."""
    boss = scim.create_user("boss@contoso.com")
    user = scim.create_user("jyoung@contoso.com", externalId="jyoung", **{ENTERPRISE: {"manager": boss["id"]}})
    found = scim.get("/Users", params={"filter": f"id eq {user['id']} and manager eq {boss['id']}", "attributes": "id"})
    assert found.status_code == 200, found.text
    assert found.json()["Resources"] == [{"schemas": [USER, ENTERPRISE], "id": user["id"]}]
    quoted = scim.get("/Users", params={"filter": f'id eq "{user["id"]}" and manager eq "{boss["id"]}"'})
    assert [r["id"] for r in quoted.json()["Resources"]] == [user["id"]]
    by_external = scim.get("/Users", params={"filter": "externalId eq jyoung"}).json()
    assert [r["id"] for r in by_external["Resources"]] == [user["id"]]


def test_authentik_unquoted_user_name(scim: Scim) -> None:
    """authentik before 2025.10 looked users up with `userName eq akadmin` (goauthentik/authentik#16455)."""
    user = scim.create_user("ada@contoso.com")
    found = scim.get("/Users", params={"filter": "userName eq ada@contoso.com"}).json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    assert scim.get("/Users", params={"filter": "active eq true"}).json()["totalResults"] == 1


def test_strict_mode_refuses_unquoted_values_with_the_hint(scim: Scim, database: Database) -> None:
    scim.create_user("ada@contoso.com")
    strict(scim, database)
    response = scim.get("/Users", params={"filter": "userName eq ada@contoso.com"})
    assert_scim_error(response, 400, "invalidFilter")
    assert "not in strict mode" in response.json()["detail"]


def test_a_tenant_url_without_the_directory_id_is_a_404_naming_the_form(scim: Scim, database: Database) -> None:
    """…/scim/v2/Users: no redirect, a SCIM 404 whose detail shows the expected URL under the configured public URL
    (whatever Host the request named), logged as wrong_url and not under a directory called "Users"."""
    for path in ("/scim/v2/Users", "/scim/v2/Users/", "/scim/v2/Users/usr_1", "/scim/v2/Groups?filter=x"):
        headers = {**scim.headers(), "Host": "elsewhere.example.com"}
        response = scim.client.get(path, headers=headers, follow_redirects=False)
        assert_scim_error(response, 404)
        assert f"looks like {BASE_URL}/scim/v2/dir_…;" in response.json()["detail"], response.json()["detail"]
    elsewhere = scim.client.get("/nothing/here", headers={"Host": "elsewhere.example.com"})
    assert f"SCIM URLs look like {BASE_URL}/scim/v2/dir_…/Users." in assert_scim_error(elsewhere, 404)["detail"]
    flush(scim.client)
    with database.read() as conn:
        rows = conn.execute(sa.select(request_log.c.directory_id, request_log.c.reason)).all()
    assert rows and all(row.directory_id is None and row.reason == "wrong_url" for row in rows)


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/Users",
        "/scim/v2/{directory}/Users/",
        "/scim/v2/{directory}",
        "/admin",
        "/admin/",
        "/admin/log",
        "/api/v1",
        "/api/v1/directories/",
        "/api/v1/docs",
        "/metrics/",
        "/readyz/",
    ],
)
def test_no_answer_names_the_host_the_client_sent(scim: Scim, path: str) -> None:
    """`curl -H 'Host: evil.example.com'` on any path: no header and no body names that host (every absolute URL
    comes from public_url; there are no redirects built from the request)."""
    url = path.replace("{directory}", scim.directory_id)
    for method in ("GET", "POST"):
        response = scim.client.request(
            method, url, headers={**scim.headers(), "Host": "evil.example.com"}, follow_redirects=False
        )
        assert "evil.example.com" not in response.text, (method, url, response.text[:300])
        assert not any("evil.example.com" in value for value in response.headers.values()), (method, url)


def test_a_created_resource_location_comes_from_public_url(scim: Scim) -> None:
    response = scim.client.post(
        f"{scim.base}/Users",
        json={"schemas": [USER], "userName": "host@example.com"},
        headers={**scim.headers(), "Host": "evil.example.com"},
    )
    assert response.status_code == 201 and response.headers["location"].startswith("http://testserver/")


_NAMES = count()


@pytest.mark.both_backends
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["create", "touch"]), min_size=2, max_size=6))
def test_meta_times_read_back_select_exactly_in_filters(scim: Scim, steps: list[str]) -> None:
    """Every meta.created / meta.lastModified value read back, used in eq/gt/ge/lt/le, selects exactly the
    resources whose value compares so (issue 19: values were compared finer than they are shown)."""
    made: list[str] = []
    for step in steps:
        if step == "create" or not made:
            made.append(scim.create_user(f"t{next(_NAMES)}@example.com")["id"])
        else:
            response = scim.client.patch(
                f"{scim.base}/Users/{made[0]}",
                json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": step}]},
                headers=scim.headers(),
            )
            assert response.status_code == 200
    listed = scim.get("/Users", params={"count": 1000}).json()["Resources"]
    shown = {r["id"]: r["meta"] for r in listed}
    for attribute in ("created", "lastModified"):
        times = {rid: datetime.fromisoformat(meta[attribute].replace("Z", "+00:00")) for rid, meta in shown.items()}
        for rid in made[:3]:
            value = shown[rid][attribute]
            at = times[rid]
            expected = {
                "eq": {r for r, t in times.items() if t == at},
                "gt": {r for r, t in times.items() if t > at},
                "ge": {r for r, t in times.items() if t >= at},
                "lt": {r for r, t in times.items() if t < at},
                "le": {r for r, t in times.items() if t <= at},
            }
            for op, ids in expected.items():
                query = {"filter": f'meta.{attribute} {op} "{value}"', "count": 1000}
                got = {r["id"] for r in scim.get("/Users", params=query).json()["Resources"]}
                assert got == ids, (attribute, op, value)
