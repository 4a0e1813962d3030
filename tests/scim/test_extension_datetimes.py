"""Declared dateTime extension attributes compare as instants (issue 18, item 3): in SQL on both backends, offsets
taken into account, at millisecond precision like ``meta.created``; values stay exactly as the IdP sent them."""

from typing import Any

import pytest

from tests.helpers.scim import Api, Scim, assert_scim_error

pytestmark = pytest.mark.both_backends

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCHEMA: dict[str, Any] = {
    "id": ACME,
    "attributes": [
        {"name": "started", "type": "dateTime"},
        {"name": "leaves", "type": "dateTime", "multiValued": True},
        {
            "name": "contract",
            "type": "complex",
            "subAttributes": [{"name": "ends", "type": "dateTime"}, {"name": "kind", "type": "string"}],
        },
        {
            "name": "shifts",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [{"name": "start", "type": "dateTime"}, {"name": "type", "type": "string"}],
        },
    ],
}


@pytest.fixture
def declared(api: Api) -> None:
    response = api.post("/schemas", {"definition": SCHEMA, "directory_ids": None})
    assert response.status_code == 201, response.text


def user(scim: Scim, name: str, **acme: Any) -> str:
    created: str = scim.create_user(f"{name}@example.com", **({ACME: acme} if acme else {}))["id"]
    return created


def found(scim: Scim, condition: str, **params: Any) -> list[str]:
    """The ids a filter on the acme extension selects, sorted."""
    response = scim.get("/Users", params={"filter": condition.replace("acme:", f"{ACME}:"), **params})
    assert response.status_code == 200, response.text
    return sorted(resource["id"] for resource in response.json()["Resources"])


def test_eq_matches_the_exact_text_and_any_spelling_of_the_same_instant(scim: Scim, declared: None) -> None:
    """The value as stored matches itself; the same instant at another offset or with zero fractions matches too;
    the value comes back byte for byte."""
    new_year = user(scim, "ny", started="2024-01-01T00:00:00Z")
    user(scim, "other", started="2024-01-02T00:00:00Z")
    assert found(scim, 'acme:started eq "2024-01-01T00:00:00Z"') == [new_year]
    assert found(scim, 'acme:started eq "2024-01-01T02:00:00+02:00"') == [new_year]
    assert found(scim, 'acme:started eq "2023-12-31T19:00:00.000-05:00"') == [new_year]
    assert new_year not in found(scim, 'acme:started ne "2024-01-01T00:00:00Z"')
    assert scim.get(f"/Users/{new_year}").json()[ACME] == {"started": "2024-01-01T00:00:00Z"}


def test_offsets_are_taken_into_account(scim: Scim, declared: None) -> None:
    """2025-06-01T00:00:00+02:00 is 2025-05-31T22:00:00Z: before 23:00Z, not after it."""
    summer = user(scim, "summer", started="2025-06-01T00:00:00+02:00")
    assert found(scim, 'acme:started gt "2025-05-31T23:00:00Z"') == []
    assert found(scim, 'acme:started lt "2025-05-31T23:00:00Z"') == [summer]
    assert found(scim, 'acme:started eq "2025-05-31T22:00:00Z"') == [summer]
    assert found(scim, 'acme:started ge "2025-05-31T22:00:00Z"') == [summer]
    assert found(scim, 'acme:started le "2025-05-31T22:00:00Z"') == [summer]
    assert found(scim, 'acme:started gt "2025-05-31T22:00:00Z"') == []


