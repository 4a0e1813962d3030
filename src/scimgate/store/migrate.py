"""Bring a database's schema up to date with Alembic: ``scimgate migrate``, or ``serve`` on an empty database.

Every upgrade runs in one transaction (PostgreSQL and SQLite both have transactional DDL), so a crash during a
migration leaves the schema at the old revision, and ``serve`` then refuses to start rather than serving a
half-migrated schema.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from scimgate.store.database import UNLIMITED, Database

_SCRIPTS = str(Path(__file__).resolve().parent.parent / "migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    _run(db, lambda config: command.upgrade(config, revision))


def downgrade(db: Database, revision: str) -> None:
    """Back to an older revision (for a rollback after a failed upgrade; back the database up first)."""
    _run(db, lambda config: command.downgrade(config, revision))


def _run(db: Database, step: Callable[[Config], None]) -> None:
    config = _config()
    with db.engine.connect() as conn:
        # SQLite changes a table's columns by copying it and dropping the old one; with foreign keys on, dropping
        # `directories` would cascade to every user, group and token. Off for the migration, checked before the
        # commit, on again after. The pragma only works outside a transaction: on the driver's connection, which
        # runs in autocommit mode here (store/database.py), before SQLAlchemy begins.
        raw = conn.connection.driver_connection if db.is_sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        # A migration rewrites whole tables: it must not be cut off at the statement timeout meant for requests.
        conn = conn.execution_options(**{UNLIMITED: True})
        try:
            with conn.begin():
                if not db.is_sqlite:
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                config.attributes["connection"] = conn
                step(config)
                if db.is_sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration left rows whose foreign keys point nowhere; nothing was changed")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    """The database's revision; None for a database scimgate has never initialised."""
    head: str
    """The revision this code needs."""
    known: bool
    """Whether this code knows the database's revision (False: a newer scimgate migrated it)."""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def state(db: Database) -> SchemaState:
    scripts = ScriptDirectory.from_config(_config())
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    known = current is None or any(script.revision == current for script in scripts.walk_revisions())
    return SchemaState(current, scripts.get_current_head() or "", known)


def is_current(db: Database) -> bool:
    return state(db).up_to_date
