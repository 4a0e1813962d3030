"""Discovery endpoints advertise exactly what the server supports, as ListResponses."""

from typing import Any

from scimgate.scim.resource_types import USERS
from scimgate.scim.schema import walk
from scimgate.scim.validation import parse_resource
from scimgate.version import __version__
from tests.helpers.scim import BASE_URL, Scim

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def test_service_provider_config_states_what_is_supported(scim: Scim) -> None:
    """changePassword is announced unsupported (passwords are discarded); PATCH, Bulk, filter, sort and ETags are
    supported."""
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200 and response.headers["content-type"] == "application/scim+json"
    spc = response.json()
    assert spc["patch"] == {"supported": True} and spc["etag"] == {"supported": True}
    assert spc["bulk"]["supported"] is True and spc["sort"] == {"supported": True}
    assert spc["changePassword"] == {"supported": False}
    assert spc["filter"] == {"supported": True, "maxResults": 1000}
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert spc["meta"]["location"] == f"{BASE_URL}{scim.base}/ServiceProviderConfig"


def test_service_provider_config_links_this_versions_documentation(scim: Scim) -> None:
    """documentationUri (RFC 7643 §5) is an absolute URL under the public URL, served by this server without a key,
    and what it documents is this version (scimgate/version.py, the one place the version is written)."""
    uri = scim.get("/ServiceProviderConfig").json()["documentationUri"]
    assert uri == f"{BASE_URL}/api/v1/docs"
    page = scim.client.get(uri[len(BASE_URL) :])
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert scim.client.get("/api/v1/openapi.json").json()["info"]["version"] == __version__


def test_resource_types_list_users_and_groups(scim: Scim) -> None:
    """/ResourceTypes is a ListResponse (not a bare array) with User (plus the enterprise extension) and Group."""
    body = scim.get("/ResourceTypes").json()
    assert body["schemas"] == [LIST] and body["totalResults"] == 2
    by_name = {r["name"]: r for r in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}
    ]
    assert by_name["Group"]["endpoint"] == "/Groups"
    assert scim.get("/ResourceTypes/User").json() == by_name["User"]
    assert scim.get("/ResourceTypes/Printer").status_code == 404


def test_schemas_list_the_three_schemas(scim: Scim) -> None:
    """/Schemas lists User, Group and EnterpriseUser; each is also readable by its URN."""
    body = scim.get("/Schemas").json()
    assert body["schemas"] == [LIST]
    ids = [s["id"] for s in body["Resources"]]
    assert ids == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ]
    for schema in body["Resources"]:
        assert scim.get(f"/Schemas/{schema['id']}").json() == schema
    assert scim.get("/Schemas/urn:example:nope").status_code == 404


def _advertised(scim: Scim, urn: str) -> dict[str, dict[str, Any]]:
    schema = scim.get(f"/Schemas/{urn}").json()
    out: dict[str, dict[str, Any]] = {}

    def visit(attrs: list[dict[str, Any]], prefix: str) -> None:
        for attr in attrs:
            out[prefix + attr["name"]] = attr
            visit(attr.get("subAttributes", []), prefix + attr["name"] + ".")

    visit(schema["attributes"], "")
    return out


def test_password_and_unsupported_sub_attributes_are_not_advertised(scim: Scim) -> None:
    """No password (it is discarded), no emails.display (Microsoft's validator rejects it as an Entra path)."""
    user = _advertised(scim, "urn:ietf:params:scim:schemas:core:2.0:User")
    assert "password" not in user
    assert "emails.display" not in user and "phoneNumbers.display" not in user
    assert user["userName"]["uniqueness"] == "server" and user["userName"]["caseExact"] is False
    assert user["groups"]["mutability"] == "readOnly"
    assert user["active"]["type"] == "boolean"


def test_every_advertised_user_attribute_is_stored() -> None:
    """What /Schemas lists is what the validator keeps: a value for every writable attribute survives parsing."""
    for path, attr in walk(USERS.schema.attributes):
        if attr.mutability == "readOnly" or "." in path or attr.type == "complex":
            continue
        value: Any = {"boolean": True, "dateTime": "2026-01-01T00:00:00Z"}.get(attr.type, "v")
        payload = {"userName": "u", path: value} if path != "userName" else {"userName": "u"}
        document = parse_resource(USERS, payload).document
        assert path in document, path
