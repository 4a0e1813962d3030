"""Issue 20, finding 1: a PATCH's work is bounded before it starts, and is done while the database writer is free.

The attack: a user with 5,000 emails, then one PATCH removing ``emails[value eq "zz0" or … 5,000 terms]``, held
SQLite's writer (shared by every directory) for 38 s while the filter ran against every email.
"""

import sqlite3
import threading
from typing import Any

import pytest

from scimgate.scim import operations
from scimgate.scim.filters import MAX_FILTER_LENGTH, MAX_PREDICATES
from scimgate.scim.operations import Operations
from scimgate.scim.patch import MAX_OPERATIONS, apply_patch
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import USERS
from scimgate.scim.validation import MAX_VALUES
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, Scim, assert_scim_error, patch


def _emails(count: int) -> list[dict[str, str]]:
    return [{"value": f"alias{i}@contoso.example", "type": "other"} for i in range(count)]


def _or_terms(count: int) -> str:
    return " or ".join(f'value eq "zz{i}@contoso.example"' for i in range(count))


def test_a_patch_value_filter_has_the_limits_of_a_search_filter(scim: Scim) -> None:
    user = scim.create_user("filters@contoso.example", emails=_emails(3))
    path = f"emails[{_or_terms(MAX_PREDICATES + 1)}]"
    assert len(path) < MAX_FILTER_LENGTH  # refused for its comparisons, not its length
    body = assert_scim_error(patch(scim, f"/Users/{user['id']}", {"op": "remove", "path": path}), 400, "tooMany")
    assert f"at most {MAX_PREDICATES}" in body["detail"]
    # The 114 KB path of the report: refused for its length before it is parsed.
    body = assert_scim_error(
        patch(scim, f"/Users/{user['id']}", {"op": "remove", "path": f"emails[{_or_terms(5000)}]"}), 400, "invalidPath"
    )
    assert f"the limit is {MAX_FILTER_LENGTH}" in body["detail"]
    assert scim.get(f"/Users/{user['id']}").json()["emails"] == user["emails"]
    # Within the limits the same form works.
    ok = patch(scim, f"/Users/{user['id']}", {"op": "remove", "path": 'emails[value eq "alias1@contoso.example"]'})
    assert ok.status_code == 200, ok.text
    assert [e["value"] for e in ok.json()["emails"]] == ["alias0@contoso.example", "alias2@contoso.example"]


def test_a_patch_of_more_operations_than_the_limit_is_413_and_changes_nothing(scim: Scim) -> None:
    user = scim.create_user("operations@contoso.example")
    many = [{"op": "replace", "path": "displayName", "value": f"Name {i}"} for i in range(MAX_OPERATIONS + 1)]
    body = assert_scim_error(patch(scim, f"/Users/{user['id']}", *many), 413)
    assert f"at most {MAX_OPERATIONS:,}" in body["detail"]
    assert "displayName" not in scim.get(f"/Users/{user['id']}").json()
    # The limit itself is accepted: the last operation wins.
    ok = patch(scim, f"/Users/{user['id']}", *many[:MAX_OPERATIONS])
    assert ok.status_code == 200, ok.text
    assert ok.json()["displayName"] == f"Name {MAX_OPERATIONS - 1}"


def test_a_multi_valued_attribute_holds_at_most_the_limit_of_values(scim: Scim) -> None:
    refused = scim.post("/Users", {"userName": "many@contoso.example", "emails": _emails(MAX_VALUES + 1)})
    assert f"at most {MAX_VALUES:,}" in assert_scim_error(refused, 400, "invalidValue")["detail"]
    assert scim.get("/Users", params={"filter": 'userName eq "many@contoso.example"'}).json()["totalResults"] == 0

    user = scim.create_user("many@contoso.example", emails=_emails(MAX_VALUES))
    assert len(user["emails"]) == MAX_VALUES
    more = {"op": "add", "path": "emails", "value": [{"value": "one.more@contoso.example"}]}
    assert_scim_error(patch(scim, f"/Users/{user['id']}", more), 400, "invalidValue")
    assert len(scim.get(f"/Users/{user['id']}").json()["emails"]) == MAX_VALUES


def test_the_patch_is_computed_while_the_database_writer_is_free(
    scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite one writer serves every directory: while a PATCH is being computed, another may write."""
    user = scim.create_user("writer@contoso.example", emails=_emails(2))
    writer_free: list[bool] = []
    real_apply = apply_patch

    def observed(*args: Any, **kwargs: Any) -> Any:
        other = sqlite3.connect(str(database.url.database), timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # what any other writer must do; "database is locked" if held
            other.rollback()
            writer_free.append(True)
        except sqlite3.OperationalError:
            writer_free.append(False)
        finally:
            other.close()
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(operations, "apply_patch", observed)
    response = patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "displayName", "value": "Writer"})
    assert response.status_code == 200, response.text
    assert writer_free == [True]


@pytest.mark.both_backends
def test_a_resource_changed_while_its_patch_was_computed_gets_both_changes(
    scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PATCH is written only onto the version it was computed from; a change in between is not lost."""
    user = scim.create_user("race@contoso.example")
    ops = Operations(database, BASE_URL)
    target = Target(USERS, scim.directory_id, user["id"])
    real_apply = apply_patch
    calls: list[str] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        calls.append("apply")
        if len(calls) == 1:  # another request changes the user after this PATCH read it
            other = {"Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]}
            thread = threading.Thread(target=ops.patch, args=(target, other, Projection()))
            thread.start()
            thread.join(timeout=30)
            assert not thread.is_alive()
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(operations, "apply_patch", racing)
    mine = {"Operations": [{"op": "replace", "path": "displayName", "value": "Racer"}]}
    result = ops.patch(target, mine, Projection()).resource
    assert (result["title"], result["displayName"]) == ("Engineer", "Racer")
    assert result["meta"]["version"] == 'W/"3"'
    assert len(calls) == 3  # this PATCH computed twice (its first result was stale), the other once
