"""Custom schema extensions (issue 18): undeclared ones kept as sent, declared ones validated, filtered, sorted,
indexed, advertised and mapped into the application's view; bad input refused with nothing changed."""

import json
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.scim.extensions import MAX_EXTENSIONS
from scimgate.store.database import Database
from scimgate.store.tables import users
from tests.helpers.scim import Api, Scim, all_events, assert_scim_error, flush, new_directory, scrape

# Filters, sorting, indexes, JSON storage and events: every test here depends on the storage.
pytestmark = pytest.mark.both_backends

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
TEAM = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"
ACME_SCHEMA: dict[str, Any] = {
    "id": ACME,
    "name": "AcmeUser",
    "description": "What Acme's application needs to know about a person.",
    "attributes": [
        {"name": "region", "type": "string", "description": "Sales region."},
        {"name": "badgeId", "type": "string", "caseExact": True},
        {"name": "vip", "type": "boolean"},
        {"name": "level", "type": "integer"},
        {"name": "started", "type": "dateTime"},
        {"name": "tags", "type": "string", "multiValued": True},
        {
            "name": "desk",
            "type": "complex",
            "subAttributes": [{"name": "building", "type": "string"}, {"name": "floor", "type": "integer"}],
        },
    ],
    "scimgate": {"indexed": ["region", "badgeId"], "names": {"badgeId": "badge", "region": "sales_region"}},
}


def declare(api: Api, definition: dict[str, Any], directories: list[str] | None = None) -> Any:
    return api.post("/schemas", {"definition": definition, "directory_ids": directories})


def patch(scim: Scim, user_id: str, *operations: dict[str, Any]) -> Any:
    return scim.client.patch(
        f"{scim.base}/Users/{user_id}",
        content=json.dumps({"schemas": [PATCH_OP], "Operations": list(operations)}),
        headers=scim.headers({"Content-Type": "application/scim+json"}),
    )


def stored(database: Database, user_id: str) -> dict[str, Any]:
    with database.read() as conn:
        found: dict[str, Any] = conn.execute(sa.select(users.c.attributes).where(users.c.id == user_id)).scalar_one()
    return found


def test_an_undeclared_extension_is_kept_exactly_as_sent(scim: Scim, database: Database) -> None:
    """Nested objects, arrays, numbers, booleans and unicode come back as sent, in the response, in the stored
    resource and in the event's raw resource; JSON nulls (unassigned, RFC 7643 §2.5) are left out."""
    sent = {"region": "EMEA", "badgeId": "B-7", "n": 1.5, "ok": False, "tags": ["x", "ÿ"], "desk": {"floor": 4}}
    created = scim.create_user("keep@example.com", **{ACME: {**sent, "gone": None}})
    assert created[ACME] == sent and created["schemas"] == [USER, ACME]
    assert stored(database, created["id"])[ACME] == sent
    [event] = all_events(database, scim.directory_id, ["user.created"])
    assert event["data"]["raw"][ACME] == sent
    assert event["data"]["object"]["custom"] == {}


def test_declared_attributes_reach_the_application_under_its_names(scim: Scim, api: Api, database: Database) -> None:
    """The normalised user (events, API) carries declared values in ``custom`` under the declared names, and
    user.updated names a changed custom attribute."""
    assert declare(api, ACME_SCHEMA).status_code == 201
    user = scim.create_user("named@example.com", **{ACME: {"region": "EMEA", "badgeId": "B-7", "vip": "True"}})
    assert user[ACME] == {"region": "EMEA", "badgeId": "B-7", "vip": True}  # Entra's "True" read as a boolean
    assert patch(scim, user["id"], {"op": "replace", "path": f"{ACME}:region", "value": "APAC"}).status_code == 200
    created, updated = all_events(database, scim.directory_id, ["user.created", "user.updated"])
    assert created["data"]["object"]["custom"] == {"sales_region": "EMEA", "badge": "B-7", "vip": True}
    assert updated["data"]["object"]["custom"]["sales_region"] == "APAC"
    assert updated["data"]["changed"] == [f"{ACME}:region"]
    listed = api.get(f"/directories/{scim.directory_id}/users").json()["data"][0]
    assert listed["custom"]["sales_region"] == "APAC" and listed["raw"][ACME]["region"] == "APAC"


