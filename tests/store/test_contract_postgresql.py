"""PostgreSQL keeps the storage contract."""

import pytest

from scimgate.store.database import Database
from tests.store.contract import StorageContract


class TestPostgreSQLStorage(StorageContract):
    @pytest.fixture
    def store_db(self, pg_database: Database) -> Database:
        return pg_database
