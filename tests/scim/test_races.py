"""Races between requests on one directory (security test plan G1, G2, G5): the database decides, never two rows."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scimgate.scim.errors import NotFound, ScimError, Uniqueness
from scimgate.scim.operations import Operations
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import GROUPS, USERS
from scimgate.store.database import Database, retrying
from tests.helpers.scim import BASE_URL, Scim

pytestmark = pytest.mark.both_backends


def _race(calls: list[Any]) -> list[Any]:
    """Start every call at the same moment; return each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> Any:
        barrier.wait(timeout=10)
        try:
            return retrying(call)
        except ScimError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize(
    "names",
    [
        ["same@example.com"] * 2,
        ["same@example.com"] * 10,
        ["Alice@X.com", "alice@x.com", "ALICE@x.COM", "ａlice@x.com"],
        ["\u00e9mile@x.com", "e\u0301mile@x.com", "\u00c9MILE@x.com"],
    ],
)
def test_concurrent_creates_of_one_user_name(scim: Scim, database: Database, names: list[str]) -> None:
    """N concurrent creates of one userName (or its case and Unicode variants): exactly one succeeds, the rest are
    409 uniqueness, and one row exists; 200 rounds of two, 20 of the others."""
    ops = Operations(database, BASE_URL)
    rounds = 200 if len(names) == 2 else 20  # the plan's 200 rounds of two; fewer of the wider races
    for round_number in range(rounds):
        suffix = f"-{round_number}"
        calls = [
            (lambda n=name + suffix: ops.create(Target(USERS, scim.directory_id), {"userName": n}, Projection()))
            for name in names
        ]
        results = _race(calls)
        created = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(created) == 1, results
        assert all(isinstance(r, Uniqueness) for r in refused), refused
    assert scim.get("/Users").json()["totalResults"] == rounds


def test_delete_racing_patch_leaves_a_serial_outcome(scim: Scim, database: Database) -> None:
    """DELETE of a user racing a group PATCH that adds that user: either the user is gone and no membership
    points at it, or the PATCH lost with 400/404 — never a membership of a deleted user."""
    ops = Operations(database, BASE_URL)
    for round_number in range(10):
        user = scim.create_user(f"victim{round_number}@example.com")["id"]
        group = scim.create_group(f"Team {round_number}")["id"]
        add = {"Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}
        results = _race(
            [
                lambda u=user: ops.delete(Target(USERS, scim.directory_id, u)),
                lambda g=group, body=add: ops.patch(Target(GROUPS, scim.directory_id, g), body, Projection()),
            ]
        )
        assert results[0] is None, results  # the delete always succeeds
        assert not isinstance(results[1], NotFound)
        members = scim.get(f"/Groups/{group}").json().get("members", [])
        assert members == []
        assert scim.get(f"/Users/{user}").status_code == 404


def test_concurrent_puts_with_one_if_match_have_one_winner(scim: Scim, database: Database) -> None:
    """G4: 20 PUTs carrying the same If-Match at once: exactly one succeeds, the others get 412."""
    from scimgate.scim.errors import PreconditionFailed
    from scimgate.scim.etags import Preconditions

    user = scim.create_user("contended@example.com")
    ops = Operations(database, BASE_URL)
    condition = Preconditions(if_match=user["meta"]["version"])
    calls = [
        (
            lambda n=n: ops.replace(
                Target(USERS, scim.directory_id, user["id"], condition),
                {"userName": "contended@example.com", "title": f"writer {n}"},
                Projection(),
            )
        )
        for n in range(20)
    ]
    results = _race(calls)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, PreconditionFailed) for r in results if isinstance(r, BaseException))
    assert scim.get(f"/Users/{user['id']}").json()["meta"]["version"] == 'W/"2"'
