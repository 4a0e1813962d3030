"""The mass-deletion alarm (security plan J3): more than a tenth of a directory's users deleted within an hour
raises one ``directory.mass_deletion`` event (the audit record, in the deletion's transaction) and a warning; the
deletions themselves go through."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.events.deletions import MIN_DELETIONS, time_to_look
from scimgate.store.database import Database
from scimgate.store.tables import directories
from tests.helpers.scim import Scim, all_events

pytestmark = pytest.mark.both_backends

ALARM = "directory.mass_deletion"


def make_users(scim: Scim, count: int) -> list[str]:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": f"d{i}@example.com"}}
            for i in range(count)
        ],
    }
    answer = scim.post("/Bulk", body).json()["Operations"]
    return [op["location"].rsplit("/", 1)[1] for op in answer]


def delete_all(scim: Scim, ids: list[str]) -> None:
    for user_id in ids:
        assert scim.delete(f"/Users/{user_id}").status_code == 204


def alarms(database: Database, scim: Scim) -> list[Any]:
    return all_events(database, scim.directory_id, [ALARM])


def test_a_tenth_of_the_users_deleted_raises_one_alarm(
    database: Database, scim: Scim, caplog: pytest.LogCaptureFixture
) -> None:
    made = make_users(scim, 300)
    delete_all(scim, made[:30])
    assert alarms(database, scim) == []  # 30 of 300 is a tenth, not more
    with caplog.at_level(logging.WARNING, logger="scimgate.scim"):
        delete_all(scim, made[30:31])
    [alarm] = alarms(database, scim)
    assert alarm["data"]["deleted"] == 31 and alarm["data"]["remaining"] == 269
    assert alarm["data"]["object"]["id"] == scim.directory_id
    assert [r.getMessage() for r in caplog.records if "mass deletion" in r.getMessage()]
    # The alarm follows the deletion that set it off, in the same transaction's sequence.
    user_deleted = all_events(database, scim.directory_id, ["user.deleted"])[-1]
    assert alarm["sequence"] == user_deleted["sequence"] + 1
    delete_all(scim, made[31:60])
    assert len(alarms(database, scim)) == 1  # once per window
    assert scim.get("/Users").json()["totalResults"] == 240  # every deletion went through


def test_a_small_directory_needs_twenty_deletions(database: Database, scim: Scim) -> None:
    made = make_users(scim, 25)
    delete_all(scim, made[:19])
    assert alarms(database, scim) == []  # 19 of 25, but under the floor of 20
    delete_all(scim, made[19:20])
    assert [a["data"]["deleted"] for a in alarms(database, scim)] == [20]


def test_the_window_is_an_hour(database: Database, scim: Scim) -> None:
    made = make_users(scim, 100)
    delete_all(scim, made[:15])
    _age_window(database, scim.directory_id, timedelta(minutes=61))
    delete_all(scim, made[15:30])  # 30 in 61 minutes, but 15 in the current window: no alarm
    assert alarms(database, scim) == []
    delete_all(scim, made[30:35])
    assert [a["data"]["deleted"] for a in alarms(database, scim)] == [20]
    _age_window(database, scim.directory_id, timedelta(minutes=61))
    delete_all(scim, made[35:55])  # a new window, a new alarm
    assert [a["data"]["deleted"] for a in alarms(database, scim)] == [20, 20]


def test_deleting_groups_or_failing_to_delete_counts_nothing(database: Database, scim: Scim) -> None:
    make_users(scim, 20)
    for index in range(25):
        group = scim.create_group(f"G{index}")["id"]
        assert scim.delete(f"/Groups/{group}").status_code == 204
    for _ in range(25):
        assert scim.delete("/Users/usr_0000000000000000000000000000").status_code in (400, 404)
    with database.read() as conn:
        counted = conn.execute(sa.select(directories.c.deletions).where(directories.c.id == scim.directory_id))
        assert counted.scalar_one() == 0
    assert alarms(database, scim) == []


def _age_window(database: Database, directory_id: str, by: timedelta) -> None:
    """Move the window's start into the past, as if the deletions so far had happened that much earlier."""
    with database.write() as conn:
        conn.execute(
            directories.update().where(directories.c.id == directory_id).values(deletions_since=datetime.now(UTC) - by)
        )


def test_the_remaining_users_are_counted_sixteen_times_per_doubling() -> None:
    """Counting the remaining users reads up to 9 × the deletions: past 200 it happens 16 times per doubling, so
    100,000 deletions cost about 150 counts, not 100,000 (each delayed by at most a sixteenth)."""
    looks = [n for n in range(MIN_DELETIONS, 100_001) if time_to_look(n)]
    assert len([n for n in looks if n >= 200]) < 16 * 10
    gaps = [later - earlier for earlier, later in zip(looks, looks[1:], strict=False)]
    assert all(gap <= max(1, earlier // 16) for gap, earlier in zip(gaps, looks, strict=False))