def test_fractional_seconds_compare_at_millisecond_precision(scim: Scim, declared: None) -> None:
    """Like meta.created: digits past the millisecond are ignored on both sides (Entra sends seven); a value
    without an offset is UTC."""
    half = user(scim, "half", started="2024-03-01T10:00:00.5Z")
    fine = user(scim, "fine", started="2024-03-01T10:00:00.1234567Z")
    bare = user(scim, "bare", started="2024-03-01T10:00:01")
    assert found(scim, 'acme:started eq "2024-03-01T10:00:00.500Z"') == [half]
    assert found(scim, 'acme:started eq "2024-03-01T10:00:00.123Z"') == [fine]
    assert found(scim, 'acme:started eq "2024-03-01T10:00:00.1239Z"') == [fine]
    assert found(scim, 'acme:started gt "2024-03-01T10:00:00.123Z"') == sorted([half, bare])
    assert found(scim, 'acme:started gt "2024-03-01T10:00:00.499Z"') == sorted([half, bare])
    assert found(scim, 'acme:started lt "2024-03-01T10:00:00.5Z"') == [fine]
    assert found(scim, 'acme:started eq "2024-03-01T10:00:01Z"') == [bare]
    assert scim.get(f"/Users/{fine}").json()[ACME]["started"] == "2024-03-01T10:00:00.1234567Z"


def test_ordering_operators_at_the_boundaries(scim: Scim, declared: None) -> None:
    early, middle, late = (
        user(scim, "early", started="2024-01-01T00:00:00Z"),
        user(scim, "middle", started="2024-06-01T12:00:00+01:00"),
        user(scim, "late", started="2024-12-31T23:59:59.999Z"),
    )
    user(scim, "none")
    boundary = "2024-06-01T11:00:00Z"
    assert found(scim, f'acme:started ge "{boundary}"') == sorted([middle, late])
    assert found(scim, f'acme:started gt "{boundary}"') == [late]
    assert found(scim, f'acme:started le "{boundary}"') == sorted([early, middle])
    assert found(scim, f'acme:started lt "{boundary}"') == [early]
    # 2024-12-31T23:59:59.999Z written at +01:00: equal to late's instant, to the millisecond.
    assert found(scim, 'acme:started lt "2025-01-01T00:59:59.999+01:00"') == sorted([early, middle])
    assert found(scim, 'acme:started le "2025-01-01T00:59:59.999+01:00"') == sorted([early, middle, late])


def test_sorting_orders_instants_not_text(scim: Scim, declared: None) -> None:
    """Mixed offsets and fractions sort by instant; users without a value come last ascending, first descending;
    cursor pages walk the same order."""
    four = user(scim, "four", started="2024-01-01T01:00:00-03:00")  # 04:00Z
    five = user(scim, "five", started="2024-01-01T10:00:00+05:00")  # 05:00Z
    five_half = user(scim, "fivehalf", started="2024-01-01T05:00:00.5Z")
    six = user(scim, "six", started="2024-01-01T06:00:00Z")
    none = user(scim, "none")
    ascending = [four, five, five_half, six, none]
    sort = {"sortBy": f"{ACME}:started"}
    assert [r["id"] for r in scim.get("/Users", params=sort).json()["Resources"]] == ascending
    descending = scim.get("/Users", params={**sort, "sortOrder": "descending"}).json()["Resources"]
    assert [r["id"] for r in descending] == [none, *reversed(ascending[:-1])]
    walked: list[str] = []
    cursor = ""
    while cursor is not None:
        page = scim.get("/Users", params={**sort, "count": 2, "cursor": cursor}).json()
        walked += [r["id"] for r in page["Resources"]]
        cursor = page.get("nextCursor")
    assert walked == ascending


def test_present_null_and_absent_values(scim: Scim, declared: None) -> None:
    """pr and eq null test presence; a comparison with a user without a value is false, so its negation holds."""
    dated = user(scim, "dated", started="2024-01-01T00:00:00Z")
    undated = user(scim, "undated", contract={"kind": "fixed"})
    assert found(scim, "acme:started pr") == [dated]
    assert found(scim, 'not (acme:started gt "2024-01-01T00:00:00Z")') == sorted([dated, undated])
    assert found(scim, 'acme:started pr and acme:started le "2024-01-01T01:00:00+01:00"') == [dated]
    assert found(scim, "not (acme:started pr)") == [undated]
    assert found(scim, "acme:started eq null") == [undated]
    assert found(scim, "acme:contract.ends pr") == []


