"""userName and Group displayName are unique per directory, case-insensitively, after Unicode normalisation."""

import pytest

from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice@x.com", "alice@x.com"),
        ("Alice@X.com", "alice@x.com"),
        ("ÉMILE@x.com", "émile@x.com"),  # non-ASCII case: SQLite's lower() would miss this
        ("\u00e9mile@x.com", "e\u0301mile@x.com"),  # NFC vs NFD
        ("ａlice@x.com", "alice@x.com"),  # full-width a
        ("STRASSE", "straße"),  # case folding, not lower()
    ],
)
def test_user_name_variants_conflict(scim: Scim, first: str, second: str) -> None:
    """The second create is 409 uniqueness with an actionable detail, and there is still one user."""
    scim.create_user(first)
    response = scim.post("/Users", {"schemas": [USER], "userName": second})
    assert response.status_code == 409
    body = response.json()
    assert body["scimType"] == "uniqueness" and body["status"] == "409"
    assert "already exists" in body["detail"]
    assert scim.get("/Users").json()["totalResults"] == 1


def test_group_display_name_variants_conflict(scim: Scim) -> None:
    """Entra matches groups by displayName, so two groups may not share one."""
    scim.create_group("Engineering")
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "ENGINEERING"})
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"


def test_uniqueness_is_per_directory(scim: Scim, other_scim: Scim) -> None:
    """The same userName in two directories is two users: no cross-directory 409 oracle."""
    scim.create_user("shared@example.com")
    assert other_scim.post("/Users", {"schemas": [USER], "userName": "shared@example.com"}).status_code == 201


def test_filter_finds_user_in_any_case(scim: Scim) -> None:
    """userName is caseExact false: a filter in another case finds the user (Entra's validator checks this)."""
    created = scim.create_user("Case.Test@Contoso.com")
    found = scim.get('/Users?filter=userName eq "case.test@contoso.COM"').json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]
