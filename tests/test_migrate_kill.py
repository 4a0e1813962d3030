"""kill -9 during `scimgate migrate` (security plan H5): the schema is left at the old revision or the new one,
never between, and `serve` refuses to run on anything but the current one."""

import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from scimgate.store import migrate
from scimgate.store.database import Database
from tests.helpers.scim import new_directory

pytestmark = [pytest.mark.both_backends, pytest.mark.slow]

START = "0001"


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6, 0.9, 1.2])
def test_a_killed_migration_leaves_the_old_or_the_new_schema(database: Database, delay: float) -> None:
    new_directory(database, "Before the upgrade")
    migrate.downgrade(database, START)
    url = database.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "scimgate", "migrate", "--database-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    database.engine.dispose()  # connections from before the kill may be stale
    state = migrate.state(database)
    assert state.current in (START, state.head), state.current
    with database.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM directories")).scalar() == 1
        if database.is_sqlite:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    migrate.upgrade(database)  # finishing the migration afterwards works, whatever was killed
    assert migrate.state(database).up_to_date