@pytest.mark.parametrize(
    ("value", "attribute"),
    [({"vip": "maybe"}, "vip"), ({"level": "4"}, "level"), ({"tags": "x"}, "tags"), ({"started": "soon"}, "started")],
)
def test_a_declared_attribute_of_the_wrong_type_is_refused(
    scim: Scim, api: Api, database: Database, value: dict[str, Any], attribute: str
) -> None:
    """400 invalidValue naming the attribute; nothing is stored."""
    declare(api, ACME_SCHEMA)
    response = scim.post("/Users", {"schemas": [USER], "userName": "typed@example.com", ACME: value})
    assert_scim_error(response, 400, "invalidValue")
    assert attribute in response.json()["detail"]
    assert scim.get("/Users").json()["totalResults"] == 0


def test_filters_and_sorting_on_declared_attributes_follow_their_types(scim: Scim, api: Api) -> None:
    """caseExact, case-insensitive strings, booleans, numbers, multi-valued and sub-attributes, on both backends."""
    declare(api, ACME_SCHEMA)
    first = scim.create_user("a@example.com", **{ACME: {"region": "EMEA", "badgeId": "B-7", "vip": True, "level": 3}})
    second = scim.create_user(
        "b@example.com",
        **{ACME: {"region": "apac", "badgeId": "b-7", "level": 10, "tags": ["red", "blue"], "desk": {"floor": 2}}},
    )

    def ids(query: str, sort: str | None = None) -> list[str]:
        params = {"filter": query, **({"sortBy": sort} if sort else {})}
        response = scim.get("/Users", params=params)
        assert response.status_code == 200, response.text
        return [resource["id"] for resource in response.json()["Resources"]]

    assert ids(f'{ACME}:region eq "emea"') == [first["id"]]
    assert ids(f'{ACME}:badgeId eq "B-7"') == [first["id"]]
    assert ids(f"{ACME}:vip eq true") == [first["id"]]
    assert ids(f"{ACME}:level gt 5") == [second["id"]]
    assert ids(f'{ACME}:tags eq "blue"') == [second["id"]]
    assert ids(f"{ACME}:desk.floor eq 2") == [second["id"]]
    assert ids(f"{ACME}:region pr", sort=f"{ACME}:region") == [second["id"], first["id"]]


def test_a_filter_on_an_extension_declared_for_another_directory_is_refused(
    scim: Scim, other_scim: Scim, api: Api
) -> None:
    """A declaration for one directory is that directory's: another's /Schemas lacks it, its filters are 400."""
    assert declare(api, ACME_SCHEMA, [scim.directory_id]).status_code == 201
    assert ACME in [s["id"] for s in scim.get("/Schemas").json()["Resources"]]
    assert ACME not in [s["id"] for s in other_scim.get("/Schemas").json()["Resources"]]
    refused = other_scim.get("/Users", params={"filter": f'{ACME}:region eq "EMEA"'})
    assert_scim_error(refused, 400, "invalidFilter")
    assert "declare" in refused.json()["detail"].lower()
    extensions = scim.get("/ResourceTypes/User").json()["schemaExtensions"]
    assert {"schema": ACME, "required": False} in extensions


def test_schemas_shows_the_declaration_in_rfc_form(scim: Scim, api: Api) -> None:
    """/Schemas/{id} is the RFC 7643 §7 schema, without scimgate's own options."""
    declare(api, ACME_SCHEMA)
    schema = scim.get(f"/Schemas/{ACME}").json()
    assert "scimgate" not in schema and schema["meta"]["resourceType"] == "Schema"
    region = next(a for a in schema["attributes"] if a["name"] == "region")
    assert region == {
        "name": "region",
        "type": "string",
        "multiValued": False,
        "description": "Sales region.",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }


def test_removing_a_declaration_keeps_the_values(scim: Scim, api: Api, database: Database) -> None:
    """The values stay, now undeclared: still returned, no longer filterable."""
    declare(api, ACME_SCHEMA)
    user = scim.create_user("stays@example.com", **{ACME: {"region": "EMEA"}})
    assert api.delete(f"/schemas/{ACME}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").json()[ACME] == {"region": "EMEA"}
    assert_scim_error(scim.get("/Users", params={"filter": f'{ACME}:region eq "EMEA"'}), 400, "invalidFilter")
    assert api.delete(f"/schemas/{ACME}").status_code == 404


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ({"id": "not-a-urn", "attributes": [{"name": "a"}]}, "URN"),
        ({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "attributes": [{"name": "a"}]}, "built"),
        ({"id": ACME, "attributes": []}, "non-empty"),
        ({"id": ACME, "attributes": [{"name": "a", "type": "text"}]}, "type"),
        ({"id": ACME, "attributes": [{"name": "a"}, {"name": "A"}]}, "twice"),
        ({"id": ACME, "attributes": [{"name": "c", "type": "complex"}]}, "subAttributes"),
        ({"id": ACME, "attributes": [{"name": "a"}], "scimgate": {"indexed": ["b"]}}, "indexed"),
        ({"id": ACME, "attributes": [{"name": "a", "type": "boolean"}], "scimgate": {"indexed": ["a"]}}, "string"),
        ({"id": ACME, "attributes": [{"name": "a"}, {"name": "b"}], "scimgate": {"names": {"a": "b"}}}, "same"),
        ({"id": ACME, "attributes": [{"name": "a"}], "scimgate": {"resourceType": "Device"}}, "resourceType"),
    ],
)
def test_a_bad_declaration_is_refused_with_what_to_change(api: Api, definition: dict[str, Any], words: str) -> None:
    response = declare(api, definition)
    assert response.status_code == 400 and words in response.json()["detail"], response.text
    assert api.get("/schemas").json() == []


def test_keys_differing_only_in_case_are_refused(scim: Scim) -> None:
    """Two spellings of one extension, or of one of its attributes, are ambiguous: 400, nothing stored."""
    twice = {"schemas": [USER], "userName": "twice@example.com", ACME: {"a": 1}, ACME.upper(): {"b": 2}}
    assert_scim_error(scim.post("/Users", twice), 400, "invalidSyntax")
    inner = {"schemas": [USER], "userName": "inner@example.com", ACME: {"region": "a", "Region": "b"}}
    assert_scim_error(scim.post("/Users", inner), 400, "invalidSyntax")
    assert scim.get("/Users").json()["totalResults"] == 0


def test_too_many_extensions_are_refused(scim: Scim) -> None:
    """A user may hold at most MAX_EXTENSIONS extension objects; 50 is a clear 400 and nothing is stored."""
    body: dict[str, Any] = {"schemas": [USER], "userName": "many@example.com"}
    body.update({f"urn:example:ext{n}:2.0:User": {"value": n} for n in range(50)})
    response = scim.post("/Users", body)
    assert_scim_error(response, 400, "invalidValue")
    assert str(MAX_EXTENSIONS) in response.json()["detail"]
    fits = {key: value for key, value in list(body.items())[: 2 + MAX_EXTENSIONS]}
    assert scim.post("/Users", fits).status_code == 201


