"""Filters on the attributes this release indexes, compiled to SQL; anything unknown is 400 invalidFilter."""

import pytest

from tests.helpers.scim import Scim, assert_scim_error

pytestmark = pytest.mark.both_backends


def _ids(scim: Scim, endpoint: str, filter_: str) -> set[str]:
    response = scim.get(f"{endpoint}?filter={filter_}")
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["Resources"]}


def test_user_filters_on_indexed_attributes(scim: Scim) -> None:
    """eq on userName, externalId, displayName and id; and/or/not; each returns exactly the matching users."""
    alice = scim.create_user("alice@example.com", externalId="A-1", displayName="Alice Example")["id"]
    bob = scim.create_user("bob@example.com", externalId="b-2", displayName="Bob", active=False)["id"]
    assert _ids(scim, "/Users", 'userName eq "ALICE@example.com"') == {alice}
    assert _ids(scim, "/Users", 'externalId eq "A-1"') == {alice}
    assert _ids(scim, "/Users", 'externalId eq "a-1"') == set()  # externalId is caseExact
    assert _ids(scim, "/Users", 'displayName eq "alice example"') == {alice}
    assert _ids(scim, "/Users", f'id eq "{bob}"') == {bob}
    assert _ids(scim, "/Users", 'UserName EQ "bob@example.com"') == {bob}
    assert _ids(scim, "/Users", 'userName eq "alice@example.com" or externalId eq "b-2"') == {alice, bob}
    assert _ids(scim, "/Users", 'userName eq "alice@example.com" and externalId eq "b-2"') == set()
    assert _ids(scim, "/Users", 'not (userName eq "alice@example.com")') == {bob}
    assert _ids(scim, "/Users", "active eq false") == {bob}
    assert _ids(scim, "/Users", 'userName sw "ali"') == {alice}
    assert _ids(scim, "/Users", "externalId pr") == {alice, bob}


def test_url_encoded_filter_with_plus_for_spaces(scim: Scim) -> None:
    """Entra encodes spaces as +: ?filter=externalId+eq+%22jwong%22."""
    created = scim.create_user("jwong@example.com", externalId="jwong")["id"]
    response = scim.get("/Users?filter=externalId+eq+%22jwong%22")
    assert [r["id"] for r in response.json()["Resources"]] == [created]


def test_like_wildcards_are_literal(scim: Scim) -> None:
    """% and _ in a value match only themselves."""
    percent = scim.create_user("a%b@example.com")["id"]
    scim.create_user("axb@example.com")
    under = scim.create_user("a_c@example.com")["id"]
    scim.create_user("abc@example.com")
    assert _ids(scim, "/Users", 'userName co "%"') == {percent}
    assert _ids(scim, "/Users", 'userName co "_"') == {under}


def test_a_backslash_matches_only_itself(scim: Scim) -> None:
    """A backslash is LIKE's escape character on PostgreSQL: ``ew "\\"`` must still match only a literal one."""
    trailing = scim.create_user("corp\\")["id"]
    inside = scim.create_user("corp\\jo@example.com")["id"]
    scim.create_user("corp@example.com")
    assert _ids(scim, "/Users", 'userName ew "\\\\"') == {trailing}
    assert _ids(scim, "/Users", 'userName co "\\\\"') == {trailing, inside}
    assert _ids(scim, "/Users", 'userName sw "corp\\\\j"') == {inside}


def test_injection_attempts_match_nothing(scim: Scim) -> None:
    """Quotes and SQL in values are bound parameters: no match, no error, tables intact."""
    scim.create_user("x@example.com")
    for value in ['x\\" or \\"1\\"=\\"1', "'; DROP TABLE users;--", "\\\\"]:
        assert _ids(scim, "/Users", f'userName eq "{value}"') == set()
    assert scim.get("/Users").json()["totalResults"] == 1


def test_group_filters(scim: Scim) -> None:
    """displayName eq, members eq, members[value eq], and Entra's old id-and-members reference check."""
    user = scim.create_user("m@example.com")["id"]
    eng = scim.create_group("Engineering", [user])["id"]
    scim.create_group("Sales")
    assert _ids(scim, "/Groups", 'displayName eq "engineering"') == {eng}
    assert _ids(scim, "/Groups", f'members eq "{user}"') == {eng}
    assert _ids(scim, "/Groups", f'members[value eq "{user}"]') == {eng}
    assert _ids(scim, "/Groups", f'id eq "{eng}" and members eq "{user}"') == {eng}
    assert _ids(scim, "/Groups", 'members eq "usr_nobody"') == set()


