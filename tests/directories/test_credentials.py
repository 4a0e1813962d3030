"""Long-lived tokens: rotation with an overlap, expiry, revocation, and the last-use times operators read."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.credentials import (
    NotRotatable,
    directory_for_token,
    get_token,
    issue_token,
    list_tokens,
    revoke_token,
    rotate_token,
)
from scimgate.directories.oauth import create_client
from scimgate.directories.service import get_directory, set_disabled
from scimgate.store.database import Database
from scimgate.store.tables import tokens
from tests.helpers.scim import new_directory

pytestmark = pytest.mark.both_backends


def test_rotation_keeps_both_tokens_for_the_overlap_then_only_the_new(database: Database) -> None:
    """The old token gets an expiry; until then both open the directory, after it only the new one does."""
    directory_id, old = new_directory(database, "Rotating")
    with database.write() as conn:
        old_id = list_tokens(conn, directory_id)[0].id
        new = rotate_token(conn, directory_id, old_id, timedelta(hours=1))
    assert new is not None
    with database.read() as conn:
        assert directory_for_token(conn, old) is not None and directory_for_token(conn, new.token) is not None
        info = get_token(conn, directory_id, old_id)
        assert info is not None and info.expires_at is not None
        assert timedelta(minutes=59) < info.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    with database.write() as conn:  # the overlap ends
        conn.execute(tokens.update().where(tokens.c.id == old_id).values(expires_at=datetime.now(UTC)))
    with database.read() as conn:
        assert directory_for_token(conn, old) is None
        assert directory_for_token(conn, new.token) is not None
        statuses = {t.id: t.status(datetime.now(UTC)) for t in list_tokens(conn, directory_id)}
        assert statuses == {old_id: "expired", new.id: "active"}


def test_rotation_never_extends_an_expiry(database: Database) -> None:
    """Rotating again with a longer overlap does not push back an expiry already set."""
    directory_id, _ = new_directory(database, "Twice")
    with database.write() as conn:
        old_id = list_tokens(conn, directory_id)[0].id
        rotate_token(conn, directory_id, old_id, timedelta(minutes=5))
        first = get_token(conn, directory_id, old_id)
        rotate_token(conn, directory_id, old_id, timedelta(days=7))
        second = get_token(conn, directory_id, old_id)
    assert first is not None and second is not None and second.expires_at == first.expires_at


def test_revoked_or_expired_tokens_cannot_be_rotated(database: Database) -> None:
    """Rotation is for live tokens; a revoked one stays dead."""
    directory_id, token = new_directory(database, "Dead")
    with database.write() as conn:
        token_id = list_tokens(conn, directory_id)[0].id
        revoke_token(conn, directory_id, token_id)
        with pytest.raises(NotRotatable):
            rotate_token(conn, directory_id, token_id, timedelta(hours=1))
        assert rotate_token(conn, directory_id, "tok_missing", timedelta(hours=1)) is None
    with database.read() as conn:
        assert directory_for_token(conn, token) is None


def test_access_tokens_are_not_listed_as_tokens(database: Database) -> None:
    """The token list shows the long-lived tokens operators manage, not the hourly OAuth access tokens."""
    directory_id, _ = new_directory(database, "Listing")
    with database.write() as conn:
        client, _ = create_client(conn, directory_id)
        issue_token(conn, directory_id, expires_at=datetime.now(UTC) + timedelta(hours=1), client_id=client.id)
        assert len(list_tokens(conn, directory_id)) == 1


def test_a_disabled_directory_opens_for_no_token(database: Database) -> None:
    """Disabling a directory makes its tokens open nothing, without touching the tokens themselves."""
    directory_id, token = new_directory(database, "Disabled")
    with database.write() as conn:
        set_disabled(conn, directory_id, True)
    with database.read() as conn:
        assert directory_for_token(conn, token) is None


def test_requests_record_last_use_to_the_minute(database: Database) -> None:
    """A SCIM request sets the token's last use and the directory's last request, at most once a minute."""
    directory_id, token = new_directory(database, "Used")
    url, headers = f"/scim/v2/{directory_id}/Users", {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(Settings(token_cache_seconds=0), database)) as client:
        assert client.get(url, headers=headers).status_code == 200
        with database.read() as conn:
            first = list_tokens(conn, directory_id)[0].last_used_at
            directory = get_directory(conn, directory_id)
        assert first is not None and directory is not None and directory.last_request_at is not None
        assert datetime.now(UTC) - first < timedelta(seconds=30)
        assert client.get(url, headers=headers).status_code == 200
        with database.read() as conn:
            assert list_tokens(conn, directory_id)[0].last_used_at == first  # within the minute: not rewritten
        with database.write() as conn:
            conn.execute(tokens.update().values(last_used_at=datetime.now(UTC) - timedelta(minutes=5)))
        assert client.get(url, headers=headers).status_code == 200
        with database.read() as conn:
            latest = list_tokens(conn, directory_id)[0].last_used_at
        assert latest is not None and latest > first


def test_a_failed_last_use_write_does_not_fail_the_request(database: Database) -> None:
    """Recording the last use is bookkeeping: if that write fails, the IdP's request is still served."""
    directory_id, token = new_directory(database, "Busy")
    with database.write() as conn:
        conn.execute(tokens.update().values(last_used_at=None))
    app = create_app(Settings(token_cache_seconds=0), database)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("UPDATE tokens", {}, Exception("database is locked"))

    with TestClient(app) as client, pytest.MonkeyPatch.context() as patch:
        patch.setattr("scimgate.directories.auth.touch", refuse)
        response = client.get(f"/scim/v2/{directory_id}/Users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
