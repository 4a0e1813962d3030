"""`scimgate migrate`, and `serve` refusing a schema that is older (or newer) than the code."""

from pathlib import Path

from click.testing import CliRunner

from scimgate.cli import main
from scimgate.store import migrate
from scimgate.store.database import Database


def _database_at(path: Path, revision: str) -> str:
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db, revision)
    db.dispose()
    return url


def test_serve_refuses_an_older_schema_and_migrate_upgrades_it(tmp_path: Path) -> None:
    """An old schema stops serve with instructions; `scimgate migrate` upgrades it; then it is current."""
    url = _database_at(tmp_path / "old.db", "0002")
    refused = CliRunner().invoke(main, ["serve", "--database-url", url])
    assert refused.exit_code != 0
    assert "revision 0002" in refused.output and "scimgate migrate" in refused.output
    migrated = CliRunner().invoke(main, ["migrate", "--database-url", url])
    assert migrated.exit_code == 0, migrated.output
    assert "from 0002 to" in migrated.output
    db = Database(url)
    assert migrate.is_current(db)
    db.dispose()
    again = CliRunner().invoke(main, ["migrate", "--database-url", url])
    assert "nothing to do" in again.output


def test_serve_refuses_a_schema_from_a_newer_version(tmp_path: Path) -> None:
    """A revision this code does not know means a newer scimgate migrated the database: refuse to serve."""
    url = _database_at(tmp_path / "new.db", "head")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    db.dispose()
    for command in (["serve"], ["migrate"]):
        result = CliRunner().invoke(main, [*command, "--database-url", url])
        assert result.exit_code != 0 and "newer scimgate" in result.output