def test_members_filter_does_not_cross_directories(scim: Scim, other_scim: Scim) -> None:
    """Another directory's user id never matches this directory's groups."""
    theirs = other_scim.create_user("t@example.com")["id"]
    other_scim.create_group("Theirs", [theirs])
    scim.create_group("Ours")
    assert _ids(scim, "/Groups", f'members[value eq "{theirs}"]') == set()


def test_meta_last_modified_compares_as_a_date_time(scim: Scim) -> None:
    """meta.lastModified gt/lt take xsd:dateTime values."""
    created = scim.create_user("t@example.com")
    assert _ids(scim, "/Users", 'meta.lastModified gt "2000-01-01T00:00:00Z"') == {created["id"]}
    assert _ids(scim, "/Users", 'meta.lastModified lt "2000-01-01T00:00:00Z"') == set()


@pytest.mark.parametrize(
    "value", ["2024-01-01", "20240101", "2024-01-01T00:00", "2024-01-01 00:00:00", "2024-01-01T01:00:00+0100"]
)
def test_meta_times_take_a_date_alone_and_the_iso_forms_they_always_took(scim: Scim, value: str) -> None:
    """IdPs and scripts send meta.lastModified gt "2024-01-01": a date alone is that day's midnight UTC; the other
    ISO 8601 forms filters took before dateTimes were compared as instants are still taken."""
    created = scim.create_user("since@example.com")["id"]

    def found(filter_: str) -> set[str]:  # sent as a parameter, encoded: the "+" of "+0100" is no space
        response = scim.get("/Users", params={"filter": filter_})
        assert response.status_code == 200, response.text
        return {r["id"] for r in response.json()["Resources"]}

    for attribute in ("meta.lastModified", "meta.created"):
        assert found(f'{attribute} gt "{value}"') == {created}
        assert found(f'{attribute} le "{value}"') == set()
    today = scim.get(f"/Users/{created}").json()["meta"]["created"][:10]
    assert found(f'meta.created ge "{today}"') == {created}
    assert found(f'meta.created lt "{today}"') == set()


@pytest.mark.parametrize(
    "value", ["yesterday", "2024", "2024-13-01", "2024-02-30", "2024-01-01t00:00:00z", "2024-01-01T24:00:00Z", ""]
)
def test_a_meta_time_compared_with_no_date_is_400(scim: Scim, value: str) -> None:
    assert_scim_error(scim.get("/Users", params={"filter": f'meta.lastModified gt "{value}"'}), 400, "invalidFilter")


def test_a_filter_matching_nothing_is_200_and_empty(scim: Scim) -> None:
    """Entra's Test Connection: a random userName gives 200 with an empty ListResponse, never 404."""
    response = scim.get('/Users?filter=userName eq "e2b5e2a1-4f4b-4b8e-9d8e-0c2d2e0f3a11"')
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0 and response.json()["Resources"] == []


@pytest.mark.parametrize(
    "filter_",
    [
        "",
        "userName eq",
        'userName xx "a"',
        'userName eq "unbalanced',
        'emails[type eq "work"',
        'userName eq "x" or 1=1 --',
        'nosuchAttr eq "x"',
        'userName eq "alice" and nosuchAttr eq "x"',
        "not (nosuchAttr pr)",
        'password eq "Winter2025!"',
        'active eq "yes"',
        'meta.lastModified gt "not-a-date"',
        "userName gt 5",
        "(" * 40 + 'userName eq "a"' + ")" * 40,
        'userName eq "a\x00"',
        'userName eq "\\ud800"',
        'members eq "x"',
    ],
)
def test_bad_filters_are_400_invalid_filter(scim: Scim, filter_: str) -> None:
    """Broken syntax, unknown or unfilterable attributes and wrong value types are 400 invalidFilter, never 500."""
    scim.create_user("alice")
    assert_scim_error(scim.get("/Users", params={"filter": filter_}), 400, "invalidFilter")


