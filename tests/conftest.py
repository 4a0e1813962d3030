"""Fixtures: a real database per test, the app, and directories. What tests import is in tests/helpers.

``database`` is a fresh SQLite database. A test marked ``both_backends`` (its outcome depends on the storage: SQL
semantics, locking, constraints, ordering, JSON, the IdP transcripts; see the marker in pyproject.toml) gets it on
SQLite and on PostgreSQL, as ``[sqlite]`` and ``[postgresql]``; ``pg_database`` is PostgreSQL alone. PostgreSQL
tests run when ``SCIMGATE_TEST_POSTGRES_URL`` (default: the local trust-auth server) answers; under CI
(``CI=true``) an unreachable PostgreSQL is a failure, not a skip. Each pytest process (each pytest-xdist worker)
has a PostgreSQL database of its own, put back into the freshly migrated state before every test that uses it.
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
from tests.helpers import postgres
from tests.helpers.scim import BASE_URL, METRICS_TOKEN, OPERATOR_KEY, Api, Scim, new_directory

BACKENDS = ["sqlite", "postgresql"]

# tmp_path and tmp_path_factory in memory (a tmpfs) where the machine has room for them, as Linux has at /dev/shm:
# nearly every test writes a SQLite database there, and on a disk each one's first write and its close wait for the
# file system's journal (about 50 ms a test here, a fifth of an average test). What is tested is unchanged: the
# databases keep WAL and synchronous=FULL, a killed process loses nothing either way (the page cache survives it),
# and the kill -9 test of PostgreSQL puts its cluster on disk (tests/store/test_database_crash.py). A root given in
# PYTEST_DEBUG_TEMPROOT or --basetemp wins. pyproject.toml keeps only failed tests' directories, so runs do not
# pile up in memory.
_MEMORY_TEMP_ROOT = Path("/dev/shm")
_MEMORY_NEEDED = 4 * 2**30


def _has_room(root: Path) -> bool:
    try:
        stats = os.statvfs(root)
    except OSError:
        return False
    return os.access(root, os.W_OK | os.X_OK) and stats.f_bavail * stats.f_frsize >= _MEMORY_NEEDED


if "PYTEST_DEBUG_TEMPROOT" not in os.environ and _has_room(_MEMORY_TEMP_ROOT):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_MEMORY_TEMP_ROOT)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """SQLite for every test that takes ``database``; PostgreSQL as well for those marked ``both_backends``."""
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("database", BACKENDS, indirect=True)


# In-process modules whose tests take seconds each (2 to 18 s in a full run, where most take a tenth of a second):
# Hypothesis, schedules and conformance runs. Collected near the end (tests/scim, tests/test_*.py), they were what a
# worker was still running while the other had nothing left.
LONG_MODULES = frozenset(
    {
        "test_conformance.py",
        "test_filter_differential.py",
        "test_fuzz.py",
        "test_interleavings.py",
        "test_patch_property.py",
        "test_extension_patch_property.py",
        "test_bulk.py",
        "test_availability.py",
        "test_hostile_parameters.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow (they start processes, browsers or installs, and mostly wait on them) first, then those of
    LONG_MODULES, then the rest, in collection order otherwise; under pytest-xdist, so that every worker starts on
    its share of the slow and long ones.

    pytest-xdist's worksteal hands the N workers N consecutive slices of this order, and a worker that runs out
    takes the second half of the longest queue left. In one slow-first order, the first worker got every slow and
    long test (half the suite's time, most of it spent waiting) and the others could only take the short ones from
    its end. So each slice starts with its own share of them, whole modules at a time (a module's browser, wheel or
    seeded app is set up once), and the run still ends on short tests."""
    ordered = sorted(items, key=_kind)
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    if workers > 1:
        ordered = _slices_each_starting_slow(ordered, workers)
    items[:] = ordered


SLOW, LONG, SHORT = 0, 1, 2


def _kind(item: pytest.Item) -> int:
    if item.get_closest_marker("slow"):
        return SLOW
    return LONG if item.path.name in LONG_MODULES else SHORT


def _slices_each_starting_slow(ordered: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """``ordered`` (by _kind) rearranged into ``workers`` slices of worksteal's sizes, each starting with some of
    the slow and long modules (the heaviest to the lightest head so far), then short tests to fill it."""
    modules: dict[tuple[int, Path], list[pytest.Item]] = {}
    short: list[pytest.Item] = []
    for item in ordered:
        if _kind(item) == SHORT:
            short.append(item)
        else:
            modules.setdefault((_kind(item), item.path), []).append(item)
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0] * workers
    # A slow test takes seconds to tens of seconds, a long one a few: rough weights, enough to spread them.
    for (kind, _path), tests in sorted(
        modules.items(), key=lambda unit: -len(unit[1]) * (4 if unit[0][0] == SLOW else 1)
    ):
        lightest = loads.index(min(loads))
        heads[lightest].extend(tests)
        loads[lightest] += len(tests) * (4 if kind == SLOW else 1)
    result: list[pytest.Item] = []
    left = len(ordered)
    for index, head in enumerate(heads):
        size = left // (workers - index)  # worksteal's first distribution: pending // nodes remaining
        head.sort(key=_kind)
        fill = max(0, size - len(head))
        result += head + short[:fill]
        short = short[fill:]
        left -= len(head) + fill
    return result + short


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "scimgate.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[postgres.Migrated]:
    """This process's PostgreSQL database, migrated (dropped at the end of the session)."""
    admin = sa.create_engine(postgres.POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"scimgate_test_{os.getpid()}"
    try:
        migrated = postgres.create(admin, name)
    except sa.exc.OperationalError as error:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {postgres.POSTGRES_URL} under CI: {error}")
        pytest.skip(f"PostgreSQL is not reachable at {postgres.POSTGRES_URL}")
    yield migrated
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """SQLite, or PostgreSQL for the ``[postgresql]`` run of a ``both_backends`` test; freshly migrated."""
    if getattr(request, "param", "sqlite") == "sqlite":
        path = tmp_path / "scimgate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        migrated: postgres.Migrated = request.getfixturevalue("postgres_migrated")
        db = Database(migrated.url)
        postgres.reset(db, migrated)
    yield db
    db.dispose()


@pytest.fixture
def pg_database(postgres_migrated: postgres.Migrated) -> Iterator[Database]:
    """PostgreSQL only, for behaviour SQLite does not have (connections to kill, deadlocks); freshly migrated."""
    db = Database(postgres_migrated.url)
    postgres.reset(db, postgres_migrated)
    yield db
    db.dispose()


@pytest.fixture
def settings() -> Settings:
    # Webhook delivery is started by the tests that deliver (tests/events); the others need no background work.
    return Settings(
        public_url=BASE_URL, operator_key=OPERATOR_KEY, metrics_token=METRICS_TOKEN, webhooks_in_serve=False
    )


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
