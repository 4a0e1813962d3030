"""Issue 20, finding 7: the data directory and the SQLite database hold the session and cursor keys, webhook
secrets and personal data, so scimgate creates them private (0700, 0600), whatever the umask, and leaves the modes
of what the operator made alone."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from scimgate.cli.common import open_database
from scimgate.config import Settings
from scimgate.directories.service import create_directory
from scimgate.store import migrate
from scimgate.store.database import Database
from tests.helpers.files import common_umask, mode


@pytest.fixture(autouse=True)
def _common_umask() -> Iterator[None]:
    with common_umask():
        yield


def test_a_new_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    """The database file and the -wal and -shm files SQLite makes beside it are 0600, not SQLite's 0644."""
    path = tmp_path / "scimgate.db"
    db = Database(f"sqlite:///{path}")
    try:
        migrate.upgrade(db)
        with db.write() as conn:
            create_directory(conn, "Contoso")
        with db.read():
            files = [path, tmp_path / "scimgate.db-wal", tmp_path / "scimgate.db-shm"]
            assert {file.name: oct(mode(file)) for file in files} == {file.name: "0o600" for file in files}
    finally:
        db.dispose()


def test_the_data_directory_and_its_missing_parents_are_created_private(tmp_path: Path) -> None:
    """`--data-dir /srv/scimgate/data` on a fresh machine: every directory scimgate creates is 0700."""
    data_dir = tmp_path / "srv" / "data"
    open_database(Settings(data_dir=data_dir)).dispose()
    assert oct(mode(tmp_path / "srv")) == oct(mode(data_dir)) == "0o700"
    assert oct(mode(data_dir / "scimgate.db")) == "0o600"


def test_an_existing_directory_and_database_keep_the_operators_modes(tmp_path: Path) -> None:
    """A data directory the operator made 0750 (a backup group reads it) and a database they made 0640 stay so."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o750)
    (data_dir / "scimgate.db").touch()
    (data_dir / "scimgate.db").chmod(0o640)
    db = open_database(Settings(data_dir=data_dir))
    migrate.upgrade(db)
    db.dispose()
    assert oct(mode(data_dir)) == "0o750"
    assert oct(mode(data_dir / "scimgate.db")) == "0o640"
