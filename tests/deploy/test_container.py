"""The Dockerfile, linted by hadolint and checked for what the image promises: built in stages from the wheel, run
as a non-root user, data under the /data volume, a health check on /readyz, SCIMGATE_ variables only, PID 1 is
scimgate itself (so SIGTERM reaches uvicorn, which drains), and nothing secret in the build context or the layers.

The image is not built here: this machine reaches no container registry for the base image (docs/deployment.md).
The health check's command is run against a real server in tests/deploy/test_wheel.py."""

import json
import subprocess
import sys
from pathlib import Path

from tests.deploy.helpers import dockerfile_instructions, healthcheck_command, scimgate_names, unknown_settings
from tests.helpers.processes import REPO

DOCKERFILE = REPO / "Dockerfile"
HADOLINT = str(Path(sys.executable).with_name("hadolint"))


def test_hadolint_finds_nothing() -> None:
    """hadolint reports no rule, not even at "info" or "style" level."""
    linted = subprocess.run([HADOLINT, "--failure-threshold", "style", str(DOCKERFILE)], capture_output=True, text=True)
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


def test_runtime_stage_is_slim_non_root_with_one_data_volume() -> None:
    """Two stages, the last one a slim Python; it runs as a numeric non-root user, with SCIMGATE_DATA_DIR the only
    volume, /data."""
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    stages = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert len(stages) == 2
    base = dict(instructions)["ARG"].split("=", 1)[1]
    assert base.startswith("python:3.") and "slim" in base
    final = instructions[stages[-1] :]
    assert final[0][1] == "${PYTHON_IMAGE}"
    (user,) = [args for keyword, args in final if keyword == "USER"]
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit()
    assert [json.loads(args) for keyword, args in final if keyword == "VOLUME"] == [["/data"]]
    environment = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "SCIMGATE_DATA_DIR=/data" in environment and "SCIMGATE_HOST=0.0.0.0" in environment
    assert any(keyword == "COPY" and args.startswith("--from=build /opt/scimgate") for keyword, args in final)


def test_scimgate_is_pid_1_and_checked_on_readyz() -> None:
    """ENTRYPOINT in exec form (no shell between the runtime's SIGTERM and uvicorn, which drains on it), serving by
    default; the HEALTHCHECK asks /readyz on the configured port."""
    instructions = dict(dockerfile_instructions(DOCKERFILE.read_text()))
    assert json.loads(instructions["ENTRYPOINT"]) == ["scimgate"] and json.loads(instructions["CMD"]) == ["serve"]
    assert instructions["STOPSIGNAL"] == "SIGTERM"
    command = healthcheck_command()
    assert command[0] == "python" and "/readyz" in command[-1] and "SCIMGATE_PORT" in command[-1]


def test_only_known_settings_and_no_secrets() -> None:
    """Every SCIMGATE_ variable is a setting; no ARG or ENV carries a key, password, token or database URL; the
    build context is an allow-list (a local database, venv or env file never reaches a layer)."""
    text = DOCKERFILE.read_text()
    assert unknown_settings(scimgate_names(text)) == set()
    for keyword, args in dockerfile_instructions(text):
        if keyword in ("ARG", "ENV"):
            for secret in ("KEY", "PASSWORD", "TOKEN", "SECRET", "DATABASE_URL"):
                assert secret not in args.upper(), args
    ignored = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert ignored[0] == "*"
    assert {line for line in ignored if line.startswith("!")} == {"!pyproject.toml", "!README.md", "!src/"}
