"""Every failure is a SCIM error (RFC 7644 §3.12) with the right status and scimType, and changes nothing."""

import json
from typing import Any

import pytest

from tests.helpers.scim import Scim, assert_scim_error

USER = "urn:ietf:params:scim:schemas:core:2.0:User"

BAD_USER_BODIES = pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ("{not json", "invalidSyntax"),
        ("", "invalidSyntax"),
        ('{"userName": NaN}', "invalidSyntax"),
        ("[" * 100_000 + "]" * 100_000, "invalidSyntax"),
        ('["a list"]', "invalidSyntax"),
        ('{"schemas": ["' + USER + '"]}', "invalidValue"),
        ('{"userName": ""}', "invalidValue"),
        ('{"userName": 123}', "invalidValue"),
        ('{"userName": "x", "emails": "a@b.c"}', "invalidValue"),
        ('{"userName": "x", "name": ["a"]}', "invalidValue"),
        ('{"userName": "x", "active": "maybe"}', "invalidValue"),
        (
            '{"userName": "x", "emails": [{"value": "a@b", "primary": true}, {"value": "c@d", "primary": true}]}',
            "invalidValue",
        ),
        ('{"userName": "x", "UserName": "y"}', "invalidSyntax"),
        ('{"userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "nope"}', "invalidValue"),
    ],
)


@BAD_USER_BODIES
def test_bad_user_bodies_are_400_and_create_nothing(scim: Scim, body: str, scim_type: str) -> None:
    """Malformed JSON, wrong types and a missing userName are 400s with the RFC scimType; nothing is stored."""
    response = scim.client.post(
        scim.base + "/Users", content=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    assert_scim_error(response, 400, scim_type)
    assert scim.get("/Users").json()["totalResults"] == 0


@BAD_USER_BODIES
def test_bad_user_bodies_in_a_put_are_400_and_change_nothing(scim: Scim, body: str, scim_type: str) -> None:
    """The same bodies as a PUT replacement: refused with the same scimType, the user and its ETag untouched."""
    created = scim.create_user("kept@example.com", title="Engineer")
    before = scim.get(f"/Users/{created['id']}")
    response = scim.client.put(
        f"{scim.base}/Users/{created['id']}",
        content=body,
        headers=scim.headers({"Content-Type": "application/scim+json"}),
    )
    assert_scim_error(response, 400, scim_type)
    after = scim.get(f"/Users/{created['id']}")
    assert after.json() == before.json() and after.headers["ETag"] == before.headers["ETag"]


def test_error_detail_does_not_echo_large_input(scim: Scim) -> None:
    """A detail quotes at most a short excerpt of what was sent."""
    response = scim.post("/Users", {"userName": "x", "title": ["<script>" * 1000]})
    body = assert_scim_error(response, 400, "invalidValue")
    assert len(body["detail"]) < 300


def test_body_over_the_limit_is_413(scim: Scim, settings: Any) -> None:
    """A body larger than max_body_bytes is refused with 413 before it is parsed."""
    settings.max_body_bytes = 2048
    big = {"schemas": [USER], "userName": "big@example.com", "title": "x" * 4096}
    assert_scim_error(scim.post("/Users", big), 413)
    assert scim.get("/Users").json()["totalResults"] == 0


def test_chunked_body_over_the_limit_is_413(scim: Scim, settings: Any) -> None:
    """A streamed body without Content-Length is counted as it arrives."""
    settings.max_body_bytes = 2048

    def chunks() -> Any:
        yield b'{"userName": "chunked@example.com", "title": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    response = scim.client.post(scim.base + "/Users", content=chunks(), headers=scim.headers())
    assert_scim_error(response, 413)


@pytest.mark.parametrize("content_type", ["application/json", "application/scim+json; charset=utf-8"])
def test_json_content_types_are_accepted(scim: Scim, content_type: str) -> None:
    """Bodies are accepted as application/scim+json or application/json (with parameters)."""
    response = scim.client.post(
        scim.base + "/Users",
        content=json.dumps({"userName": f"ct-{content_type}"}),
        headers=scim.headers({"Content-Type": content_type}),
    )
    assert response.status_code == 201


def test_other_content_types_are_415(scim: Scim) -> None:
    """A form or text body is not a SCIM request."""
    response = scim.client.post(
        scim.base + "/Users",
        content="userName=x",
        headers=scim.headers({"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert_scim_error(response, 415)


def test_wrong_method_is_405(scim: Scim) -> None:
    """A method an endpoint does not have is a SCIM 405 naming the allowed ones."""
    response = scim.client.request("DELETE", scim.base + "/Users", headers=scim.headers())
    body = assert_scim_error(response, 405)
    assert "GET" in body["detail"] and "POST" in body["detail"]


def test_unknown_endpoint_is_scim_404(scim: Scim) -> None:
    """An unknown path below the directory is a SCIM 404, never an HTML page."""
    assert_scim_error(scim.get("/Nope"), 404)
    assert_scim_error(scim.client.get("/somewhere/else"), 404)


def test_unknown_core_attributes_are_ignored_and_extensions_kept(scim: Scim) -> None:
    """An unknown core attribute is dropped, not refused; an extension's object is kept as sent, and a schema URI
    naming nothing the body holds adds nothing (issue 18: a custom extension used to be dropped too)."""
    created = scim.create_user(
        "extra@example.com",
        schemas=[USER, "urn:example:unknown"],
        favouriteColour="blue",
        **{"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User": {"badge": "7"}},
    )
    assert "favouriteColour" not in created
    assert created["schemas"] == [USER, "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"]
    assert created["urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"] == {"badge": "7"}


@pytest.mark.both_backends
@pytest.mark.parametrize(
    "body",
    [
        '{"userName": "a\\u0000b"}',
        '{"userName": "a\\ud800b"}',
        '{"userName": "ok", "title": "\\udfff"}',
        '{"userName": "ok", "\\ud800": "x"}',
        '{"userName": "ok", "emails": [{"value": "x\\u0000@example.com"}]}',
    ],
)
def test_strings_no_database_can_store_are_400(scim: Scim, body: str) -> None:
    """NUL (refused by PostgreSQL) and unpaired surrogates (not UTF-8) are 400 invalidValue, never a 500."""
    response = scim.client.post(
        scim.base + "/Users", content=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    assert_scim_error(response, 400, "invalidValue")
    assert scim.get("/Users").json()["totalResults"] == 0


@pytest.mark.both_backends
@pytest.mark.parametrize("resource_id", ["a%00b", "x" * 5000, "%ED%A0%80"])
def test_ids_no_resource_can_have_are_404(scim: Scim, resource_id: str) -> None:
    """GET, PUT and DELETE with an impossible id answer 404 like any unknown id."""
    assert_scim_error(scim.get(f"/Users/{resource_id}"), 404)
    assert_scim_error(scim.put(f"/Groups/{resource_id}", {"displayName": "x"}), 404)
    assert_scim_error(scim.delete(f"/Users/{resource_id}"), 404)
