"""Smoke test of the published package: install it into a fresh virtual environment without the test
dependencies, then run ``scimgate --help`` and a short ``serve``. Catches a runtime dependency that only the test
extras were providing."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import REPO, serve_and_use


@pytest.mark.slow
def test_fresh_install_runs(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", str(REPO)], check=True, timeout=600)
    installed = subprocess.run([*pip, "list"], capture_output=True, text=True, check=True).stdout
    for test_only in ("pytest", "scim2-tester", "httpx2", "hypothesis"):
        assert test_only not in installed.lower()
    help_text = subprocess.run([str(venv / "bin" / "scimgate"), "--help"], capture_output=True, text=True, check=True)
    assert "serve" in help_text.stdout
    workdir = tmp_path / "work"
    workdir.mkdir()
    serve_and_use([str(venv / "bin" / "scimgate")], workdir)
