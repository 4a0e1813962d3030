"""The OAuth 2.0 client credentials grant (RFC 6749 §4.4) at /oauth/token, as Entra gallery apps use it."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.oauth import create_client, rotate_secret
from scimgate.directories.service import set_disabled
from scimgate.store.database import Database
from scimgate.store.tables import client_secrets, tokens
from scimgate.tokens import hash_token
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim, new_directory


def new_client(database: Database, directory_id: str, seconds: int = 3600) -> tuple[str, str]:
    with database.write() as conn:
        client, issued = create_client(conn, directory_id, "Entra", seconds)
    return client.id, issued.secret


def form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}


def assert_oauth_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.both_backends
def test_client_credentials_give_a_short_lived_token_for_the_directory(
    app_client: TestClient, database: Database, scim: Scim, other_scim: Scim
) -> None:
    """The access token opens the client's directory and no other; the answer is never cached."""
    client_id, secret = new_client(database, scim.directory_id, seconds=2 * 3600)
    response = app_client.post("/oauth/token", data=form(client_id, secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and 7190 <= body["expires_in"] <= 7200
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert app_client.get(f"{scim.base}/Users", headers=headers).status_code == 200
    assert app_client.get(f"{other_scim.base}/Users", headers=headers).status_code == 401
    with database.read() as conn:  # stored as a hash only, with its expiry
        row = conn.execute(sa.select(tokens).where(tokens.c.secret_hash == hash_token(body["access_token"]))).one()
        assert body["access_token"] not in str(tuple(row)) and row.expires_at is not None


def test_http_basic_client_authentication(app_client: TestClient, database: Database, scim: Scim) -> None:
    """RFC 6749 §2.3.1: id and secret form-encoded, then base64 in an Authorization: Basic header."""
    client_id, secret = new_client(database, scim.directory_id)
    basic = base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()
    response = app_client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    both = app_client.post("/oauth/token", data=form(client_id, secret), headers={"Authorization": f"Basic {basic}"})
    assert_oauth_error(both, 400, "invalid_request")


def test_wrong_credentials_are_invalid_client(app_client: TestClient, database: Database, scim: Scim) -> None:
    """A wrong secret, an unknown client, another client's secret, a missing secret: all the same 401."""
    client_id, secret = new_client(database, scim.directory_id)
    other_id, other_secret = new_client(database, scim.directory_id)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for attempt in (
        form(client_id, flipped),
        form("cli_unknown", secret),
        form(client_id, other_secret),
        form(other_id, secret),
        form(client_id, ""),
        {"grant_type": "client_credentials", "client_id": client_id},
    ):
        assert_oauth_error(app_client.post("/oauth/token", data=attempt), 401, "invalid_client")
    assert_oauth_error(
        app_client.post("/oauth/token", data=form(client_id, secret), headers={"Authorization": "Bearer x"}),
        401,
        "invalid_client",
    )
    with database.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(tokens).where(tokens.c.client_id.is_not(None))).scalar()
            == 0
        )


