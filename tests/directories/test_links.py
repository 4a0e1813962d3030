"""Setup links as stored: a hash, never the secret; they expire, are revoked, and record their last use."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scimgate.directories.links import create_link, list_links, open_link, revoke_link
from scimgate.directories.service import create_directory, set_disabled
from scimgate.store.database import Database
from scimgate.store.tables import setup_links


@pytest.mark.both_backends
def test_a_link_is_stored_as_a_hash_and_opens_its_directory(database: Database) -> None:
    """The secret is nowhere in the table; presenting it opens its directory and records the use."""
    with database.write() as conn:
        directory = create_directory(conn, "Contoso")
        issued = create_link(conn, directory.id)
    with database.read() as conn:
        stored = [dict(row._mapping) for row in conn.execute(sa.select(setup_links))]
    assert issued.secret.startswith("scimgate_sl_") and len(issued.secret) > 50
    assert issued.secret not in repr(stored)
    with database.write() as conn:
        opened = open_link(conn, issued.secret)
    assert opened is not None and opened.directory_id == directory.id
    with database.read() as conn:
        (listed,) = list_links(conn, directory.id)
    assert listed.last_used_at is not None and listed.status(datetime.now(UTC)) == "active"


@pytest.mark.both_backends
def test_revoked_expired_disabled_and_wrong_links_open_nothing(database: Database) -> None:
    """Revoked, expired, of a disabled directory, or a near miss: all open nothing."""
    with database.write() as conn:
        directory = create_directory(conn, "Contoso")
        revoked = create_link(conn, directory.id)
        expired = create_link(conn, directory.id)
        conn.execute(
            setup_links.update()
            .where(setup_links.c.id == expired.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert revoke_link(conn, directory.id, revoked.id) is not None
        live = create_link(conn, directory.id)
    with database.write() as conn:
        assert open_link(conn, revoked.secret) is None
        assert open_link(conn, expired.secret) is None
        assert open_link(conn, live.secret[:-1] + ("A" if live.secret[-1] != "A" else "B")) is None
        assert open_link(conn, live.secret) is not None
        set_disabled(conn, directory.id, True)
        assert open_link(conn, live.secret) is None


def test_a_link_always_expires_within_thirty_days(database: Database) -> None:
    """No link for ever, nor one longer than 30 days."""
    with database.write() as conn:
        directory = create_directory(conn, "Contoso")
        with pytest.raises(ValueError):
            create_link(conn, directory.id, timedelta(days=31))
        with pytest.raises(ValueError):
            create_link(conn, directory.id, timedelta(0))