BAD_CONDITIONS = [
    'acme:started gt "soon"',
    'acme:started eq "2024-13-01T00:00:00Z"',
    'acme:started eq "2024-02-30T00:00:00Z"',
    'acme:started eq "2024"',
    'acme:started eq "2024-01-01t00:00:00z"',
    'acme:started eq "2024-01-01T24:00:00Z"',
    'acme:started ge "0001-01-01T00:00:00+01:00"',
    'acme:started sw "2024"',
    "acme:started gt 5",
    'acme:leaves eq "yesterday"',
    'acme:contract.ends lt "2024-01"',
    'acme:shifts[start lt "noon"]',
]


def test_a_value_that_is_no_date_is_400(scim: Scim, declared: None) -> None:
    """Not an ISO 8601 date or dateTime (a phrase, a year or a month alone, an impossible date or hour, lower-case t
    and z), no UTC equivalent, a number, or a substring operator: 400 invalidFilter, never a 500 or a silent
    mismatch."""
    for condition in BAD_CONDITIONS:
        response = scim.get("/Users", params={"filter": condition.replace("acme:", f"{ACME}:")})
        assert response.status_code == 400, (condition, response.text)
        assert_scim_error(response, 400, "invalidFilter")


# Each names 2024-01-01T00:00:00Z: the forms a filter value may take besides xsd:dateTime, as for meta.lastModified.
MIDNIGHT = [
    "2024-01-01",
    "20240101",
    "2024-01-01T00",
    "2024-01-01T00:00",
    "2024-01-01 00:00:00",
    "2024-01-01T01:00:00+0100",
    "2024-01-01T01:00+01",
    "2024-01-01T15:00:00+15:00",
    "2024-W01-1",
]


def test_a_date_alone_in_a_filter_is_its_midnight_utc(scim: Scim, declared: None) -> None:
    """As for meta.lastModified (scripts send gt "2024-01-01"), a filter value may be a date alone, that day's
    midnight UTC, or another ISO 8601 form of an instant; eq is that instant, not the whole day. Values written stay
    xsd:dateTimes."""
    before = user(scim, "before", started="2023-12-31T23:59:59.999Z")
    at = user(scim, "at", started="2024-01-01T00:00:00Z")
    paris = user(scim, "paris", started="2024-01-01T00:30:00+01:00")  # 2023-12-31T23:30Z
    noon = user(scim, "noon", started="2024-01-01T12:00:00Z", contract={"ends": "2024-01-01T00:00:00.000+00:00"})
    for value in MIDNIGHT:
        assert found(scim, f'acme:started eq "{value}"') == [at], value
        assert found(scim, f'acme:started ge "{value}"') == sorted([at, noon]), value
        assert found(scim, f'acme:started lt "{value}"') == sorted([before, paris]), value
    assert found(scim, 'acme:started ge "2024-01-01" and acme:started lt "2024-01-02"') == sorted([at, noon])
    assert found(scim, 'acme:contract.ends eq "2024-01-01"') == [noon]
    response = scim.post("/Users", {"schemas": [USER], "userName": "day@example.com", ACME: {"started": "2024-01-01"}})
    assert_scim_error(response, 400, "invalidValue")