@pytest.mark.parametrize(
    ("content", "content_type", "error"),
    [
        (
            "grant_type=password&client_id=a&client_secret=b",
            "application/x-www-form-urlencoded",
            "unsupported_grant_type",
        ),
        ("client_id=a&client_secret=b", "application/x-www-form-urlencoded", "invalid_request"),
        ('{"grant_type": "client_credentials"}', "application/json", "invalid_request"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        ("%ff%fe=1", "application/x-www-form-urlencoded", "invalid_request"),
        ("grant_type=client_credentials&x=" + "a" * 9000, "application/x-www-form-urlencoded", "invalid_request"),
    ],
)
def test_malformed_token_requests(app_client: TestClient, content: str, content_type: str, error: str) -> None:
    """Requests that are not a client credentials grant get RFC 6749 §5.2 errors, never a 500."""
    response = app_client.post("/oauth/token", content=content, headers={"Content-Type": content_type})
    assert_oauth_error(response, 400, error)


@pytest.mark.both_backends
def test_expired_access_token_is_refused(app_client: TestClient, database: Database, scim: Scim) -> None:
    """An access token past its expiry opens nothing, and the next grant clears it from the table."""
    client_id, secret = new_client(database, scim.directory_id)
    token = app_client.post("/oauth/token", data=form(client_id, secret)).json()["access_token"]
    with database.write() as conn:
        past = datetime.now(UTC) - timedelta(seconds=1)
        conn.execute(tokens.update().where(tokens.c.secret_hash == hash_token(token)).values(expires_at=past))
    app_client.app.state.token_cache.forget()  # type: ignore[attr-defined]
    assert app_client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    app_client.post("/oauth/token", data=form(client_id, secret))
    with database.read() as conn:
        assert conn.execute(sa.select(tokens.c.id).where(tokens.c.secret_hash == hash_token(token))).first() is None


@pytest.mark.both_backends
def test_a_cached_token_is_not_honoured_past_its_expiry(app_client: TestClient, database: Database, scim: Scim) -> None:
    """The per-worker cache never outlives the token: one expiring sooner than the cache window is refused on
    time."""
    client_id, secret = new_client(database, scim.directory_id)
    token = app_client.post("/oauth/token", data=form(client_id, secret)).json()["access_token"]
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    with database.write() as conn:
        conn.execute(tokens.update().where(tokens.c.secret_hash == hash_token(token)).values(expires_at=soon))
    app_client.app.state.token_cache.forget()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    assert app_client.get(f"{scim.base}/Users", headers=headers).status_code == 200  # now cached
    while datetime.now(UTC) <= soon:
        pass
    assert app_client.get(f"{scim.base}/Users", headers=headers).status_code == 401


@pytest.mark.both_backends
def test_disabled_directory_gets_no_tokens(app_client: TestClient, database: Database, scim: Scim) -> None:
    """Disabling the directory stops its client's grants and the access tokens already issued."""
    client_id, secret = new_client(database, scim.directory_id)
    token = app_client.post("/oauth/token", data=form(client_id, secret)).json()["access_token"]
    with database.write() as conn:
        set_disabled(conn, scim.directory_id, True)
    app_client.app.state.token_cache.forget()  # type: ignore[attr-defined]
    assert_oauth_error(app_client.post("/oauth/token", data=form(client_id, secret)), 401, "invalid_client")
    assert app_client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.both_backends
def test_rotated_secret_works_until_its_overlap_ends(app_client: TestClient, database: Database, scim: Scim) -> None:
    """Both secrets work during the overlap; with no overlap the old secret stops at once."""
    client_id, old = new_client(database, scim.directory_id)
    with database.write() as conn:
        new = rotate_secret(conn, scim.directory_id, client_id, timedelta(hours=1))
    assert new is not None
    assert app_client.post("/oauth/token", data=form(client_id, old)).status_code == 200
    assert app_client.post("/oauth/token", data=form(client_id, new.secret)).status_code == 200
    with database.write() as conn:
        newest = rotate_secret(conn, scim.directory_id, client_id, timedelta(0))
    assert newest is not None
    for stale in (old, new.secret):
        assert_oauth_error(app_client.post("/oauth/token", data=form(client_id, stale)), 401, "invalid_client")
    assert app_client.post("/oauth/token", data=form(client_id, newest.secret)).status_code == 200
    with database.read() as conn:
        used = conn.execute(sa.select(client_secrets.c.last_used_at).where(client_secrets.c.id == newest.id)).scalar()
        assert used is not None


def test_odd_client_authentication_is_invalid_client_not_an_error(app_client: TestClient) -> None:
    """A non-ASCII Basic header, NUL characters and a bare colon get invalid_client, never a 500."""
    attempts: list[tuple[dict[str, str], dict[str, Any]]] = [
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic éé".encode("latin-1")}),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic " + base64.b64encode(b":").decode()}),
        (form("cli_\x00", "secret"), {}),
        (form("cli_x", "secret\x00"), {}),
    ]
    for data, headers in attempts:
        assert_oauth_error(app_client.post("/oauth/token", data=data, headers=headers), 401, "invalid_client")