def test_a_patch_that_would_outgrow_the_body_limit_is_413_and_changes_nothing(scim: Scim, database: Database) -> None:
    """Each PATCH is under the limit, but the resource may not grow past what one PUT could carry."""
    user = scim.create_user("big@example.com")
    chunk = "x" * 400_000
    assert patch(scim, user["id"], {"op": "add", "path": f"{ACME}:a", "value": chunk}).status_code == 200
    assert patch(scim, user["id"], {"op": "add", "path": f"{ACME}:b", "value": chunk}).status_code == 200
    before = stored(database, user["id"])
    response = patch(scim, user["id"], {"op": "add", "path": f"{ACME}:c", "value": chunk})
    assert_scim_error(response, 413)
    assert "max_body_bytes" in response.json()["detail"]
    assert stored(database, user["id"]) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": ACME, "value": {"region": "EMEA"}},
        {"op": "replace", "value": {ACME: {"region": "EMEA"}}},
        {"op": "replace", "value": {f"{ACME}:region": "EMEA"}},
        {"op": "add", "path": f"{ACME}:REGION", "value": "EMEA"},
    ],
    ids=["urn-path", "no-path-object", "no-path-urn-key", "attribute-path-other-case"],
)
def test_every_patch_form_reaches_an_undeclared_extension(scim: Scim, operation: dict[str, Any]) -> None:
    """With and without path, URN-prefixed keys, case-insensitive names (the stored spelling stays)."""
    user = scim.create_user("forms@example.com", **{ACME: {"region": "none", "badgeId": "B-1"}})
    response = patch(scim, user["id"], operation)
    assert response.status_code == 200, response.text
    assert response.json()[ACME] == {"region": "EMEA", "badgeId": "B-1"}


def test_remove_forms_on_an_undeclared_extension(scim: Scim) -> None:
    user = scim.create_user("rm@example.com", **{ACME: {"region": "EMEA", "desk": {"floor": 4, "room": "A"}}})
    body = patch(scim, user["id"], {"op": "remove", "path": f"{ACME}:desk.room"}).json()
    assert body[ACME] == {"region": "EMEA", "desk": {"floor": 4}}
    body = patch(scim, user["id"], {"op": "remove", "path": ACME}).json()
    assert ACME not in body and body["schemas"] == [USER]


def test_a_value_filter_on_an_undeclared_extension_says_to_declare_it(scim: Scim) -> None:
    user = scim.create_user("vf@example.com", **{ACME: {"tags": [{"type": "x", "value": "1"}]}})
    response = patch(scim, user["id"], {"op": "replace", "path": f'{ACME}:tags[type eq "x"].value', "value": "2"})
    assert_scim_error(response, 400, "invalidPath")
    assert "declare" in response.json()["detail"]


def test_an_ignored_attribute_is_named_in_the_log_and_counted(scim: Scim, database: Database) -> None:
    """Tolerant mode accepts an unknown core attribute, and the log row and the metric say so."""
    response = scim.post("/Users", {"schemas": [USER], "userName": "typo@example.com", "titel": "CEO"})
    assert response.status_code == 201
    flush(scim.client)
    with database.read() as conn:
        from scimgate.store.tables import request_log

        row = conn.execute(sa.select(request_log).where(request_log.c.id == response.headers["x-request-id"])).one()
    assert row.ignored == ["titel"] and row.status == 201
    metrics = scrape(scim.client)
    assert 'scimgate_scim_ignored_attributes_total{resource="User"} 1.0' in metrics


def test_the_cli_declares_lists_and_removes(tmp_path: Any, database: Database) -> None:
    """scimgate schema add/list/remove on the same database the server uses."""
    from click.testing import CliRunner

    from scimgate.cli import main

    directory_id, _ = new_directory(database, "CLI")
    url = database.url.render_as_string(hide_password=False)
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(ACME_SCHEMA))
    runner = CliRunner()
    added = runner.invoke(main, ["schema", "add", str(path), "--directory", directory_id, "--database-url", url])
    assert added.exit_code == 0, added.output
    assert f"Declared {ACME} (User, {directory_id})" in added.output
    listed = runner.invoke(main, ["schema", "list", "--json", "--database-url", url])
    assert [d["schema_id"] for d in json.loads(listed.output)] == [ACME]
    path.write_text(json.dumps({"id": ACME, "attributes": []}))
    bad = runner.invoke(main, ["schema", "add", str(path), "--database-url", url])
    assert bad.exit_code == 1 and "non-empty" in bad.output
    removed = runner.invoke(main, ["schema", "remove", ACME, "--directory", directory_id, "--database-url", url])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(main, ["schema", "remove", ACME, "--database-url", url])
    assert again.exit_code == 3


