"""The lookups Entra makes on every object use an index, on both backends (asserted on the query plan)."""

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.scim.operations import Operations
from scimgate.scim.projection import Projection
from scimgate.scim.query import Page, SearchQuery, Target
from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.store.database import Database
from scimgate.store.tables import groups, users
from tests.helpers.plans import plan
from tests.helpers.scim import BASE_URL, new_directory

pytestmark = pytest.mark.both_backends


def captured_selects(
    database: Database, rtype: ResourceType, filter_text: str, pages: tuple[Page, ...] = (Page(1, 10),)
) -> list[tuple[str, Any]]:
    """Run real searches and return the SELECT statements they sent, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    directory_id, _ = new_directory(database, "Plans")
    populate(database, directory_id, 2000)
    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        for page in pages:
            Operations(database, BASE_URL).search(
                Target(rtype, directory_id), SearchQuery(filter_text, page, Projection())
            )
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    return statements


def populate(database: Database, directory_id: str, n: int) -> None:
    """A directory of realistic size with fresh statistics, so each planner picks what it would pick in production."""
    now = datetime.now(UTC)
    common = {"directory_id": directory_id, "created": now, "last_modified": now, "version": 1}
    with database.write() as conn:
        conn.execute(
            users.insert(),
            [
                {
                    **common,
                    "id": f"usr_{i:026d}",
                    "user_name": f"user{i}@example.com",
                    "user_name_key": f"user{i}@example.com",
                    "external_id": f"ext-{i}",
                    "display_name": f"User {i}",
                    "display_name_key": f"user {i}",
                    "active": True,
                    "attributes": {"userName": f"user{i}@example.com"},
                }
                for i in range(n)
            ],
        )
        conn.execute(
            groups.insert(),
            [
                {
                    **common,
                    "id": f"grp_{i:026d}",
                    "display_name": f"Group {i}",
                    "display_name_key": f"group {i}",
                    "external_id": f"g-{i}",
                    "attributes": {"displayName": f"Group {i}"},
                }
                for i in range(n)
            ],
        )
    with database.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


@pytest.mark.parametrize(
    ("rtype", "filter_text", "column", "index"),
    [
        (USERS, 'userName eq "USER7@example.com"', "user_name_key", "uq_users_directory_id_user_name_key"),
        (USERS, 'externalId eq "ext-7"', "external_id", "ix_users_directory_id_external_id"),
        (USERS, 'displayName eq "user 7"', "display_name_key", "ix_users_directory_id_display_name_key"),
        (GROUPS, 'displayName eq "Group 7"', "display_name_key", "uq_groups_directory_id_display_name_key"),
        (GROUPS, 'externalId eq "g-7"', "external_id", "ix_groups_directory_id_external_id"),
    ],
)
def test_equality_lookups_use_an_index(
    database: Database, rtype: ResourceType, filter_text: str, column: str, index: str
) -> None:
    """Every SELECT of the search (the page, and the count) is served by the attribute's (directory, key) index."""
    table = "users" if rtype is USERS else "groups"
    # A page of 10 finds one resource: a short page tells the total, so only the page query runs. count=0 asks
    # for the total alone: only the count runs. The membership query is not what this test is about.
    pages = (Page(1, 10), Page(1, 0))
    selects = captured_selects(database, rtype, filter_text, pages)
    statements = [(sql, p) for sql, p in selects if f"{table}.{column} =" in sql]
    assert len(statements) == 2
    assert "count(*)" not in statements[0][0].lower() and "count(*)" in statements[1][0].lower()
    for statement, parameters in statements:
        text = plan(database, statement, parameters)
        if database.is_sqlite:
            # SQLite names the index of a UNIQUE constraint sqlite_autoindex_…; the searched columns identify it.
            assert "INDEX" in text and f"(directory_id=? AND {column}=?)" in text, text
        else:
            assert re.search(rf"(Index (Only )?Scan using|Bitmap Index Scan on) {index}\b", text), text


def test_an_indexed_extension_attribute_is_looked_up_through_its_index(database: Database) -> None:
    """A declared extension attribute marked indexed gets an index that the eq lookup's SELECT uses, on both
    backends (issue 18: the same expression in the index and in the compiled filter)."""
    from scimgate.scim import extensions

    urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    definition = {"id": urn, "attributes": [{"name": "region"}], "scimgate": {"indexed": ["region"]}}
    with database.write() as conn:
        extensions.declare(conn, definition)
    directory_id, _ = new_directory(database, "Indexed")
    now = datetime.now(UTC)
    with database.write() as conn:
        conn.execute(
            users.insert(),
            [
                {
                    "directory_id": directory_id,
                    "id": f"usr_{i:026d}",
                    "user_name": f"u{i}@example.com",
                    "user_name_key": f"u{i}@example.com",
                    "attributes": {"userName": f"u{i}@example.com", urn: {"region": f"Region {i}"}},
                    "created": now,
                    "last_modified": now,
                    "version": 1,
                }
                for i in range(2000)
            ],
        )
    with database.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    selects = captured_selects_in(database, directory_id, f'{urn}:region eq "region 7"')
    [(statement, parameters)] = [(sql, p) for sql, p in selects if "ORDER BY" in sql and "users" in sql]
    text = plan(database, statement, parameters)
    assert re.search(r"ix_users_ext_[0-9a-f]{16}", text), text


@pytest.mark.parametrize(
    "condition",
    [
        'started eq "2020-01-01T23:58:00+01:00"',
        'started gt "2020-01-01T23:58:00+01:00" and started lt "2020-01-02T00:00:00Z"',
    ],
)
def test_an_indexed_date_time_attribute_is_compared_through_its_index(database: Database, condition: str) -> None:
    """A declared dateTime marked indexed gets an index on the instant it names, which equality and ranges use: the
    index holds the same expression the filter compares (scimgate.store.sql.instant). (An open range, ``gt`` alone,
    uses it on PostgreSQL; SQLite, without statistics of values, may prefer to read the directory in id order.)"""
    from scimgate.scim import extensions

    urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    attributes = [{"name": "started", "type": "dateTime"}]
    with database.write() as conn:
        extensions.declare(conn, {"id": urn, "attributes": attributes, "scimgate": {"indexed": ["started"]}})
    directory_id, _ = new_directory(database, "Indexed dates")
    now = datetime.now(UTC)
    with database.write() as conn:
        conn.execute(
            users.insert(),
            [
                {
                    "directory_id": directory_id,
                    "id": f"usr_{i:026d}",
                    "user_name": f"u{i}@example.com",
                    "user_name_key": f"u{i}@example.com",
                    "attributes": {
                        "userName": f"u{i}@example.com",
                        urn: {"started": f"2020-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00+0{i % 3}:00"},
                    },
                    "created": now,
                    "last_modified": now,
                    "version": 1,
                }
                for i in range(2000)
            ],
        )
    with database.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    selects = captured_selects_in(database, directory_id, condition.replace("started", f"{urn}:started"))
    [(statement, parameters)] = [(sql, p) for sql, p in selects if "ORDER BY" in sql and "users" in sql]
    text = plan(database, statement, parameters)
    assert re.search(r"ix_users_ext_[0-9a-f]{16}", text), text


def captured_selects_in(database: Database, directory_id: str, filter_text: str) -> list[tuple[str, Any]]:
    """The SELECTs one search of an existing directory sends."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    ops = Operations(database, BASE_URL)
    rtype = ops.registry.catalog(directory_id).users
    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        ops.search(Target(rtype, directory_id), SearchQuery(filter_text, Page(1, 10), Projection()))
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)
    return statements
