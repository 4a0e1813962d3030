"""Cursor paging (RFC 9865): sealed cursors bound to directory and query, keyset pages, stable under changes."""

import time
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.store.database import Database
from tests.helpers.scim import Scim, assert_scim_error

pytestmark = pytest.mark.both_backends


def walk(scim: Scim, query: str, between: Any = None) -> list[dict[str, Any]]:
    """Follow nextCursor from an empty cursor to the last page; call ``between(page_number)`` between pages."""
    seen: list[dict[str, Any]] = []
    cursor = ""
    for number in range(100):
        response = scim.get(f"/Users?{query}&cursor={cursor}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert "startIndex" not in body
        seen += body["Resources"]
        if "nextCursor" not in body:
            return seen
        cursor = body["nextCursor"]
        assert all(c.isalnum() or c in "-._~" for c in cursor)  # RFC 3986 unreserved characters only
        if between:
            between(number)
    raise AssertionError("the walk did not end")


def test_walk_returns_every_user_once(scim: Scim) -> None:
    """count=3 pages over 10 users: every user once, in id order, totalResults on each page, no cursor at the end."""
    created = [scim.create_user(f"walk{i}@example.com")["id"] for i in range(10)]
    first = scim.get("/Users?cursor&count=3").json()
    assert first["totalResults"] == 10 and first["itemsPerPage"] == 3 and "nextCursor" in first
    assert [r["id"] for r in walk(scim, "count=3")] == created
    assert "nextCursor" not in scim.get("/Users?cursor=&count=10").json()


def test_walk_with_filter_and_sort(scim: Scim) -> None:
    """A sorted, filtered walk returns the sorted list, missing values placed as in index paging."""
    for i, title in enumerate(["b", None, "a", "C", None, "b", "d"]):
        scim.create_user(f"s{i}", **({"title": title} if title else {}))
    scim.create_user("other", title="a")
    query = 'filter=userName sw "s"&sortBy=title&sortOrder=descending'
    expected = [r["id"] for r in scim.get(f"/Users?{query}&count=100").json()["Resources"]]
    assert [r["id"] for r in walk(scim, f"{query}&count=2")] == expected
    assert len(expected) == 7


def test_walk_is_stable_while_users_come_and_go(scim: Scim) -> None:
    """Users created and deleted during a walk never shift the others: each user present throughout appears once."""
    ids = [scim.create_user(f"live{i:02d}@example.com")["id"] for i in range(20)]
    deleted: set[str] = set()
    added: set[str] = set()

    def churn(page: int) -> None:
        for victim in (ids[page], ids[-1 - page]):  # one already seen, one not yet seen
            if victim not in deleted:
                scim.delete(f"/Users/{victim}")
                deleted.add(victim)
        added.add(scim.create_user(f"new{page}@example.com")["id"])

    seen = [r["id"] for r in walk(scim, "count=4", churn)]
    assert len(seen) == len(set(seen)), "a user was returned twice"
    throughout = set(ids) - deleted
    assert throughout <= set(seen)
    assert set(seen) <= set(ids) | added


def test_search_request_with_cursor(scim: Scim) -> None:
    """POST /Users/.search takes cursor and count in the body."""
    for i in range(3):
        scim.create_user(f"body{i}@example.com")
    first = scim.post("/Users/.search", {"cursor": "", "count": 2}).json()
    second = scim.post("/Users/.search", {"cursor": first["nextCursor"], "count": 2}).json()
    assert len(first["Resources"]) == 2 and len(second["Resources"]) == 1 and "nextCursor" not in second


def test_cursor_of_another_directory_or_query_is_invalid(scim: Scim, other_scim: Scim) -> None:
    """A cursor replayed with another token, another filter or altered is invalidCursor, with no data."""
    for i in range(3):
        scim.create_user(f"c{i}@example.com")
        other_scim.create_user(f"c{i}@example.com")
    cursor = scim.get("/Users?cursor&count=1").json()["nextCursor"]
    assert_scim_error(other_scim.get(f"/Users?cursor={cursor}&count=1"), 400, "invalidCursor")
    assert_scim_error(scim.get(f"/Users?cursor={cursor}&count=1&filter=userName pr"), 400, "invalidCursor")
    assert_scim_error(scim.get(f"/Users?cursor={cursor}&count=1&sortBy=userName"), 400, "invalidCursor")
    body, mac = cursor.split(".")
    assert_scim_error(scim.get(f"/Users?cursor={body[:-2]}xx.{mac}&count=1"), 400, "invalidCursor")
    for junk in ("garbage", ".", "é", "a" * 1900):
        assert_scim_error(scim.get("/Users", params={"cursor": junk}), 400, "invalidCursor")
    # Past 2 KB the query string is refused before anything reads it (issue 20).
    assert_scim_error(scim.get("/Users", params={"cursor": "a" * 3000}), 414)


def test_expired_cursor(scim: Scim, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cursor older than cursorTimeout is expiredCursor."""
    for i in range(2):
        scim.create_user(f"old{i}@example.com")
    cursor = scim.get("/Users?cursor&count=1").json()["nextCursor"]
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert_scim_error(scim.get(f"/Users?cursor={cursor}&count=1"), 400, "expiredCursor")


@pytest.mark.parametrize(
    ("query", "scim_type"), [("cursor&count=0", "invalidCount"), ("cursor&startIndex=2", "invalidValue")]
)
def test_bad_cursor_requests(scim: Scim, query: str, scim_type: str) -> None:
    """count below 1 with a cursor is invalidCount; startIndex and cursor together are refused."""
    assert_scim_error(scim.get(f"/Users?{query}"), 400, scim_type)


def test_service_provider_config_advertises_cursor_paging(scim: Scim) -> None:
    """RFC 9865 §5 pagination block."""
    pagination = scim.get("/ServiceProviderConfig").json()["pagination"]
    assert pagination == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }


def test_cursor_pages_use_keyset_not_offset(scim: Scim, database: Database) -> None:
    """The page query of a later cursor page has no OFFSET: deep pages cost what the first costs."""
    for i in range(3):
        scim.create_user(f"k{i}@example.com")
    cursor = scim.get("/Users?cursor&count=1&sortBy=userName").json()["nextCursor"]
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cu: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        assert scim.get(f"/Users?cursor={cursor}&count=1&sortBy=userName").status_code == 200
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    pages = [(s, p) for s, p in statements if "ORDER BY" in s and "FROM users" in s]
    assert pages
    for statement, parameters in pages:
        # SQLite's dialect always writes "LIMIT ? OFFSET ?"; the offset it binds must then be 0.
        assert "OFFSET" not in statement or (isinstance(parameters, tuple) and parameters[-1] == 0), statement


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_walk_sorted_by_a_boolean(scim: Scim, order: str) -> None:
    """sortBy=active with a cursor continues past the first page (a boolean key in the keyset condition)."""
    for i in range(5):
        scim.create_user(f"b{i}", active=i % 2 == 0)
    query = f"sortBy=active&sortOrder={order}"
    expected = [r["id"] for r in scim.get(f"/Users?{query}&count=100").json()["Resources"]]
    assert [r["id"] for r in walk(scim, f"{query}&count=2")] == expected


def test_cursor_stays_short_when_the_sort_value_is_long(scim: Scim) -> None:
    """A 20,000-character title is not carried in the cursor; the walk still visits every user once in order."""
    for i, title in enumerate(["a", "Z" * 20_000, "m", "Z" * 20_000 + "b", "c"]):
        scim.create_user(f"long{i}", title=title)
    query = "sortBy=title&sortOrder=descending"
    first = scim.get(f"/Users?{query}&count=1&cursor=").json()
    assert len(first["nextCursor"]) < 400
    expected = [r["id"] for r in scim.get(f"/Users?{query}&count=100").json()["Resources"]]
    assert [r["id"] for r in walk(scim, f"{query}&count=1")] == expected


def test_cursor_after_a_deleted_long_value_asks_to_restart(scim: Scim) -> None:
    """When the resource a by-reference cursor points at is deleted, the cursor is invalid, not silently wrong."""
    first = scim.create_user("x1", title="Y" * 1000)["id"]
    scim.create_user("x2", title="a")
    cursor = scim.get("/Users?sortBy=title&sortOrder=descending&count=1&cursor=").json()["nextCursor"]
    scim.delete(f"/Users/{first}")
    response = scim.get(f"/Users?sortBy=title&sortOrder=descending&count=1&cursor={cursor}")
    assert_scim_error(response, 400, "invalidCursor")


def pages_forward(scim: Scim, query: str) -> list[dict[str, Any]]:
    """Every page of a walk by nextCursor, as answered."""
    bodies, cursor = [], ""
    while True:
        body = scim.get(f"/Users?{query}&cursor={cursor}").json()
        bodies.append(body)
        if "nextCursor" not in body:
            return bodies
        cursor = body["nextCursor"]


@pytest.mark.parametrize(
    "query",
    [
        "count=3",
        'filter=userName sw "p"&sortBy=title&count=2',
        'filter=userName sw "p"&sortBy=title&sortOrder=descending&count=2',
        "sortBy=active&sortOrder=descending&count=3",
    ],
)
def test_previous_cursor_leads_back_to_exactly_the_previous_page(scim: Scim, query: str) -> None:
    """RFC 9865: previousCursor on every page after the first, and none on the first; following it gives the page
    before, which itself leads forward to the same page again (sorted both ways, nulls included)."""
    for i, title in enumerate(["b", None, "a", "C", None, "b", "d", "a", None, "e"]):
        scim.create_user(f"p{i}", active=i % 3 != 0, **({"title": title} if title else {}))
    pages = pages_forward(scim, query)
    assert len(pages) >= 3 and "previousCursor" not in pages[0]
    for earlier, later in zip(pages, pages[1:], strict=False):
        back = scim.get(f"/Users?{query}&cursor={later['previousCursor']}").json()
        assert [r["id"] for r in back["Resources"]] == [r["id"] for r in earlier["Resources"]]
        assert ("previousCursor" in back) == (earlier is not pages[0])
        again = scim.get(f"/Users?{query}&cursor={back['nextCursor']}").json()
        assert [r["id"] for r in again["Resources"]] == [r["id"] for r in later["Resources"]]


def test_previous_cursor_under_inserts_and_deletes(scim: Scim) -> None:
    """Going back after users came and went: the previous page is the users now before this page's first one,
    each once, as nextCursor walks forward (keyset, never offsets)."""
    ids = [scim.create_user(f"q{i:02d}@example.com")["id"] for i in range(9)]
    first = scim.get("/Users?count=3&cursor=").json()
    second = scim.get(f"/Users?count=3&cursor={first['nextCursor']}").json()
    scim.delete(f"/Users/{ids[1]}")
    back = scim.get(f"/Users?count=3&cursor={second['previousCursor']}").json()
    assert [r["id"] for r in back["Resources"]] == [ids[0], ids[2]]
    assert "previousCursor" not in back