def test_a_group_extension_is_declared_and_filtered(scim: Scim, api: Api) -> None:
    """Groups take extensions too (resourceType from the URN's :Group)."""
    declare(api, {"id": TEAM, "attributes": [{"name": "costCentre", "type": "string"}]})
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Sales", TEAM: {"costCentre": "CC-1"}})
    group = response.json()
    assert response.status_code == 201 and group[TEAM] == {"costCentre": "CC-1"}
    found = scim.get("/Groups", params={"filter": f'{TEAM}:costCentre eq "cc-1"'}).json()
    assert [g["id"] for g in found["Resources"]] == [group["id"]]


HR = "urn:ietf:params:scim:schemas:extension:hr:2.0:User"
HR_SCHEMA: dict[str, Any] = {
    "id": HR,
    "attributes": [
        {"name": "employeeNumber", "type": "string", "required": True},
        {"name": "grade", "type": "string", "canonicalValues": ["A", "B"]},
        {"name": "badgeSerial", "type": "string", "required": True, "mutability": "readOnly"},
        {
            "name": "contract",
            "type": "complex",
            "subAttributes": [{"name": "ends", "type": "dateTime", "required": True}, {"name": "kind"}],
        },
    ],
}


def count_users(scim: Scim) -> int:
    total: int = scim.get("/Users").json()["totalResults"]
    return total


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"schemas": [USER, HR], HR: {"grade": "A"}}, "employeeNumber"),
        ({"schemas": [USER], HR: {"grade": "A"}}, "employeeNumber"),  # Entra does not list the URN
        ({"schemas": [USER, HR]}, "employeeNumber"),
        ({"schemas": [USER, HR.upper()]}, "employeeNumber"),
        ({"schemas": [USER], f"{HR}:grade": "A"}, "employeeNumber"),
        ({"schemas": [USER], HR: {"employeeNumber": "  "}}, "employeeNumber"),
        ({"schemas": [USER], HR: {"employeeNumber": "E1", "contract": {"kind": "fixed"}}}, "contract.ends"),
    ],
    ids=["listed-and-sent", "sent", "listed-only", "listed-other-case", "urn-key", "blank", "required-sub"],
)
def test_a_required_declared_attribute_missing_from_a_create_is_refused(
    scim: Scim, api: Api, body: dict[str, Any], named: str
) -> None:
    """A user that carries a declared extension (or lists it in schemas) carries its required attributes: 400
    invalidValue naming the attribute, nothing stored."""
    assert declare(api, HR_SCHEMA).status_code == 201
    response = scim.post("/Users", {**body, "userName": "req@example.com"})
    assert_scim_error(response, 400, "invalidValue")
    assert f"{HR}:{named}" in response.json()["detail"]
    assert count_users(scim) == 0


def test_a_user_without_the_extension_needs_none_of_its_attributes(scim: Scim, api: Api) -> None:
    """Declared extensions are optional for the resource type (/ResourceTypes says required: false); readOnly
    attributes are never asked of the IdP; canonicalValues are advisory (a value outside them is kept)."""
    assert declare(api, HR_SCHEMA).status_code == 201
    assert {"schema": HR, "required": False} in scim.get("/ResourceTypes/User").json()["schemaExtensions"]
    scim.create_user("plain@example.com")
    kept = scim.create_user("kept@example.com", **{HR: {"employeeNumber": "E1", "grade": "Z"}})
    assert kept[HR] == {"employeeNumber": "E1", "grade": "Z"}


