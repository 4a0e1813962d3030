"""The systemd unit (deploy/systemd/scimgate.service), checked by systemd's own tools: `systemd-analyze verify`
(every key known, every value parsed, the command executable) and `systemd-analyze security --offline` (the
exposure score of its hardening). Running it under systemd is not possible here: this container's PID 1 is not
systemd, so `systemctl` and `systemd-run` have no manager to talk to. What the unit starts, its ExecStart with its
Environment=, is run from the installed wheel in tests/deploy/test_wheel.py."""

import re
import subprocess
import sys
from pathlib import Path

from tests.deploy.helpers import DEPLOY, unknown_settings

UNIT = DEPLOY / "systemd" / "scimgate.service"
ANALYZE = "systemd-analyze"  # Debian's systemd package (scripts/test installs it where it is missing)


def unit_values(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]


def installed_copy(tmp_path: Path, scimgate: str) -> Path:
    """The unit with ExecStart pointing at a scimgate that exists here (verify checks it is executable)."""
    copy = tmp_path / "scimgate.service"
    copy.write_text(UNIT.read_text().replace("/opt/scimgate/bin/scimgate", scimgate))
    return copy


def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    """systemd-analyze verify reports nothing: no unknown key, no value it could not parse."""
    scimgate = str(Path(sys.executable).with_name("scimgate"))
    verified = subprocess.run(
        [ANALYZE, "verify", str(installed_copy(tmp_path, scimgate))], capture_output=True, text=True, timeout=60
    )
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_hardening_keeps_exposure_low() -> None:
    """systemd rates the unit's exposure at most 2.0 of 10 ("OK"; a unit without hardening rates 9.6 "UNSAFE")."""
    rated = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    score = re.search(r"Overall exposure level for scimgate.service: ([0-9.]+)", rated.stdout)
    assert score is not None, rated.stdout + rated.stderr
    assert float(score.group(1)) <= 2.0


def test_unit_runs_as_its_own_user_with_known_settings() -> None:
    """A dedicated user, SQLite in the 0700 state directory, the first token in a file there rather than the
    journal; every SCIMGATE_ variable it sets is a setting; SIGTERM with time to drain."""
    assert unit_values("User") == ["scimgate"] and unit_values("StateDirectoryMode") == ["0700"]
    environment = dict(value.split("=", 1) for value in unit_values("Environment"))
    assert unknown_settings(environment) == set()
    assert environment["SCIMGATE_DATA_DIR"] == "/var/lib/" + unit_values("StateDirectory")[0]
    assert environment["SCIMGATE_FIRST_TOKEN_FILE"].startswith(environment["SCIMGATE_DATA_DIR"] + "/")
    assert unit_values("ExecStart") == ["/opt/scimgate/bin/scimgate serve"]
    assert unit_values("KillSignal") == ["SIGTERM"] and int(unit_values("TimeoutStopSec")[0]) >= 10