def test_a_megabyte_filter_is_400_not_a_crash(scim: Scim) -> None:
    """A filter of a million characters in a SearchRequest (and the longest URL a client sends) is refused by its
    length before parsing. (Longer request lines than that never reach the app: the HTTP server refuses them.)"""
    scim.create_user("alice")
    huge = 'userName eq "' + "a" * 1_000_000 + '"'
    # In a URL, past 2 KB the gate refuses the query string before anything parses it (issue 20).
    assert_scim_error(scim.get("/Users", params={"filter": huge[:60_000]}), 414)
    bomb = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "(" * 5000 + "x" + ")" * 5000}
    assert_scim_error(scim.post("/Users/.search", bomb), 400, "invalidFilter")
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": huge}
    assert_scim_error(scim.post("/Users/.search", body), 400, "invalidFilter")
    assert scim.get("/Users").json()["totalResults"] == 1


def test_search_request_in_the_body(scim: Scim) -> None:
    """POST /Users/.search takes filter, paging and attributes in a SearchRequest body."""
    created = scim.create_user("searched@example.com", title="T")
    scim.create_user("other@example.com")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "searched@example.com"',
        "attributes": ["userName"],
        "startIndex": 1,
        "count": 5,
    }
    result = scim.post("/Users/.search", body).json()
    assert result["totalResults"] == 1
    assert result["Resources"] == [
        {"schemas": created["schemas"], "id": created["id"], "userName": "searched@example.com"}
    ]
    bad = scim.post("/Users/.search", {"count": "ten"})
    assert_scim_error(bad, 400, "invalidValue")


def test_root_search_spans_users_and_groups(scim: Scim) -> None:
    """POST /.search pages over Users then Groups; an attribute only one type has is false for the other."""
    users = [scim.create_user(f"r{i}@example.com", displayName=f"Shared {i}")["id"] for i in range(3)]
    groups = [scim.create_group(f"Shared group {i}")["id"] for i in range(2)]

    def search(body: dict[str, object]) -> dict[str, object]:
        response = scim.post("/.search", body)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    everything = search({"filter": 'displayName sw "shared"'})
    assert everything["totalResults"] == 5
    assert [r["id"] for r in everything["Resources"]] == users + groups  # type: ignore[attr-defined]
    middle = search({"filter": 'displayName sw "shared"', "startIndex": 3, "count": 2})
    assert [r["id"] for r in middle["Resources"]] == [users[2], groups[0]]  # type: ignore[attr-defined]
    only_users = search({"filter": 'userName eq "r1@example.com"'})
    assert [r["id"] for r in only_users["Resources"]] == [users[1]]  # type: ignore[attr-defined]
    assert_scim_error(scim.post("/.search", {"filter": 'nosuch eq "x"'}), 400, "invalidFilter")


def test_substring_operators_respect_case_exact_attributes(scim: Scim) -> None:
    """externalId is caseExact: sw/co/ew match its case exactly, on SQLite as on PostgreSQL."""
    created = scim.create_user("ce@example.com", externalId="ABCdef")["id"]
    assert _ids(scim, "/Users", 'externalId sw "ABC"') == {created}
    assert _ids(scim, "/Users", 'externalId sw "abc"') == set()
    assert _ids(scim, "/Users", 'externalId ew "DEF"') == set()
    assert _ids(scim, "/Users", 'userName sw "CE@"') == {created}  # userName is not caseExact


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_date_times_without_a_utc_equivalent_are_400(scim: Scim, value: str) -> None:
    """A dateTime that overflows when moved to UTC is an invalid filter, not a 500."""
    assert_scim_error(scim.get("/Users", params={"filter": f'meta.created gt "{value}"'}), 400, "invalidFilter")


def test_filter_values_travel_as_bound_parameters(scim: Scim, database: object) -> None:
    """No filter value is ever part of the SQL text (security plan C2): they are bound parameters."""
    import sqlalchemy as sa

    from scimgate.store.database import Database

    assert isinstance(database, Database)
    statements: list[str] = []

    def record(_c: object, _cu: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        for value in ("'; DROP TABLE users;--", "canary-7d1e", 'x\\" or \\"1\\"=\\"1'):
            filter_ = f'userName eq "{value}" or emails[value co "{value}"] or title sw "{value}"'
            assert scim.get("/Users", params={"filter": filter_}).status_code == 200
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    text = "\n".join(statements)
    assert "canary-7d1e" not in text and "DROP TABLE" not in text