def test_a_put_without_a_required_declared_attribute_is_refused_and_changes_nothing(
    scim: Scim, api: Api, database: Database
) -> None:
    declare(api, HR_SCHEMA)
    user = scim.create_user("put@example.com", **{HR: {"employeeNumber": "E1", "grade": "A"}})
    before = stored(database, user["id"])
    response = scim.put(f"/Users/{user['id']}", {"schemas": [USER, HR], "userName": "put@example.com", HR: {}})
    assert_scim_error(response, 400, "invalidValue")
    assert f"{HR}:employeeNumber" in response.json()["detail"]
    assert stored(database, user["id"]) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": f"{HR}:employeeNumber"},
        {"op": "Remove", "path": f"{HR}:EMPLOYEENUMBER"},
        {"op": "replace", "path": f"{HR}:employeeNumber", "value": ""},
        {"op": "replace", "value": {f"{HR}:employeeNumber": None}},
        {"op": "remove", "path": HR},
        {"op": "add", "path": f"{HR}:contract", "value": {"kind": "fixed"}},
    ],
    ids=["remove", "remove-other-case", "replace-empty", "no-path-null", "remove-extension", "required-sub"],
)
def test_a_patch_cannot_remove_a_required_declared_attribute(
    scim: Scim, api: Api, database: Database, operation: dict[str, Any]
) -> None:
    """Whatever the form, even when it was the extension's only value: 400 invalidValue, nothing changed."""
    declare(api, HR_SCHEMA)
    user = scim.create_user("patch@example.com", **{HR: {"employeeNumber": "E1"}})
    before = stored(database, user["id"])
    response = patch(scim, user["id"], operation)
    assert_scim_error(response, 400, "invalidValue")
    assert HR in response.json()["detail"]
    assert stored(database, user["id"]) == before
    assert patch(scim, user["id"], {"op": "replace", "path": f"{HR}:grade", "value": "B"}).status_code == 200


def test_a_user_stored_before_required_was_declared_can_still_be_patched(scim: Scim, api: Api) -> None:
    """Declaring re-reads nothing: a user kept without the value can still be deactivated and updated, and a PATCH
    that brings the extension to a user without it must bring its required attributes."""
    legacy = scim.create_user("legacy@example.com", **{HR: {"grade": "A"}})
    plain = scim.create_user("plain@example.com")
    declare(api, HR_SCHEMA)
    assert patch(scim, legacy["id"], {"op": "replace", "path": "active", "value": False}).status_code == 200
    assert patch(scim, legacy["id"], {"op": "replace", "path": f"{HR}:grade", "value": "B"}).status_code == 200
    refused = patch(scim, plain["id"], {"op": "add", "path": f"{HR}:grade", "value": "A"})
    assert_scim_error(refused, 400, "invalidValue")
    added = patch(scim, plain["id"], {"op": "add", "path": HR, "value": {"grade": "A", "employeeNumber": "E2"}})
    assert added.status_code == 200, added.text


def test_a_user_stored_before_required_was_declared_can_be_deactivated_by_put(scim: Scim, api: Api) -> None:
    """authentik, OneLogin and Okta's AIW deactivate by PUT of what they read: a user kept without a value
    declared required later is not made to carry it (a PUT still may not drop one the user holds)."""
    legacy = scim.create_user("legacy-put@example.com", **{HR: {"grade": "A"}})
    declare(api, HR_SCHEMA)
    read = scim.get(f"/Users/{legacy['id']}").json()
    response = scim.put(f"/Users/{legacy['id']}", {**read, "active": False})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and response.json()[HR] == {"grade": "A"}


# Values kept while ACME was undeclared that its declaration does not accept: a date alone and a phrase for a
# dateTime, a word for an integer, a number among strings, a word for an integer sub-attribute.
MISFITS: dict[str, Any] = {
    "started": "next monday",
    "level": "three",
    "tags": ["red", 5],
    "desk": {"building": "B", "floor": "2nd"},
}


def misfit_user(scim: Scim, api: Api, name: str, **acme: Any) -> dict[str, Any]:
    """A user stored with MISFITS before ACME was declared."""
    user = scim.create_user(f"{name}@example.com", **{ACME: {**MISFITS, **acme}})
    assert declare(api, ACME_SCHEMA).status_code == 201
    return user


