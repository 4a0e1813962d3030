"""The storage contract: what any backend of scimgate.store must do. Backends inherit ``StorageContract`` and
provide a ``store_db`` fixture (tests/store/test_contract_*.py). The SCIM suite above it relies on exactly this."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scimgate.directories.service import create_directory
from scimgate.store import resources as store
from scimgate.store.database import Database
from scimgate.store.tables import group_members, groups, users

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _user(name: str) -> dict[str, object]:
    return {
        "user_name": name,
        "user_name_key": name.lower(),
        "external_id": None,
        "display_name": None,
        "display_name_key": None,
        "active": True,
    }


def _group(name: str) -> dict[str, object]:
    return {"display_name": name, "display_name_key": name.lower(), "external_id": None}


class StorageContract:
    @pytest.fixture
    def directory(self, store_db: Database) -> str:
        with store_db.write() as conn:
            return create_directory(conn, "Contract").id

    def test_insert_then_get_returns_what_was_stored(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {"userName": "a", "x": [1, "é"]}, NOW)
        with store_db.read() as conn:
            stored = store.get(conn, users, directory, "usr_1")
        assert stored is not None and stored.attributes == {"userName": "a", "x": [1, "é"]}
        assert stored.version == 1 and stored.created.replace(tzinfo=UTC) == NOW

    def test_get_is_scoped_by_directory(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            other = create_directory(conn, "Other").id
            store.insert(conn, users, other, "usr_1", _user("a"), {}, NOW)
        with store_db.read() as conn:
            assert store.get(conn, users, directory, "usr_1") is None

    def test_unique_key_per_directory(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {}, NOW)
        with pytest.raises(sa.exc.IntegrityError), store_db.write() as conn:
            store.insert(conn, users, directory, "usr_2", _user("A"), {}, NOW)
        with store_db.write() as conn:
            other = create_directory(conn, "Other").id
            store.insert(conn, users, other, "usr_2", _user("A"), {}, NOW)

    def test_a_failed_transaction_writes_nothing(self, store_db: Database, directory: str) -> None:
        with pytest.raises(RuntimeError), store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {}, NOW)
            raise RuntimeError("crash before commit")
        with store_db.read() as conn:
            assert store.get(conn, users, directory, "usr_1") is None

    def test_replace_bumps_version_and_keeps_created(self, store_db: Database, directory: str) -> None:
        later = NOW + timedelta(hours=1)
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {"v": 1}, NOW)
            replaced = store.replace(conn, users, directory, "usr_1", _user("b"), {"v": 2}, later)
            missing = store.replace(conn, users, directory, "usr_x", _user("c"), {}, later)
        assert replaced is not None and replaced.version == 2 and replaced.attributes == {"v": 2}
        assert replaced.created.replace(tzinfo=UTC) == NOW and missing is None

    def test_delete_cascades_to_memberships(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {}, NOW)
            store.insert(conn, groups, directory, "grp_1", _group("g"), {}, NOW)
            store.add_members(conn, directory, "grp_1", [("usr_1", "User")])
            assert store.delete(conn, users, directory, "usr_1")
            assert not store.delete(conn, users, directory, "usr_1")
        with store_db.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(group_members)).scalar_one() == 0

    def test_membership_changes_count_only_real_changes(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            for i in range(3):
                store.insert(conn, users, directory, f"usr_{i}", _user(f"u{i}"), {}, NOW)
            store.insert(conn, groups, directory, "grp_1", _group("g"), {}, NOW)
            added = store.add_members(conn, directory, "grp_1", [("usr_0", "User"), ("usr_1", "User")])
            assert added == [("usr_0", "User"), ("usr_1", "User")]
            assert store.add_members(conn, directory, "grp_1", [("usr_1", "User"), ("usr_2", "User")]) == [
                ("usr_2", "User")
            ]
            assert store.remove_members(conn, directory, "grp_1", ["usr_0", "usr_9"]) == [("usr_0", "User")]
            assert store.member_ids(conn, directory, "grp_1") == {"usr_1", "usr_2"}
            assert [m.id for m in store.members_of(conn, directory, ["grp_1"])["grp_1"]] == ["usr_1", "usr_2"]
            assert [g.group_id for g in store.groups_of(conn, directory, ["usr_2"])["usr_2"]] == ["grp_1"]

    def test_membership_of_a_missing_user_is_refused(self, store_db: Database, directory: str) -> None:
        with pytest.raises(sa.exc.IntegrityError), store_db.write() as conn:
            store.insert(conn, groups, directory, "grp_1", _group("g"), {}, NOW)
            store.add_members(conn, directory, "grp_1", [("usr_missing", "User")])

    def test_search_pages_in_id_order_with_total(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            for i in (3, 1, 2):
                store.insert(conn, users, directory, f"usr_{i}", _user(f"u{i}"), {}, NOW)
        with store_db.read() as conn:
            total, rows = store.search(conn, users, directory, None, 1, 1)
            everything = store.keyset_page(conn, users, directory, users.c.id > "usr_1", 10, [users.c.id], None)
        assert total == 3 and [r.id for r in rows] == ["usr_2"]
        assert [row.id for row, _ in everything] == ["usr_2", "usr_3"]

    def test_json_documents_round_trip_unicode_and_nesting(self, store_db: Database, directory: str) -> None:
        document = {
            "name": {"givenName": "Zoë", "familyName": "O'Brien"},
            "emails": [{"value": "a@b", "primary": True}],
        }
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("z"), document, NOW)
        with store_db.read() as conn:
            stored = store.get(conn, users, directory, "usr_1")
        assert stored is not None and stored.attributes == document

    def test_instance_secret_is_created_once(self, store_db: Database) -> None:
        with store_db.write() as conn:
            first = store.create_instance_secret(conn, "contract")
            second = store.create_instance_secret(conn, "contract")
        assert first == second and len(first) >= 40

    # The hot statements (scimgate.store.hot) run on the DB-API cursor: they must read and write exactly what
    # SQLAlchemy's execution would, raise its exceptions, and show themselves to its listeners.

    def test_hot_reads_equal_what_sqlalchemy_reads(self, store_db: Database, directory: str) -> None:
        document = {"userName": "Zoë", "big": 2**70, "nested": {"list": [1, 2.5, None, True, "ü"]}}
        with store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", {**_user("Zoë"), "active": None}, document, NOW)
        with store_db.read() as conn:
            hot = store.get(conn, users, directory, "usr_1")
            columns = (users.c.id, users.c.attributes, users.c.created, users.c.last_modified, users.c.version)
            row = conn.execute(sa.select(*columns).where(users.c.id == "usr_1")).one()
        assert hot is not None and (hot.id, hot.attributes, hot.created, hot.last_modified, hot.version) == tuple(row)
        assert hot.attributes["big"] == 2**70 and hot.created.replace(tzinfo=UTC) == NOW

    def test_hot_in_lists_of_any_length(self, store_db: Database, directory: str) -> None:
        ids = [f"usr_{i:05d}" for i in range(2500)]
        with store_db.write() as conn:
            for user_id in ids[:3]:
                store.insert(conn, users, directory, user_id, _user(user_id), {}, NOW)
        with store_db.read() as conn:
            assert store.existing_ids(conn, users, directory, []) == set()
            assert store.existing_ids(conn, users, directory, ids[1:2]) == {ids[1]}
            assert store.existing_ids(conn, users, directory, ids) == set(ids[:3])

    def test_hot_insert_of_many_rows_and_delete_returning(self, store_db: Database, directory: str) -> None:
        with store_db.write() as conn:
            store.insert(conn, groups, directory, "grp_1", _group("g"), {}, NOW)
            for i in range(3):
                store.insert(conn, users, directory, f"usr_{i}", _user(f"u{i}"), {}, NOW)
            added = store.add_members(conn, directory, "grp_1", [(f"usr_{i}", "User") for i in range(3)])
        with store_db.write() as conn:
            removed = store.remove_members(conn, directory, "grp_1", ["usr_1", "usr_9"])
            remaining = store.member_ids(conn, directory, "grp_1")
        assert len(added) == 3 and removed == [("usr_1", "User")] and remaining == {"usr_0", "usr_2"}

    def test_hot_statement_failure_is_sqlalchemys_and_rolls_back(self, store_db: Database, directory: str) -> None:
        with pytest.raises(sa.exc.IntegrityError), store_db.write() as conn:
            store.insert(conn, users, directory, "usr_1", _user("a"), {}, NOW)
            store.insert(conn, users, directory, "usr_2", _user("a"), {}, NOW)
        with store_db.read() as conn:
            assert store.get(conn, users, directory, "usr_1") is None  # the whole transaction rolled back

    def test_hot_statements_reach_sqlalchemy_listeners(self, store_db: Database, directory: str) -> None:
        seen: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            seen.append(statement)

        sa.event.listen(store_db.engine, "before_cursor_execute", record)
        try:
            with store_db.read() as conn:
                store.get(conn, users, directory, "usr_1")
        finally:
            sa.event.remove(store_db.engine, "before_cursor_execute", record)
        assert any("FROM users" in statement for statement in seen)