def test_only_post_reaches_the_token_endpoint(app_client: TestClient) -> None:
    """Other methods get 405 with an OAuth error body and Allow: POST."""
    response = app_client.get("/oauth/token")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.mark.both_backends
def test_revoking_a_secret_stops_the_access_tokens_got_with_it(
    app_client: TestClient, database: Database, scim: Scim
) -> None:
    """A leaked secret is revoked: tokens already issued to the client stop too, a live secret gets new ones."""
    from scimgate.directories.oauth import get_client, revoke_secret

    client_id, leaked = new_client(database, scim.directory_id)
    with database.write() as conn:
        fresh = rotate_secret(conn, scim.directory_id, client_id, timedelta(hours=1))
    assert fresh is not None
    token = app_client.post("/oauth/token", data=form(client_id, leaked)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert app_client.get(f"{scim.base}/Users", headers=headers).status_code == 200
    with database.write() as conn:
        client = get_client(conn, scim.directory_id, client_id)
        assert client is not None
        assert revoke_secret(conn, scim.directory_id, client_id, client.secrets[0].id)
    app_client.app.state.token_cache.forget()  # type: ignore[attr-defined]
    assert app_client.get(f"{scim.base}/Users", headers=headers).status_code == 401
    assert_oauth_error(app_client.post("/oauth/token", data=form(client_id, leaked)), 401, "invalid_client")
    assert app_client.post("/oauth/token", data=form(client_id, fresh.secret)).status_code == 200


@pytest.mark.both_backends
def test_a_client_gets_a_few_tokens_a_minute(database: Database) -> None:
    """Issue 20, finding 14: beyond oauth_tokens_per_minute a client gets 429 with Retry-After and no token is
    stored; wrong secrets do not spend its budget (knowing a client id cannot lock its IdP out), and another
    client's budget is its own."""
    settings = Settings(
        public_url=BASE_URL, operator_key=OPERATOR_KEY, webhooks_in_serve=False, oauth_tokens_per_minute=3
    )
    directory_id, _token = new_directory(database, "Contoso")
    client_id, secret = new_client(database, directory_id)
    other_id, other_secret = new_client(database, directory_id)
    with TestClient(create_app(settings, database), base_url=BASE_URL) as app_client:
        for _ in range(5):
            assert_oauth_error(app_client.post("/oauth/token", data=form(client_id, "wrong")), 401, "invalid_client")
        for _ in range(3):
            assert app_client.post("/oauth/token", data=form(client_id, secret)).status_code == 200
        refused = app_client.post("/oauth/token", data=form(client_id, secret))
        assert_oauth_error(refused, 429, "temporarily_unavailable")
        assert 1 <= int(refused.headers["retry-after"]) <= 20 and "access_token" not in refused.json()
        assert app_client.post("/oauth/token", data=form(other_id, other_secret)).status_code == 200
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(tokens.c.client_id == client_id)).scalar() == 3


@pytest.mark.both_backends
def test_a_client_holds_at_most_five_access_tokens(app_client: TestClient, database: Database, scim: Scim) -> None:
    """Each token request used to store one more live token: now the oldest beyond five are gone (and stop
    working), the newest five work."""
    client_id, secret = new_client(database, scim.directory_id)
    got = [app_client.post("/oauth/token", data=form(client_id, secret)).json()["access_token"] for _ in range(8)]
    with database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(tokens.c.client_id == client_id)).scalar() == 5
    statuses = [
        app_client.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {token}"}).status_code for token in got
    ]
    assert statuses == [401, 401, 401, 200, 200, 200, 200, 200]
