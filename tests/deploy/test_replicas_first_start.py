"""Replicas started together on one empty database (compose's two replicas, a Helm Deployment's pods) create one
first directory between them, not one each: an IdP given one token would otherwise find half the replicas' users
in another directory, and the token file would hold whichever replica wrote last."""

import threading

import pytest
import sqlalchemy as sa

from scimgate.cli.first_start import announce
from scimgate.config import Settings
from scimgate.store.database import Database
from scimgate.store.tables import directories
from tests.helpers.scim import BASE_URL

REPLICAS = 4


@pytest.mark.both_backends
def test_replicas_starting_together_create_one_directory(database: Database) -> None:
    barrier = threading.Barrier(REPLICAS)
    errors: list[BaseException] = []
    replicas = [Database(database.url.render_as_string(hide_password=False)) for _ in range(REPLICAS)]

    def start(db: Database) -> None:
        barrier.wait()
        try:
            announce(db, Settings(public_url=BASE_URL))
        except BaseException as error:  # reported below, with the count
            errors.append(error)

    threads = [threading.Thread(target=start, args=(db,)) for db in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for db in replicas:
        db.dispose()
    with database.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(directories)).scalar_one()
    assert (count, errors) == (1, [])
