"""Users: create, read, replace, delete and list (RFC 7644 §3.3–3.6), with the RFC 7643 §8 examples."""

from typing import Any

import pytest

from tests.helpers.scim import BASE_URL, Scim, assert_scim_error, load_sample, patch

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_create_returns_201_with_location_and_server_owned_fields(scim: Scim) -> None:
    """POST answers 201, the full resource, a Location equal to meta.location, and a server-assigned id."""
    sample = load_sample("rfc/rfc7643-8.2-full_user.json")
    response = scim.post("/Users", sample)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/scim+json"
    body = response.json()
    assert body["id"] != sample["id"] and body["id"].startswith("usr_")
    assert response.headers["location"] == body["meta"]["location"] == f"{BASE_URL}{scim.base}/Users/{body['id']}"
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["created"] != sample["meta"]["created"]
    assert body["meta"]["created"] == body["meta"]["lastModified"]
    assert response.headers["etag"] == body["meta"]["version"]
    assert body["schemas"] == [USER]


@pytest.mark.both_backends
def test_rfc_full_user_round_trips_exactly(scim: Scim) -> None:
    """Every attribute of the RFC 7643 §8.2 user reads back as sent, except the server-owned ones and password."""
    sample = load_sample("rfc/rfc7643-8.2-full_user.json")
    created = scim.post("/Users", sample).json()
    read = scim.get(f"/Users/{created['id']}").json()
    assert read == created
    for key in ("id", "meta", "password", "groups"):
        sample.pop(key)
        read.pop(key, None)
    assert read == sample


def test_password_is_never_returned_or_stored(scim: Scim) -> None:
    """A password sent by the IdP is discarded: not in the response, not in the database."""
    created = scim.create_user("pw@example.com", password="Canary-7f3a-secret")
    assert "password" not in created
    assert "Canary-7f3a" not in scim.get(f"/Users/{created['id']}").text
    assert "Canary-7f3a" not in scim.get("/Users").text


@pytest.mark.both_backends
def test_password_is_not_in_the_database(scim: Scim, database: Any) -> None:
    """The canary password appears nowhere in the stored rows."""
    scim.create_user("pw2@example.com", password="Canary-91b2-secret")
    with database.read() as conn:
        dump = str([tuple(row) for row in conn.exec_driver_sql("SELECT * FROM users")])
    assert "Canary-91b2" not in dump


@pytest.mark.both_backends
def test_enterprise_user_round_trips_and_manager_is_an_object(scim: Scim) -> None:
    """RFC 7643 §8.3: the extension reads back; the manager gets $ref and displayName when it exists here."""
    manager = scim.create_user("john@example.com", displayName="John Smith")
    sample = load_sample("rfc/rfc7643-8.3-enterprise_user.json")
    sample[ENTERPRISE]["manager"] = {"value": manager["id"]}
    created = scim.post("/Users", sample).json()
    assert created["schemas"] == [USER, ENTERPRISE]
    extension = created[ENTERPRISE]
    assert extension["employeeNumber"] == "701984" and extension["department"] == "Tour Operations"
    assert extension["manager"] == {"value": manager["id"], "$ref": f"{BASE_URL}{scim.base}/Users/{manager['id']}"}
    # displayName is computed from the manager and returned when asked for (returned: request).
    named = scim.get(f"/Users/{created['id']}?attributes={ENTERPRISE}:manager.displayName").json()
    assert named[ENTERPRISE] == {"manager": {"displayName": "John Smith"}}


