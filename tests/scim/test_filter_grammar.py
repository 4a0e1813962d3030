"""The whole filter grammar on every attribute: sub-attributes, value paths, extensions, multi-valued attributes."""

import pytest

from tests.helpers.scim import Scim, assert_scim_error

pytestmark = pytest.mark.both_backends

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def ids(scim: Scim, endpoint: str, filter_: str) -> set[str]:
    response = scim.get(endpoint, params={"filter": filter_})
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["Resources"]}


@pytest.fixture
def people(scim: Scim) -> dict[str, str]:
    boss = scim.create_user("boss@contoso.com", displayName="The Boss", title="CEO")["id"]
    ada = scim.create_user(
        "ada@contoso.com",
        title="Engineer",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[
            {"value": "Ada@Contoso.com", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
        addresses=[{"type": "work", "locality": "London", "country": "GB"}],
        phoneNumbers=[{"value": "+44 20 7946 0000", "type": "mobile"}],
        roles=[{"value": "admin", "display": "Administrator"}],
        **{ENTERPRISE: {"department": "R&D", "employeeNumber": "42", "manager": {"value": boss}}},
    )["id"]
    bob = scim.create_user(
        "bob@contoso.com",
        title="engineer",
        active=False,
        name={"givenName": "Bob"},
        emails=[{"value": "bob@other.example", "type": "work"}],
        **{ENTERPRISE: {"department": "Sales"}},
    )["id"]
    return {"boss": boss, "ada": ada, "bob": bob}


def test_singular_attributes_in_the_document(scim: Scim, people: dict[str, str]) -> None:
    """title (caseExact false), name.familyName, and pr on a sub-attribute."""
    assert ids(scim, "/Users", 'title eq "ENGINEER"') == {people["ada"], people["bob"]}
    assert ids(scim, "/Users", 'name.familyName sw "love"') == {people["ada"]}
    assert ids(scim, "/Users", "name.familyName pr") == {people["ada"]}
    assert ids(scim, "/Users", "name pr") == {people["ada"], people["bob"]}
    assert ids(scim, "/Users", "not (name.familyName pr) and active eq true") == {people["boss"]}
    assert ids(scim, "/Users", 'title gt "D"') == {people["ada"], people["bob"]}  # folded: "ceo" < "d" < "engineer"


def test_extension_attributes(scim: Scim, people: dict[str, str]) -> None:
    """URN-qualified names, including the manager's value (Entra's manager reference check)."""
    assert ids(scim, "/Users", f'{ENTERPRISE}:department eq "r&d"') == {people["ada"]}
    assert ids(scim, "/Users", f"{ENTERPRISE}:employeeNumber pr") == {people["ada"]}
    assert ids(scim, "/Users", f'{ENTERPRISE}:manager.value eq "{people["boss"]}"') == {people["ada"]}
    check = f'id eq "{people["ada"]}" and {ENTERPRISE}:manager.value eq "{people["boss"]}"'
    assert ids(scim, "/Users", check) == {people["ada"]}


def test_multi_valued_attributes(scim: Scim, people: dict[str, str]) -> None:
    """Any value matching is enough; emails eq compares the value; booleans inside values."""
    assert ids(scim, "/Users", 'emails.value eq "ada@contoso.com"') == {people["ada"]}
    assert ids(scim, "/Users", 'emails eq "BOB@other.example"') == {people["bob"]}
    assert ids(scim, "/Users", 'emails.type eq "home"') == {people["ada"]}
    assert ids(scim, "/Users", "emails.primary eq true") == {people["ada"]}
    assert ids(scim, "/Users", "emails pr") == {people["ada"], people["bob"]}
    assert ids(scim, "/Users", 'addresses.locality eq "london"') == {people["ada"]}
    assert ids(scim, "/Users", 'roles.display co "admin"') == {people["ada"]}


def test_value_paths_as_entra_and_the_rfc_write_them(scim: Scim, people: dict[str, str]) -> None:
    """emails[type eq "work" and value co "@contoso.com"] and Entra's emails[type eq "work"].value eq "…"."""
    assert ids(scim, "/Users", 'emails[type eq "work" and value co "@contoso.com"]') == {people["ada"]}
    assert ids(scim, "/Users", 'emails[type eq "work"].value eq "ada@contoso.com"') == {people["ada"]}
    # The two conditions must hold for the same email: Ada's home email is not a work email.
    assert ids(scim, "/Users", 'emails[type eq "work" and value ew "@home.example"]') == set()
    assert ids(scim, "/Users", 'emails[type eq "home"] or title eq "CEO"') == {people["ada"], people["boss"]}
    assert ids(scim, "/Users", 'phoneNumbers[type eq "mobile" and value sw "+44"]') == {people["ada"]}


def test_groups_and_members(scim: Scim, people: dict[str, str]) -> None:
    """User.groups and Group.members are filterable through the membership table."""
    eng = scim.create_group("Engineering", [people["ada"], people["bob"]])["id"]
    nested = scim.create_group("Everyone", [eng])["id"]
    assert ids(scim, "/Users", 'groups.display eq "engineering"') == {people["ada"], people["bob"]}
    assert ids(scim, "/Users", f'groups[value eq "{eng}"] and active eq true') == {people["ada"]}
    assert ids(scim, "/Groups", 'members.type eq "Group"') == {nested}
    assert ids(scim, "/Groups", f'members[value eq "{people["ada"]}" or value eq "nobody"]') == {eng}
    assert ids(scim, "/Groups", "members pr") == {eng, nested}
    assert ids(scim, "/Groups", 'meta.resourceType eq "Group"') == {eng, nested}


def test_null_comparisons(scim: Scim, people: dict[str, str]) -> None:
    """eq null is absence, ne null is presence."""
    assert ids(scim, "/Users", "title eq null") == set()
    assert ids(scim, "/Users", "name.familyName eq null") == {people["boss"], people["bob"]}
    assert ids(scim, "/Users", "name.familyName ne null") == {people["ada"]}


@pytest.mark.parametrize(
    "filter_",
    [
        'name eq "x"',
        'emails.value.x eq "x"',
        'emails[value[type eq "x"]]',
        'emails[nosuch eq "x"]',
        'title[value eq "x"]',
        f'{ENTERPRISE}:manager.displayName eq "x"',
        "meta.location pr",
        'x509Certificates.value eq "x"',
        'emails.primary eq "yes"',
        'urn:example:nope:attr eq "x"',
        " or ".join(f'userName eq "u{i}"' for i in range(51)),
    ],
)
def test_unfilterable_paths_are_400(scim: Scim, filter_: str) -> None:
    """Complex attributes without a sub-attribute, too-deep paths, computed values, binaries, wrong types, unknown
    schemas and filters over the predicate limit are refused with a SCIM 400."""
    response = scim.get("/Users", params={"filter": filter_})
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] in ("invalidFilter", "tooMany")


def test_too_many_predicates_is_too_many(scim: Scim) -> None:
    """More than 50 comparisons: 400 tooMany (the 27th comparison is no different from the first)."""
    filter_ = " or ".join(f'userName eq "u{i}"' for i in range(51))
    assert_scim_error(scim.get("/Users", params={"filter": filter_}), 400, "tooMany")
    filter_ = " or ".join(f'userName eq "u{i}"' for i in range(50))
    assert scim.get("/Users", params={"filter": filter_}).status_code == 200


def test_nesting_deeper_than_the_limit_is_400(scim: Scim) -> None:
    """40 levels of parentheses (well under the length limit) is a 400 invalidFilter, not a RecursionError."""
    deep = "(" * 40 + 'userName eq "a"' + ")" * 40
    assert_scim_error(scim.get("/Users", params={"filter": deep}), 400, "invalidFilter")
    shallow = "(" * 10 + 'userName eq "a"' + ")" * 10
    assert scim.get("/Users", params={"filter": shallow}).status_code == 200


def test_bytes_that_are_not_utf8_are_400(scim: Scim) -> None:
    """%FF%FE in a filter value cannot be read back as the client meant it: 400, not a silent mismatch."""
    assert_scim_error(scim.get("/Users?filter=userName%20eq%20%22%FF%FE%22"), 400, "invalidFilter")


def test_empty_display_name_is_a_value(scim: Scim) -> None:
    """displayName "" is stored and compares like title "" (it is not "no value")."""
    empty = scim.create_user("empty-dn", displayName="", title="")["id"]
    assert ids(scim, "/Users", 'displayName eq ""') == {empty}
    assert ids(scim, "/Users", 'displayName ne "a"') == ids(scim, "/Users", 'title ne "a"') == {empty}


def test_ids_compare_exactly(scim: Scim) -> None:
    """manager.value, members.value and groups.value are ids: caseExact, as /Schemas says."""
    boss = scim.create_user("boss2")["id"]
    worker = scim.create_user("worker2", **{ENTERPRISE: {"manager": boss}})["id"]
    assert ids(scim, "/Users", f'{ENTERPRISE}:manager.value eq "{boss}"') == {worker}
    assert ids(scim, "/Users", f'{ENTERPRISE}:manager.value eq "{boss.upper()}"') == set()
    schema = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json()
    members = next(a for a in schema["attributes"] if a["name"] == "members")
    assert next(s for s in members["subAttributes"] if s["name"] == "value")["caseExact"] is True


def test_resource_type_compares_only_with_strings(scim: Scim) -> None:
    """meta.resourceType eq 1 is a wrong value type: 400, not an empty list."""
    assert_scim_error(scim.get("/Users", params={"filter": "meta.resourceType eq 1"}), 400, "invalidFilter")