def test_multi_valued_and_complex_date_times(scim: Scim, declared: None) -> None:
    """Any-value semantics for a multi-valued dateTime, value paths, and dateTime sub-attributes of singular and
    multi-valued complex attributes, all offset-aware."""
    ada = user(
        scim,
        "ada",
        leaves=["2024-05-01T00:00:00+02:00", "2024-08-01T00:00:00Z"],
        contract={"ends": "2026-01-01T00:00:00+01:00", "kind": "fixed"},
        shifts=[{"start": "2024-01-01T08:00:00+01:00", "type": "early"}],
    )
    bob = user(
        scim,
        "bob",
        leaves=["2024-05-01T00:00:00Z"],
        contract={"ends": "2025-12-31T23:30:00Z"},
        shifts=[{"start": "2024-01-01T07:30:00Z", "type": "early"}],
    )
    assert found(scim, 'acme:leaves eq "2024-04-30T22:00:00Z"') == [ada]
    assert found(scim, 'acme:leaves gt "2024-07-01T00:00:00Z"') == [ada]
    assert found(scim, 'acme:leaves[value lt "2024-04-30T23:00:00Z"]') == [ada]
    assert found(scim, 'acme:contract.ends lt "2025-12-31T23:15:00Z"') == [ada]
    assert found(scim, 'acme:contract.ends eq "2025-12-31T23:00:00Z"') == [ada]
    assert found(scim, 'acme:shifts.start eq "2024-01-01T07:00:00Z"') == [ada]
    assert found(scim, 'acme:shifts[type eq "early" and start gt "2024-01-01T07:15:00Z"]') == [bob]
    by_end = scim.get("/Users", params={"sortBy": f"{ACME}:contract.ends"}).json()["Resources"]
    assert [r["id"] for r in by_end] == [ada, bob]


def test_a_patch_value_filter_compares_date_times_as_instants(scim: Scim, declared: None) -> None:
    """A PATCH path's value filter (evaluated on one resource) compares as a search filter does."""
    ada = user(scim, "ada", shifts=[{"start": "2024-01-01T08:00:00+01:00", "type": "early"}])
    path = f'{ACME}:shifts[start eq "2024-01-01T07:00:00.000Z"].type'
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": "late"}]}
    response = scim.client.patch(
        f"{scim.base}/Users/{ada}", json=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    assert response.status_code == 200, response.text
    assert response.json()[ACME]["shifts"] == [{"start": "2024-01-01T08:00:00+01:00", "type": "late"}]
    by_day = f'{ACME}:shifts[start ge "2024-01-01" and start lt "20240102"].type'
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": by_day, "value": "night"}]}
    response = scim.client.patch(
        f"{scim.base}/Users/{ada}", json=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    assert response.status_code == 200, response.text
    assert response.json()[ACME]["shifts"] == [{"start": "2024-01-01T08:00:00+01:00", "type": "night"}]
    bad = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": f'{ACME}:shifts[start gt "noon"]'}]}
    refused = scim.client.patch(
        f"{scim.base}/Users/{ada}", json=bad, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    assert refused.status_code == 400, refused.text


def test_a_declared_date_time_must_be_an_xsd_date_time_when_written(scim: Scim, declared: None) -> None:
    """What is stored can be compared: a date alone, a space for T, or an hour past 23 is 400 invalidValue naming
    the attribute; offsets and any number of fraction digits are kept exactly as sent."""
    for value in ("2024-01-01", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+15:00"):
        response = scim.post("/Users", {"schemas": [USER], "userName": "bad@example.com", ACME: {"started": value}})
        assert_scim_error(response, 400, "invalidValue")
        assert "started" in response.json()["detail"], value
    kept = "2024-01-01T00:00:00.1234567-00:30"
    assert scim.create_user("kept@example.com", **{ACME: {"started": kept}})[ACME] == {"started": kept}


def test_values_stored_before_the_declaration_never_break_a_filter(scim: Scim, api: Api) -> None:
    """A value kept while the extension was undeclared may be anything: a filter or sort treats one that is not a
    dateTime as no dateTime (never a 500), while pr still sees that a value was sent."""
    odd = user(scim, "odd", started="next monday")
    number = user(scim, "number", started=20240101)
    dated = user(scim, "dated", started="2024-01-01T00:00:00Z")
    assert api.post("/schemas", {"definition": SCHEMA, "directory_ids": None}).status_code == 201
    assert found(scim, 'acme:started lt "2030-01-01T00:00:00Z"') == [dated]
    assert found(scim, 'acme:started ne "2030-01-01T00:00:00Z"') == [dated]
    assert found(scim, "acme:started pr") == sorted([odd, number, dated])
    ordered = [r["id"] for r in scim.get("/Users", params={"sortBy": f"{ACME}:started"}).json()["Resources"]]
    assert ordered[0] == dated and set(ordered[1:]) == {odd, number}
