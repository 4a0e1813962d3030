"""SQLite keeps the storage contract."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from scimgate.store.database import Database
from tests.store.contract import StorageContract


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    def store_db(self, sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
        path = tmp_path / "contract.db"
        shutil.copy(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
