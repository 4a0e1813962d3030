"""Issue 20, finding 1: a PATCH's work is bounded before it starts, and is done while the database writer is free.

The attack: a user with 5,000 emails, then one PATCH removing ``emails[value eq "zz0" or … 5,000 terms]``, held
SQLite's writer (shared by every directory) for 38 s while the filter ran against every email.
"""

import sqlite3
import threading
import time
from typing import Any

import pytest

from scimgate.scim import operations
from scimgate.scim.errors import ServiceUnavailable
from scimgate.scim.filters import MAX_FILTER_LENGTH, MAX_PREDICATES
from scimgate.scim.operations import Operations
from scimgate.scim.patch import MAX_COMPARISONS, MAX_OPERATIONS, apply_patch
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import USERS
from scimgate.scim.validation import MAX_VALUES
from scimgate.store.database import Database
from scimgate.store.tables import users
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
        if len(calls) == 1:  # another request (a PUT) changes the user after this PATCH read it
            _put_meanwhile(ops, target, {"userName": "race@contoso.example", "title": "Engineer"})
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(operations, "apply_patch", racing)
    mine = {"Operations": [{"op": "replace", "path": "displayName", "value": "Racer"}]}
    result = ops.patch(target, mine, Projection()).resource
    assert (result["title"], result["displayName"]) == ("Engineer", "Racer")
    assert result["meta"]["version"] == 'W/"3"'
    assert len(calls) == 2  # computed twice: its first result was stale


@pytest.mark.both_backends
def test_a_resource_that_keeps_changing_is_503_and_never_computed_under_the_lock(
    scim: Scim, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt finds the user changed by another request: after a few, 503 with Retry-After, nothing written."""
    user = scim.create_user("busy@contoso.example")
    ops = Operations(database, BASE_URL)
    target = Target(USERS, scim.directory_id, user["id"])
    real_apply = apply_patch

    def always_overtaken(*args: Any, **kwargs: Any) -> Any:
        _put_meanwhile(ops, target, {"userName": "busy@contoso.example"})
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(operations, "apply_patch", always_overtaken)
    mine = {"Operations": [{"op": "replace", "path": "displayName", "value": "Never"}]}
    with pytest.raises(ServiceUnavailable) as refused:
        ops.patch(target, mine, Projection())
    assert refused.value.headers["Retry-After"] == "1"
    assert "displayName" not in scim.get(f"/Users/{user['id']}").json()


def test_the_comparisons_of_one_patch_are_bounded(scim: Scim) -> None:
    """1,000 operations × 50 comparisons × 1,000 values would be a minute of CPU: the total is capped."""
    user = scim.create_user("work@contoso.example", emails=_emails(MAX_VALUES))
    one = {"op": "remove", "path": f"emails[{_or_terms(MAX_PREDICATES)}]"}
    operations_needed = MAX_COMPARISONS // (MAX_PREDICATES * MAX_VALUES) + 1
    started = time.monotonic()
    body = assert_scim_error(patch(scim, f"/Users/{user['id']}", *[one] * operations_needed), 400, "tooMany")
    assert f"more than {MAX_COMPARISONS:,}" in body["detail"]
    assert time.monotonic() - started < 5
    assert len(scim.get(f"/Users/{user['id']}").json()["emails"]) == MAX_VALUES
    # Removing values by value is counted too (each kept value against each one to remove).
    values = {"op": "remove", "path": "emails", "value": _emails(MAX_VALUES)}
    many = (MAX_COMPARISONS // (MAX_VALUES * MAX_VALUES)) + 1
    assert_scim_error(patch(scim, f"/Users/{user['id']}", *[values] * many), 400, "tooMany")


@pytest.mark.both_backends
def test_a_user_stored_with_more_values_than_the_limit_can_still_be_deactivated(scim: Scim, database: Database) -> None:
    """A user stored before the limit (1,001 entitlements) is not locked out of PATCH: deactivation must work."""
    user = scim.create_user("legacy@contoso.example")
    entitlements = [{"value": f"ent-{i}"} for i in range(MAX_VALUES + 1)]
    with database.write() as conn:
        conn.execute(
            users.update()
            .where(users.c.id == user["id"])
            .values(attributes={**scim.get(f"/Users/{user['id']}").json(), "entitlements": entitlements})
        )
    response = patch(scim, f"/Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False and len(response.json()["entitlements"]) == MAX_VALUES + 1
    grow = {"op": "add", "path": "entitlements", "value": [{"value": "one-more"}]}
    assert_scim_error(patch(scim, f"/Users/{user['id']}", grow), 400, "invalidValue")


def test_removing_many_members_by_an_or_filter_is_not_a_comparison_count(scim: Scim) -> None:
    """members[value eq "a" or …] names ids: 60 of them in one path are fine (only the path's length is limited)."""
    members = [scim.create_user(f"m{i}@contoso.example")["id"] for i in range(60)]
    group = scim.create_group("Crowd", members=members)
    path = "members[" + " or ".join(f'value eq "{m}"' for m in members) + "]"
    response = patch(scim, f"/Groups/{group['id']}", {"op": "remove", "path": path})
    assert response.status_code == 204, response.text
    assert "members" not in scim.get(f"/Groups/{group['id']}").json()


def test_a_number_no_float_can_hold_is_400_not_null(scim: Scim) -> None:
    """1e400 is infinite as a float, which JSON cannot carry back: refused like NaN, never stored as null."""
    body = b'{"userName": "inf@contoso.example", "urn:acme:2.0:User": {"x": 1e400}}'
    headers = scim.headers({"Content-Type": "application/scim+json"})
    response = scim.client.post(f"{scim.base}/Users", content=body, headers=headers)
    assert_scim_error(response, 400, "invalidSyntax")


def _put_meanwhile(ops: Operations, target: Target, document: dict[str, Any]) -> None:
    """Another request, a PUT, lands while the PATCH under test is being computed (from another thread, as a
    concurrent request would: PATCHes of one resource take turns, a PUT does not wait for them)."""
    thread = threading.Thread(target=ops.replace, args=(target, document, Projection()))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