def test_manager_sent_as_bare_id_is_stored_as_object(scim: Scim) -> None:
    """Entra sends manager as the manager's id string; it is returned as {"value": id, ...}."""
    manager = scim.create_user("boss@example.com")
    created = scim.create_user("worker@example.com", **{ENTERPRISE: {"manager": manager["id"]}})
    assert created[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert "displayName" not in created[ENTERPRISE]["manager"]


@pytest.mark.both_backends
def test_values_are_stored_exactly_as_sent(scim: Scim) -> None:
    """No normalisation of emails, phone numbers or names: Entra re-sends any value that comes back different."""
    created = scim.create_user(
        "Mixed.Case@Contoso.COM",
        emails=[{"value": "Mixed.Case@Contoso.COM", "type": "work"}, {"value": "x@foo.test", "type": "other"}],
        phoneNumbers=[{"value": "+1 (425) 555-0100", "type": "work"}, {"value": "55555555555", "type": "mobile"}],
        name={"givenName": "  Ada ", "familyName": "Lovelace"},
    )
    read = scim.get(f"/Users/{created['id']}").json()
    assert read["userName"] == "Mixed.Case@Contoso.COM"
    assert read["emails"][0]["value"] == "Mixed.Case@Contoso.COM"
    assert read["emails"][1]["value"] == "x@foo.test"
    assert [p["value"] for p in read["phoneNumbers"]] == ["+1 (425) 555-0100", "55555555555"]
    assert read["name"]["givenName"] == "  Ada "


def test_client_sent_id_and_meta_are_ignored(scim: Scim) -> None:
    """RFC 7643 §3.1: the server assigns id and meta; a client's values are ignored, not an error."""
    created = scim.create_user(
        "d1@example.com", id="attacker-id", meta={"created": "1999-01-01T00:00:00Z", "version": 'W/"x"'}
    )
    assert created["id"] != "attacker-id"
    assert not created["meta"]["created"].startswith("1999")
    assert scim.get("/Users/attacker-id").status_code == 404


def test_groups_sent_on_a_user_are_ignored(scim: Scim) -> None:
    """User.groups is read-only (RFC 7643 §4.1.2): a user cannot put itself in a group."""
    group = scim.create_group("Admins")
    created = scim.create_user("sneaky@example.com", groups=[{"value": group["id"]}])
    assert "groups" not in created
    assert "members" not in scim.get(f"/Groups/{group['id']}").json()


def test_active_defaults_to_true_and_string_booleans_are_accepted(scim: Scim) -> None:
    """A created user is active unless told otherwise; "False"/"True" strings become booleans."""
    assert scim.create_user("a1@example.com")["active"] is True
    assert scim.create_user("a2@example.com", active="False")["active"] is False
    assert scim.create_user("a3@example.com", active="TRUE")["active"] is True


def test_get_unknown_user_is_404(scim: Scim) -> None:
    """An id that does not exist is a 404 SCIM error."""
    response = scim.get("/Users/usr_doesnotexist")
    assert response.status_code == 404
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_put_replaces_attributes_and_keeps_read_only_ones(scim: Scim) -> None:
    """PUT replaces what was sent, drops what was omitted, keeps id and created, and bumps the version."""
    created = scim.create_user("put@example.com", title="Engineer", nickName="P")
    body = {"schemas": [USER], "userName": "put@example.com", "title": "Manager", "id": created["id"], "meta": {}}
    response = scim.put(f"/Users/{created['id']}", body)
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["title"] == "Manager"
    assert "nickName" not in replaced
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["version"] != created["meta"]["version"]
    assert scim.get(f"/Users/{created['id']}").json() == replaced


def test_put_naming_another_id_is_refused(scim: Scim) -> None:
    """A PUT may echo the resource's own id (Okta and Entra PUT what they read), not name another: 400 mutability,
    nothing changed (issue 19; it used to be ignored)."""
    created = scim.create_user("other@example.com", title="Engineer")
    body = {"schemas": [USER], "userName": "other@example.com", "title": "Manager", "id": "usr_someoneelse"}
    response = scim.put(f"/Users/{created['id']}", body)
    assert_scim_error(response, 400, "mutability")
    assert scim.get(f"/Users/{created['id']}").json() == created


@pytest.mark.parametrize("active", [True, False])
def test_put_without_active_does_not_flip_it(scim: Scim, active: bool) -> None:
    """Okta PUTs users without `active`: a disabled user stays disabled, an active one stays active."""
    created = scim.create_user("flip@example.com", active=active)
    replaced = scim.put(f"/Users/{created['id']}", {"schemas": [USER], "userName": "flip@example.com"}).json()
    assert replaced["active"] is active


@pytest.mark.both_backends
def test_put_can_rename_and_renaming_onto_a_taken_name_is_409(scim: Scim) -> None:
    """PUT may change userName; a name another user holds is a 409 and changes nothing."""
    first = scim.create_user("first@example.com")
    scim.create_user("second@example.com")
    renamed = scim.put(f"/Users/{first['id']}", {"schemas": [USER], "userName": "third@example.com"})
    assert renamed.json()["userName"] == "third@example.com"
    clash = scim.put(f"/Users/{first['id']}", {"schemas": [USER], "userName": "SECOND@example.com"})
    assert clash.status_code == 409 and clash.json()["scimType"] == "uniqueness"
    assert scim.get(f"/Users/{first['id']}").json()["userName"] == "third@example.com"


def test_put_unknown_user_is_404(scim: Scim) -> None:
    """Replacing a user that does not exist is a 404 and creates nothing."""
    response = scim.put("/Users/usr_missing", {"schemas": [USER], "userName": "ghost@example.com"})
    assert response.status_code == 404
    assert scim.get("/Users").json()["totalResults"] == 0


def test_delete_then_404_everywhere(scim: Scim) -> None:
    """DELETE answers 204; afterwards GET, PUT and DELETE are 404 and filters find nothing."""
    created = scim.create_user("gone@example.com")
    response = scim.delete(f"/Users/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    assert scim.get(f"/Users/{created['id']}").status_code == 404
    assert scim.put(f"/Users/{created['id']}", {"schemas": [USER], "userName": "gone@example.com"}).status_code == 404
    assert scim.delete(f"/Users/{created['id']}").status_code == 404
    assert scim.get('/Users?filter=userName eq "gone@example.com"').json()["totalResults"] == 0


@pytest.mark.both_backends
def test_recreate_after_delete_gets_a_new_id(scim: Scim) -> None:
    """The userName of a deleted user can be provisioned again, as a new user."""
    first = scim.create_user("again@example.com")
    scim.delete(f"/Users/{first['id']}")
    second = scim.create_user("again@example.com")
    assert second["id"] != first["id"]


def test_inactive_users_are_still_returned(scim: Scim) -> None:
    """Entra requires disabled users to stay readable by GET and by filter."""
    created = scim.create_user("off@example.com", active=False)
    assert scim.get(f"/Users/{created['id']}").json()["active"] is False
    found = scim.get('/Users?filter=userName eq "off@example.com"').json()
    assert found["totalResults"] == 1


def _user_names(scim: Scim, query: str) -> list[str]:
    return [r["userName"] for r in scim.get(f"/Users?{query}").json()["Resources"]]


@pytest.mark.both_backends
def test_paging_walks_every_user_once(scim: Scim) -> None:
    """startIndex/count pages are disjoint, in a stable order, with the right totals."""
    names = [f"page{i:02d}@example.com" for i in range(7)]
    for name in names:
        scim.create_user(name)
    first = scim.get("/Users?startIndex=1&count=3").json()
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (7, 1, 3)
    seen = _user_names(scim, "startIndex=1&count=3") + _user_names(scim, "startIndex=4&count=3")
    seen += _user_names(scim, "startIndex=7&count=3")
    assert seen == names
    last = scim.get("/Users?startIndex=7&count=3").json()
    assert (last["startIndex"], last["itemsPerPage"]) == (7, 1)


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("query", "start_index", "items"),
    [
        ("count=0", 1, 0),
        ("count=-5", 1, 0),
        ("startIndex=0&count=2", 1, 2),
        ("startIndex=-3&count=2", 1, 2),
        ("startIndex=1000000000000&count=2", 1000000000000, 0),
    ],
)
def test_paging_edge_values_follow_rfc_7644(scim: Scim, query: str, start_index: int, items: int) -> None:
    """RFC 7644 §3.4.2.4: count below 0 means 0, startIndex below 1 means 1; beyond the end is an empty page."""
    for i in range(3):
        scim.create_user(f"edge{i}@example.com")
    body = scim.get(f"/Users?{query}").json()
    assert body["totalResults"] == 3
    assert body["startIndex"] == start_index
    assert body["itemsPerPage"] == len(body["Resources"]) == items


@pytest.mark.both_backends
def test_count_is_clamped_to_max_page_size(scim: Scim, settings: Any) -> None:
    """A huge count returns at most maxResults resources."""
    settings.max_page_size = 2
    for i in range(3):
        scim.create_user(f"clamp{i}@example.com")
    assert scim.get("/Users?count=1000000000").json()["itemsPerPage"] == 2


@pytest.mark.parametrize("query", ["count=abc", "startIndex=one"])
def test_non_numeric_paging_is_400(scim: Scim, query: str) -> None:
    """count and startIndex must be integers."""
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


def test_list_without_users_is_an_empty_list_response(scim: Scim) -> None:
    """An empty directory lists as 200 with Resources: [] (Entra requires the capitalised, present key)."""
    body = scim.get("/Users").json()
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_attributes_and_excluded_attributes(scim: Scim) -> None:
    """attributes=id returns only id and schemas; excludedAttributes drops what it names and never id."""
    created = scim.create_user("proj@example.com", title="T", name={"givenName": "G", "familyName": "F"})
    only_id = scim.get(f"/Users/{created['id']}?attributes=id").json()
    assert set(only_id) == {"schemas", "id"}
    some = scim.get(f"/Users/{created['id']}?attributes=userName,name.givenName").json()
    assert some["name"] == {"givenName": "G"} and "title" not in some and some["userName"] == "proj@example.com"
    excluded = scim.get(f"/Users/{created['id']}?excludedAttributes=title,name.familyName,id").json()
    assert "title" not in excluded and excluded["name"] == {"givenName": "G"} and excluded["id"] == created["id"]
    listed = scim.get("/Users?attributes=userName").json()["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}


def test_trailing_slash_is_served_not_redirected(scim: Scim) -> None:
    """GET /Users/ answers like /Users (no 307 redirect an IdP would have to follow)."""
    created = scim.create_user("slash@example.com")
    response = scim.get("/Users/", follow_redirects=False)
    assert response.status_code == 200 and response.json()["totalResults"] == 1
    assert scim.get(f"/Users/{created['id']}/", follow_redirects=False).json()["id"] == created["id"]


@pytest.mark.both_backends
def test_default_page_size_never_exceeds_max_page_size(scim: Scim, settings: Any) -> None:
    """Without count, a page holds default_page_size resources, but never more than max_page_size."""
    settings.default_page_size, settings.max_page_size = 5, 2
    for i in range(3):
        scim.create_user(f"dps{i}@example.com")
    assert scim.get("/Users").json()["itemsPerPage"] == 2


def test_location_and_etag_survive_a_projection_without_meta(scim: Scim) -> None:
    """POST ?attributes=userName still answers 201 with Location and ETag (and the user exists once)."""
    response = scim.post("/Users?attributes=userName", {"userName": "proj-meta@example.com"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"schemas", "id", "userName"}
    assert response.headers["location"] == f"{BASE_URL}{scim.base}/Users/{body['id']}"
    assert response.headers["etag"] == 'W/"1"'
    read = scim.get(f"/Users/{body['id']}?excludedAttributes=meta")
    assert "meta" not in read.json() and read.headers["etag"] == 'W/"1"'


def test_core_schema_urn_names_every_core_attribute(scim: Scim) -> None:
    """attributes=<core URN> returns the core attributes; excludedAttributes=<core URN> leaves the extension."""
    created = scim.create_user("urn@example.com", title="T", **{ENTERPRISE: {"department": "D"}})
    only_core = scim.get(f"/Users/{created['id']}?attributes={USER}").json()
    assert only_core["title"] == "T" and ENTERPRISE not in only_core
    only_ext = scim.get(f"/Users/{created['id']}?excludedAttributes={USER}").json()
    assert set(only_ext) == {"schemas", "id", ENTERPRISE}


def test_urn_qualified_keys_are_read_like_plain_ones(scim: Scim) -> None:
    """urn:…:User:title, urn:…:enterprise:…:department and a bare-id manager work in any order."""
    manager = scim.create_user("mgr@example.com")
    created = scim.create_user(
        "qualified@example.com",
        **{
            f"{USER}:title": "Lead",
            f"{ENTERPRISE}:costCenter": "42",
            ENTERPRISE: {"department": "Ops"},
            f"{ENTERPRISE}:manager": manager["id"],
        },
    )
    assert created["title"] == "Lead"
    assert created[ENTERPRISE]["costCenter"] == "42" and created[ENTERPRISE]["department"] == "Ops"
    assert created[ENTERPRISE]["manager"]["value"] == manager["id"]


def test_whitespace_user_name_is_missing(scim: Scim) -> None:
    """A userName of spaces is no userName."""
    response = scim.post("/Users", {"userName": "   "})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"


@pytest.mark.both_backends
@pytest.mark.parametrize("attribute", ["userName", "externalId", "displayName"])
def test_indexed_values_over_the_limit_are_400_on_every_backend(scim: Scim, attribute: str) -> None:
    """Values too long to index are refused with the same 400 on SQLite and PostgreSQL, never a 500."""
    body: dict[str, Any] = {"userName": "long@example.com", attribute: "界" * 1000}
    response = scim.post("/Users", body)
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert "bytes" in response.json()["detail"]
    assert scim.create_user("界" * 600)["userName"] == "界" * 600  # 1,800 bytes: fine


def test_internal_names_in_attributes_select_nothing(scim: Scim) -> None:
    """attributes=password, __class__ or _sa_instance_state return no such field (security plan C11)."""
    created = scim.create_user("c11@example.com", password="Canary-c11-secret")
    for names in ("password", "meta,password", "__class__", "_sa_instance_state", "__dict__"):
        body = scim.get(f"/Users/{created['id']}?attributes={names}").json()
        assert set(body) <= {"schemas", "id", "meta"}, names
        assert "Canary-c11" not in str(body)


@pytest.mark.both_backends
def test_a_write_answers_the_user_as_a_read_shows_it(scim: Scim) -> None:
    """The answer to a POST, PUT or PATCH is the event's rendering of the user (read once, issue 21): it must be
    what a GET returns, groups and manager's display name included."""
    manager = scim.create_user("manager@contoso.example", displayName="The Manager")
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    user = scim.post("/Users", {"userName": "worker@contoso.example", enterprise: {"manager": manager["id"]}}).json()
    assert user == scim.get(f"/Users/{user['id']}").json()
    scim.create_group("Engineering", members=[user["id"]])
    patched = patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "Engineer"})
    shown = scim.get(f"/Users/{user['id']}").json()
    assert patched.json() == shown
    assert shown["groups"][0]["display"] == "Engineering"
    asked = f"?attributes={enterprise}:manager.displayName"  # returned: request, so only when asked for
    named = patch(scim, f"/Users/{user['id']}{asked}", {"op": "replace", "path": "title", "value": "Engineer 2"})
    assert named.json()[enterprise] == {"manager": {"displayName": "The Manager"}}
    assert named.json() == scim.get(f"/Users/{user['id']}{asked}").json()
    replaced = scim.put(f"/Users/{user['id']}", {**shown, "title": "Lead"})
    assert replaced.json() == scim.get(f"/Users/{user['id']}").json()
    projected = patch(scim, f"/Users/{user['id']}?attributes=title", {"op": "replace", "path": "title", "value": "X"})
    assert projected.json() == scim.get(f"/Users/{user['id']}?attributes=title").json()
    assert set(projected.json()) == {"schemas", "id", "title"}
