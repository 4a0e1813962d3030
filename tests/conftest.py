"""Fixtures: a real database per test (SQLite file, or PostgreSQL when reachable), the app, and directories.

Every test that takes ``database`` (directly or through ``scim``) runs on each backend in ``BACKENDS``.
PostgreSQL tests run when ``SCIMGATE_TEST_POSTGRES_URL`` (default: the local trust-auth server) answers; under CI
(``CI=true``) an unreachable PostgreSQL is a failure, not a skip.
"""

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.tables import metadata

SAMPLES = Path(__file__).parent / "samples"
BASE_URL = "http://testserver"
POSTGRES_URL = os.environ.get("SCIMGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


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


OPERATOR_KEY = "operator-key-for-tests-0123456789abcdef"


@pytest.fixture
def settings() -> Settings:
    # Webhook delivery is started by the tests that deliver (tests/events); the others need no background work.
    return Settings(public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False)


@pytest.fixture
def app_client(database: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        yield client


@dataclass
class Scim:
    """A SCIM client for one directory: paths are relative to the directory's base URL."""

    client: TestClient
    directory_id: str
    token: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.directory_id}"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.base + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.base + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        headers = self.headers({"Content-Type": "application/scim+json", **kw.pop("headers", {})})
        return self.client.post(self.base + path, content=json.dumps(body), headers=headers, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        headers = self.headers({"Content-Type": "application/scim+json", **kw.pop("headers", {})})
        return self.client.put(self.base + path, content=json.dumps(body), headers=headers, **kw)

    def create_user(self, user_name: str, **attrs: Any) -> dict[str, Any]:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, **attrs}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def create_group(self, display_name: str, members: list[str] | None = None, **attrs: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            **attrs,
        }
        if members is not None:
            body["members"] = [{"value": member} for member in members]
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def new_directory(database: Database, name: str) -> tuple[str, str]:
    with database.write() as conn:
        directory = create_directory(conn, name)
        return directory.id, issue_token(conn, directory.id).token


@dataclass
class Api:
    """The management API, with the operator key."""

    client: TestClient

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {OPERATOR_KEY}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self.headers(), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post("/api/v1" + path, json=body if body is not None else {}, headers=self.headers(), **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.patch("/api/v1" + path, json=body, headers=self.headers(), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self.headers(), **kw)


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
