"""Concurrent PATCHes on one group lose nothing: each transaction sees the others' committed members."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from scimgate.scim.operations import Operations
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import GROUPS
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, Scim

pytestmark = pytest.mark.both_backends


def test_fifty_concurrent_member_adds_are_all_kept(scim: Scim, database: Database) -> None:
    """50 PATCHes, 16 at a time, each adding a different member: the group ends with all 50."""
    users = [scim.create_user(f"c{i:02d}@example.com")["id"] for i in range(50)]
    group = scim.create_group("Crowd")["id"]
    ops = Operations(database, BASE_URL)

    def add(user_id: str) -> None:
        body = {"Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": user_id}]}]}
        ops.patch(Target(GROUPS, scim.directory_id, group), body, Projection())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(add, users))
    members = scim.get(f"/Groups/{group}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(users)
    assert scim.get(f"/Groups/{group}").json()["meta"]["version"] == 'W/"51"'
