"""Fixtures: a real database per test (SQLite file, or PostgreSQL when reachable), the app, and directories.
What tests import is in tests/helpers.

Every test that takes ``database`` (directly or through ``scim``) runs on each backend in ``BACKENDS``.
PostgreSQL tests run when ``SCIMGATE_TEST_POSTGRES_URL`` (default: the local trust-auth server) answers; under CI
(``CI=true``) an unreachable PostgreSQL is a failure, not a skip.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import metadata
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Api, Scim, new_directory

POSTGRES_URL = os.environ.get("SCIMGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "scimgate.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"scimgate_test_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as error:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} under CI: {error}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "scimgate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("postgres_database"))
        with db.engine.begin() as conn:
            names = ", ".join(table.name for table in metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
    yield db
    db.dispose()


@pytest.fixture
def pg_database(postgres_database: str) -> Iterator[Database]:
    """PostgreSQL only, for behaviour SQLite does not have (connections to kill, deadlocks)."""
    db = Database(postgres_database)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(table.name for table in metadata.sorted_tables)} CASCADE")
    yield db
    db.dispose()


@pytest.fixture
def settings() -> Settings:
    # Webhook delivery is started by the tests that deliver (tests/events); the others need no background work.
    return Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False)


@pytest.fixture
def app_client(database: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def api(app_client: TestClient) -> Api:
    return Api(app_client)


@pytest.fixture
def scim(app_client: TestClient, database: Database) -> Scim:
    directory_id, token = new_directory(database, "Contoso")
    return Scim(app_client, directory_id, token)


@pytest.fixture
def other_scim(app_client: TestClient, database: Database) -> Scim:
    """A second directory (another customer) on the same server."""
    directory_id, token = new_directory(database, "Fabrikam")
    return Scim(app_client, directory_id, token)
