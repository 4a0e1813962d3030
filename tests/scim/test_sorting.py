"""sortBy / sortOrder (RFC 7644 §3.4.2.3) run in the database, on any singular attribute, ties broken by id."""

import pytest

from tests.helpers.scim import Scim, assert_scim_error

pytestmark = pytest.mark.both_backends

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _names(scim: Scim, query: str) -> list[str]:
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.text
    return [r["userName"] for r in response.json()["Resources"]]


def test_sort_by_user_name_ignores_case(scim: Scim) -> None:
    """userName is caseExact false: "bob" sorts between "Alice" and "Carol"; descending reverses."""
    for name in ("Carol", "bob", "Alice"):
        scim.create_user(name)
    assert _names(scim, "sortBy=userName") == ["Alice", "bob", "Carol"]
    assert _names(scim, "sortBy=USERNAME&sortOrder=Descending") == ["Carol", "bob", "Alice"]


def test_sort_by_sub_attribute_puts_missing_values_last(scim: Scim) -> None:
    """name.familyName: users without one come last ascending and first descending."""
    scim.create_user("u1", name={"familyName": "Zimmer"})
    scim.create_user("u2")
    scim.create_user("u3", name={"familyName": "adams"})
    assert _names(scim, "sortBy=name.familyName") == ["u3", "u1", "u2"]
    assert _names(scim, "sortBy=name.familyName&sortOrder=descending") == ["u2", "u1", "u3"]


def test_sort_by_extension_attribute_and_case_exact(scim: Scim) -> None:
    """Enterprise attributes sort by their URN-qualified name; externalId (caseExact) sorts by code point."""
    scim.create_user("e1", externalId="b", **{ENTERPRISE: {"department": "Sales"}})
    scim.create_user("e2", externalId="B", **{ENTERPRISE: {"department": "engineering"}})
    scim.create_user("e3", externalId="a", **{ENTERPRISE: {"department": "Legal"}})
    assert _names(scim, f"sortBy={ENTERPRISE}:department") == ["e2", "e3", "e1"]
    assert _names(scim, "sortBy=externalId") == ["e2", "e3", "e1"]  # "B" < "a" < "b" by code point


def test_ties_are_broken_by_id_so_pages_are_stable(scim: Scim) -> None:
    """Sorting on a value many users share still pages through every user exactly once."""
    created = [scim.create_user(f"tie{i}", title="Same")["id"] for i in range(7)]
    seen = []
    for start in (1, 4, 7):
        page = scim.get(f"/Users?sortBy=title&startIndex={start}&count=3").json()
        seen += [r["id"] for r in page["Resources"]]
    assert seen == created


def test_sort_with_filter_and_in_a_search_request(scim: Scim) -> None:
    """sortBy combines with filters and works in a SearchRequest body."""
    for name in ("s-b", "s-a", "x-c"):
        scim.create_user(name)
    body = {"filter": 'userName sw "s-"', "sortBy": "userName", "sortOrder": "descending"}
    result = scim.post("/Users/.search", body).json()
    assert [r["userName"] for r in result["Resources"]] == ["s-b", "s-a"]


def test_groups_sort_by_display_name(scim: Scim) -> None:
    """Groups sort too."""
    for name in ("beta", "Alpha", "gamma"):
        scim.create_group(name)
    names = [g["displayName"] for g in scim.get("/Groups?sortBy=displayName").json()["Resources"]]
    assert names == ["Alpha", "beta", "gamma"]


@pytest.mark.parametrize(
    "query",
    [
        "sortBy=nosuch",
        "sortBy=emails",
        "sortBy=emails.value",
        "sortBy=name",
        "sortBy=password",
        "sortBy=userName&sortOrder=sideways",
        f"sortBy={ENTERPRISE}:nosuch",
    ],
)
def test_unsortable_requests_are_400(scim: Scim, query: str) -> None:
    """Unknown, multi-valued and complex attributes, and an unknown sortOrder, are 400 invalidValue."""
    scim.create_user("x")
    assert_scim_error(scim.get(f"/Users?{query}"), 400, "invalidValue")


def test_root_search_refuses_sort_by(scim: Scim) -> None:
    """Users and Groups share no schema to sort by."""
    assert_scim_error(scim.post("/.search", {"sortBy": "displayName"}), 400, "invalidValue")


@pytest.mark.parametrize("sub", ["displayName", "$ref"])
def test_computed_values_are_not_sortable(scim: Scim, sub: str) -> None:
    """The manager's displayName and $ref are computed on output, so they cannot order anything."""
    assert_scim_error(scim.get(f"/Users?sortBy={ENTERPRISE}:manager.{sub}"), 400, "invalidValue")
