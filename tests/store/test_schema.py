"""The migrations create exactly the tables the code declares, on every backend, with the integrity rules on."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scimgate.events import feed
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import counters, events, group_members, instance_secrets, metadata
from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends


def _not_declared_at_run_time(obj: object, name: str | None, kind: str, reflected: bool, _other: object) -> bool:
    """Indexes of declared extension attributes (ix_users_ext_…) are made when an operator declares one
    (scimgate.scim.extensions), never by a migration: another test of this database may have declared one."""
    return not (kind == "index" and reflected and name is not None and "_ext_" in name)


def test_migrated_schema_matches_the_tables(database: Database) -> None:
    """Alembic's head and scimgate.store.tables agree: no missing index, column or constraint."""
    assert migrate.is_current(database)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _not_declared_at_run_time})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent(database: Database) -> None:
    """Running the migrations on an up-to-date database changes nothing (serve does it at every start)."""
    migrate.upgrade(database)
    assert migrate.is_current(database)


def test_membership_of_a_missing_user_is_refused_by_the_database(database: Database) -> None:
    """Foreign keys are enforced (on SQLite too): a membership cannot point at a user that does not exist."""
    with pytest.raises(sa.exc.IntegrityError), database.write() as conn:
        conn.execute(
            group_members.insert().values(directory_id="dir_x", group_id="grp_x", member_id="usr_x", user_id="usr_x")
        )


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: object) -> None:
    """Every SQLite connection runs in WAL mode with foreign keys on and a busy timeout."""
    db = Database(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        db.dispose()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_plain_postgresql_urls_use_psycopg_3(scheme: str) -> None:
    """--database-url postgresql://… works with the psycopg 3 driver the postgres extra installs."""
    db = Database(f"{scheme}://postgres@127.0.0.1:5432/postgres")
    try:
        assert db.engine.dialect.driver == "psycopg"
    finally:
        db.dispose()


def test_downgrade_and_upgrade_keep_the_data(database: Database) -> None:
    """Rolling the schema back (and forward again) keeps directories, tokens and users on both backends: on
    SQLite, a table rebuild must not cascade to the rows that reference it."""
    from scimgate.directories.credentials import issue_token
    from scimgate.directories.service import create_directory
    from scimgate.store.tables import tokens, users

    with database.write() as conn:
        directory = create_directory(conn, "Kept")
        issue_token(conn, directory.id)
        now = datetime.now(UTC)
        conn.execute(
            users.insert().values(
                directory_id=directory.id,
                id="usr_kept",
                user_name="kept@example.com",
                user_name_key="kept@example.com",
                attributes={"userName": "kept@example.com"},
                created=now,
                last_modified=now,
                version=1,
            )
        )
    migrate.downgrade(database, "0002")
    for _ in range(2):
        with database.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(tokens)).scalar() == 1
        migrate.upgrade(database)


def test_migrations_are_not_cut_off_by_the_request_statement_timeout(tmp_path: object) -> None:
    """Rebuilding a big table (SQLite copies it) takes longer than a request may: migrations run without the
    statement timeout, which would otherwise interrupt them half-way (and roll them back)."""
    from pathlib import Path

    from scimgate.store.database import DatabaseLimits
    from scimgate.store.tables import directories

    url = f"sqlite:///{Path(str(tmp_path)) / 'big.db'}"
    roomy = Database(url)
    migrate.upgrade(roomy)
    now = datetime.now(UTC)
    with roomy.write() as conn:
        rows = [{"id": f"dir_{i:036d}", "name": f"Directory {i}", "created_at": now} for i in range(5000)]
        conn.execute(directories.insert(), rows)
    roomy.dispose()
    hasty = Database(url, DatabaseLimits(statement_timeout=1e-6))  # every statement is already late
    try:
        migrate.downgrade(hasty, "0006")  # rebuilds `directories` on SQLite: 5,000 rows copied
        migrate.upgrade(hasty)
        assert migrate.is_current(hasty)
        with hasty.engine.connect() as conn, pytest.raises(sa.exc.OperationalError, match="interrupted"):
            conn.execute(sa.select(sa.func.count()).select_from(directories.join(directories.alias(), sa.true())))
    finally:
        hasty.dispose()


def test_rows_the_migrations_seed_are_made_again_in_a_database_emptied_by_hand(scim: Scim, database: Database) -> None:
    """Migrations seed the key that seals cursors and the feed's position counter. In a database emptied by hand
    since (every table, these rows too), cursor paging makes a new key and the sequencer continues after the
    highest position the events hold. (The tests used to reach this only because PostgreSQL's reset between tests
    emptied these rows too; it now restores them, so it is tested here on purpose.)"""
    first, second = (scim.create_user(f"seed{i}@example.com")["id"] for i in range(2))
    assert feed.sequence(database) > 0
    with database.write() as conn:
        highest = conn.execute(sa.select(sa.func.max(events.c.position))).scalar_one()
        conn.execute(instance_secrets.delete())
        conn.execute(counters.delete())
    page = scim.get("/Users?cursor&count=1").json()
    assert [r["id"] for r in page["Resources"]] == [first]
    following = scim.get(f"/Users?cursor={page['nextCursor']}&count=1").json()
    assert [r["id"] for r in following["Resources"]] == [second]
    scim.create_user("seed2@example.com")
    assert feed.sequence(database) == 1
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.max(events.c.position))).scalar_one() == highest + 1
        assert conn.execute(sa.select(counters.c.value)).scalar_one() == highest + 1
        assert conn.execute(sa.select(sa.func.count()).select_from(instance_secrets)).scalar_one() == 1