@pytest.mark.parametrize("started", ["next monday", "2024-01-01"])
def test_a_user_with_old_misfit_values_is_deactivated_and_keeps_them(
    scim: Scim, api: Api, database: Database, started: str
) -> None:
    """Entra's deactivation (and any PATCH of other values) succeeds; values the PATCH did not touch stay exactly
    as stored, even those that no longer fit the declaration: a PATCH is type-checked on what it changes."""
    user = misfit_user(scim, api, "leaver", region="EMEA", started=started)
    user_id = user["id"]
    deactivated = patch(scim, user_id, {"op": "Replace", "path": "active", "value": "False"})
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    assert deactivated.json()[ACME] == {**MISFITS, "region": "EMEA", "started": started}
    assert stored(database, user_id)[ACME] == {**MISFITS, "region": "EMEA", "started": started}
    # Other attributes of the same extension, a sub-attribute next to a misfit one, a value added beside one.
    assert patch(scim, user_id, {"op": "replace", "path": f"{ACME}:region", "value": "APAC"}).status_code == 200
    assert patch(scim, user_id, {"op": "replace", "path": f"{ACME}:desk.building", "value": "C"}).status_code == 200
    assert patch(scim, user_id, {"op": "add", "path": f"{ACME}:tags", "value": ["blue"]}).status_code == 200
    after = stored(database, user_id)
    assert after[ACME] == {
        **MISFITS,
        "started": started,
        "region": "APAC",
        "tags": ["red", 5, "blue"],
        "desk": {"building": "C", "floor": "2nd"},
    }
    assert after["active"] is False


@pytest.mark.parametrize(
    ("operation", "named"),
    [
        ({"op": "replace", "path": f"{ACME}:started", "value": "next tuesday"}, "started"),
        ({"op": "replace", "path": f"{ACME}:started", "value": "2024-01-01"}, "started"),
        ({"op": "replace", "value": {"active": False, f"{ACME}:level": "four"}}, "level"),
        ({"op": "add", "path": f"{ACME}:tags", "value": [6]}, "tags"),
        ({"op": "replace", "path": f"{ACME}:desk.floor", "value": "3rd"}, "desk.floor"),
    ],
    ids=["phrase", "date-only", "no-path", "multi-valued", "sub-attribute"],
)
def test_a_patch_writing_a_misfit_value_is_refused_and_changes_nothing(
    scim: Scim, api: Api, database: Database, operation: dict[str, Any], named: str
) -> None:
    """New or changed values must fit the declaration, beside old ones that do not: 400 invalidValue naming the
    attribute, nothing changed (not even active, sent in the same PATCH)."""
    user = misfit_user(scim, api, "writer")
    before = stored(database, user["id"])
    response = patch(scim, user["id"], operation)
    assert_scim_error(response, 400, "invalidValue")
    assert named in response.json()["detail"]
    assert stored(database, user["id"]) == before


def test_a_put_sending_back_old_misfit_values_is_accepted(scim: Scim, api: Api, database: Database) -> None:
    """A PUT is judged on what it changes too: sending back what was read (Okta's AIW) with active false keeps the
    old values as they are; changing one of them to another misfit is 400 and changes nothing."""
    user = misfit_user(scim, api, "putter")
    read = scim.get(f"/Users/{user['id']}").json()
    deactivated = scim.put(f"/Users/{user['id']}", {**read, "active": False})
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False and deactivated.json()[ACME] == MISFITS
    before = stored(database, user["id"])
    assert before[ACME] == MISFITS
    changed = {**read, ACME: {**MISFITS, "started": "next tuesday"}}
    assert_scim_error(scim.put(f"/Users/{user['id']}", changed), 400, "invalidValue")
    assert stored(database, user["id"]) == before
    anywhere = {key: value for key, value in changed.items() if key not in ("id", "meta")}
    assert_scim_error(scim.put("/Users/no-such-user", anywhere), 400, "invalidValue")  # not a 404: refused as sent
    # A number where a string was stored is another value, not the same one sent back.
    assert_scim_error(
        scim.put(f"/Users/{user['id']}", {**read, ACME: {**MISFITS, "tags": ["red", 5.0]}}), 400, "invalidValue"
    )
    assert stored(database, user["id"]) == before
