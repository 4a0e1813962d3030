"""OAuth 2.0 client credentials (RFC 6749 §4.4) per directory, as new Microsoft Entra gallery apps require.

The IdP admin enters a Token Endpoint (``{public_url}/oauth/token``), a Client ID and a Client Secret; the IdP
trades them for a short-lived access token and sends that as its bearer token. Entra requires a client per
customer ("a single app wide client ID/Client Secret pair is not supported"), so a client belongs to one directory
and its tokens open only that directory.

Access tokens are opaque random strings stored as a SHA-256 with their expiry, in the tokens table: no JWT, so no
``alg`` confusion, no key to leak, and revoking a client or disabling its directory stops its tokens at once.
A client may hold several secrets: rotation adds one and gives the others an expiry (the overlap window).

Issue 20, finding 14: every token request used to store another live access token, without limit. Now a client may
get ``oauth_tokens_per_minute`` tokens a minute (beyond it 429 with Retry-After; an IdP reuses its token for its
lifetime anyway), and holds at most ``MAX_LIVE_TOKENS``: minting one deletes the client's oldest beyond that.
"""

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scimgate.directories.credentials import IssuedToken, credential_status, issue_token, maybe_utc
from scimgate.ids import new_id
from scimgate.rate_limits import RateLimits, retry_after
from scimgate.store.database import Database, is_unavailable, utc
from scimgate.store.tables import client_secrets, directories, oauth_clients, tokens
from scimgate.tokens import CLIENT_SECRET_PREFIX, display_prefix, generate_token, hash_token, hashes_match

logger = logging.getLogger("scimgate.oauth")
MIN_LIFETIME = 3600
MAX_LIFETIME = 6 * 3600
_MAX_FORM_BYTES = 8192
# Access tokens a client holds at once: an IdP uses one at a time; a few cover several sync workers and a token
# fetched early before the old one expires.
MAX_LIVE_TOKENS = 5


class TokenBudgetSpent(Exception):
    """The client got its tokens for this minute; ``wait`` seconds until it may get another."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"retry in {wait:.1f} s")
        self.wait = wait


@dataclass(frozen=True)
class SecretInfo:
    id: str
    display_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        return credential_status(self.revoked_at, self.expires_at, now)


@dataclass(frozen=True)
class Client:
    id: str
    directory_id: str
    name: str | None
    access_token_seconds: int
    created_at: datetime
    secrets: list[SecretInfo] = field(default_factory=list)


@dataclass(frozen=True)
class IssuedSecret:
    id: str
    client_id: str
    secret: str
    """Shown once; only its SHA-256 is stored."""


def check_lifetime(seconds: int) -> None:
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        raise ValueError(f"access token lifetime must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds (1–6 h)")


def create_client(
    conn: Connection, directory_id: str, name: str | None = None, access_token_seconds: int = MIN_LIFETIME
) -> tuple[Client, IssuedSecret]:
    check_lifetime(access_token_seconds)
    client_id = new_id("cli")
    now = datetime.now(UTC)
    conn.execute(
        oauth_clients.insert().values(
            id=client_id,
            directory_id=directory_id,
            name=name,
            access_token_seconds=access_token_seconds,
            created_at=now,
        )
    )
    issued = _add_secret(conn, client_id, now)
    client = get_client(conn, directory_id, client_id)
    assert client is not None
    return client, issued


def _add_secret(conn: Connection, client_id: str, now: datetime) -> IssuedSecret:
    secret = generate_token(CLIENT_SECRET_PREFIX)
    issued = IssuedSecret(new_id("sec"), client_id, secret)
    conn.execute(
        client_secrets.insert().values(
            id=issued.id,
            client_id=client_id,
            secret_hash=hash_token(secret),
            display_prefix=display_prefix(secret),
            created_at=now,
        )
    )
    return issued


def _secret_info(row: sa.Row[Any]) -> SecretInfo:
    return SecretInfo(
        row.id,
        row.display_prefix,
        utc(row.created_at),
        maybe_utc(row.last_used_at),
        maybe_utc(row.expires_at),
        maybe_utc(row.revoked_at),
    )


def list_clients(conn: Connection, directory_id: str, client_id: str | None = None) -> list[Client]:
    query = sa.select(oauth_clients).where(oauth_clients.c.directory_id == directory_id).order_by(oauth_clients.c.id)
    if client_id is not None:
        query = query.where(oauth_clients.c.id == client_id)
    clients = list(conn.execute(query))
    by_client: dict[str, list[SecretInfo]] = {row.id: [] for row in clients}
    if clients:
        secret_rows = conn.execute(
            sa.select(client_secrets)
            .where(client_secrets.c.client_id.in_(list(by_client)))
            .order_by(client_secrets.c.id)
        )
        for row in secret_rows:
            by_client[row.client_id].append(_secret_info(row))
    return [
        Client(row.id, row.directory_id, row.name, row.access_token_seconds, utc(row.created_at), by_client[row.id])
        for row in clients
    ]


def get_client(conn: Connection, directory_id: str, client_id: str) -> Client | None:
    found = list_clients(conn, directory_id, client_id)
    return found[0] if found else None


def rotate_secret(conn: Connection, directory_id: str, client_id: str, overlap: timedelta) -> IssuedSecret | None:
    """A new secret; the client's other live secrets keep working for ``overlap``. None: no such client."""
    if get_client(conn, directory_id, client_id) is None:
        return None
    now = datetime.now(UTC)
    live = sa.and_(client_secrets.c.client_id == client_id, client_secrets.c.revoked_at.is_(None))
    ends = now + overlap
    conn.execute(
        client_secrets.update()
        .where(live, sa.or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > ends))
        .values(expires_at=ends)
    )
    return _add_secret(conn, client_id, now)


def revoke_secret(conn: Connection, directory_id: str, client_id: str, secret_id: str) -> bool:
    """Revoke one secret and the client's access tokens now; False when the directory's client has no such
    secret."""
    if get_client(conn, directory_id, client_id) is None:
        return False
    found = client_secrets.c.client_id == client_id, client_secrets.c.id == secret_id
    if conn.execute(sa.select(client_secrets.c.id).where(*found)).first() is None:
        return False
    now = datetime.now(UTC)
    conn.execute(client_secrets.update().where(*found, client_secrets.c.revoked_at.is_(None)).values(revoked_at=now))
    # A secret is revoked because it leaked: the access tokens got with it must stop too. Which secret got which
    # token is not kept, so all the client's tokens go; the IdP asks for a new one with a live secret.
    live = sa.and_(tokens.c.client_id == client_id, tokens.c.revoked_at.is_(None))
    conn.execute(tokens.update().where(live).values(revoked_at=now))
    return True


def delete_client(conn: Connection, directory_id: str, client_id: str) -> bool:
    """Delete a client, its secrets and every access token issued to it (cascade): its tokens stop working."""
    query = oauth_clients.delete().where(oauth_clients.c.directory_id == directory_id, oauth_clients.c.id == client_id)
    return conn.execute(query).rowcount > 0


_SECRET = (
    sa.select(
        client_secrets.c.id,
        client_secrets.c.secret_hash,
        client_secrets.c.expires_at,
        client_secrets.c.revoked_at,
        oauth_clients.c.directory_id,
        oauth_clients.c.name,
        oauth_clients.c.access_token_seconds,
        directories.c.disabled_at,
    )
    .join(oauth_clients, oauth_clients.c.id == client_secrets.c.client_id)
    .join(directories, directories.c.id == oauth_clients.c.directory_id)
    .where(client_secrets.c.secret_hash == sa.bindparam("presented"), client_secrets.c.client_id == sa.bindparam("cid"))
)


def exchange(
    conn: Connection, client_id: str, secret: str, admit: Callable[[str], float] = lambda _client: 0.0
) -> IssuedToken | None:
    """An access token for a client id and one of its live secrets; None for any wrong, expired or revoked
    credential and for a disabled directory (the caller answers ``invalid_client`` to all of them alike).

    ``admit`` charges the client's budget once its credentials are right (so that knowing a client id is not enough
    to lock its IdP out): 0.0 to go ahead, else the seconds to wait, raised as TokenBudgetSpent."""
    presented = hash_token(secret)
    row = conn.execute(_SECRET, {"presented": presented, "cid": client_id}).first()
    now = datetime.now(UTC)
    if row is None or not hashes_match(row.secret_hash, presented):
        return None
    if row.revoked_at is not None or row.disabled_at is not None:
        return None
    if row.expires_at is not None and utc(row.expires_at) <= now:
        return None
    wait = admit(client_id)
    if wait:
        raise TokenBudgetSpent(wait)
    # Expired access tokens of this client are of no use to anyone: drop them, so the table stays small.
    conn.execute(tokens.delete().where(tokens.c.client_id == client_id, tokens.c.expires_at <= now))
    conn.execute(client_secrets.update().where(client_secrets.c.id == row.id).values(last_used_at=now))
    expires = now + timedelta(seconds=row.access_token_seconds)
    issued = issue_token(conn, row.directory_id, row.name, expires_at=expires, client_id=client_id)
    _keep_newest_tokens(conn, client_id)
    return issued


def _keep_newest_tokens(conn: Connection, client_id: str) -> None:
    """Delete the client's access tokens beyond its MAX_LIVE_TOKENS newest (ids sort by creation time)."""
    newest = (
        sa.select(tokens.c.id)
        .where(tokens.c.client_id == client_id)
        .order_by(tokens.c.id.desc())
        .limit(MAX_LIVE_TOKENS)
        .scalar_subquery()
    )
    conn.execute(tokens.delete().where(tokens.c.client_id == client_id, tokens.c.id.not_in(newest)))


def token_endpoint(db: Database, limits: RateLimits) -> Any:
    """``POST /oauth/token``: the client credentials grant, with errors as RFC 6749 §5.2 has them."""

    async def endpoint(request: Request) -> Response:
        if request.method != "POST":
            response = _oauth_error(405, "invalid_request", "Token requests are POSTs.")
            response.headers["Allow"] = "POST"
            return response
        source = request.client.host if request.client else "unknown"
        form, basic = await _credentials_request(request)
        if isinstance(form, Response):
            return form
        credentials = _client_credentials(form, basic)
        if isinstance(credentials, Response):
            return credentials
        client_id, secret = credentials

        def run() -> IssuedToken | None:
            with db.write() as conn:
                return exchange(conn, client_id, secret, limits.per_client.take)

        try:
            issued = await run_in_threadpool(run)
        except TokenBudgetSpent as spent:
            return _budget_spent(spent.wait)
        except sa.exc.SQLAlchemyError as error:
            if is_unavailable(error):
                return _oauth_error(503, "temporarily_unavailable", "The database is busy or unavailable; retry.")
            logger.exception("token request failed", exc_info=error)
            return _oauth_error(500, "server_error", "The server hit an unexpected error; nothing was issued.")
        if issued is None or issued.expires_at is None:
            # Secrets have 256 bits, so they are always checked; only failures are slowed down.
            wait = limits.failed_credential(source)
            if wait:
                response = _oauth_error(429, "invalid_client", "Too many failed client authentications from here.")
                response.headers["Retry-After"] = retry_after(wait)
                return response
            return _oauth_error(
                401,
                "invalid_client",
                "Unknown client, wrong or expired secret, or a disabled directory. Create a new secret with "
                "`scimgate client rotate-secret` and paste it into the IdP.",
            )
        lifetime = int((issued.expires_at - datetime.now(UTC)).total_seconds())
        body = {"access_token": issued.token, "token_type": "Bearer", "expires_in": lifetime, "scope": "scim"}
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return endpoint


def _budget_spent(wait: float) -> Response:
    response = _oauth_error(
        429,
        "temporarily_unavailable",
        "This client asked for too many access tokens this minute; use the one it has until it expires "
        "(expires_in), then ask again.",
    )
    response.headers["Retry-After"] = retry_after(wait)
    return response


def _client_credentials(form: dict[str, str], basic: tuple[str, str] | None) -> tuple[str, str] | Response:
    """A client credentials grant's client id and secret, or the error to answer (RFC 6749 §4.4.2, §5.2)."""
    if "grant_type" not in form:
        return _oauth_error(400, "invalid_request", "grant_type is missing; send grant_type=client_credentials.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "This endpoint issues tokens for grant_type=client_credentials only."
        )
    client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
    if basic and ("client_id" in form or "client_secret" in form):
        return _oauth_error(400, "invalid_request", "Send the client credentials once: in the header or the body.")
    if not client_id or not secret or "\x00" in client_id + secret:
        return _oauth_error(401, "invalid_client", "Send client_id and client_secret (form fields or HTTP Basic).")
    return client_id, secret


async def _credentials_request(request: Request) -> tuple[dict[str, str] | Response, tuple[str, str] | None]:
    """The form fields (each at most once) and HTTP Basic credentials, or the error to answer."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "Send the parameters as application/x-www-form-urlencoded."), None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return _oauth_error(400, "invalid_request", "The request body is too large for a token request."), None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), errors="strict")
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "invalid_request", "The request body is not a valid form."), None
    form = dict(pairs)
    if len(form) != len(pairs):  # RFC 6749 §3.2: parameters must not be included more than once
        return _oauth_error(400, "invalid_request", "A parameter was sent more than once."), None
    basic = _basic(request.headers.get("authorization"))
    if basic is None and request.headers.get("authorization"):
        return _oauth_error(401, "invalid_client", "Only HTTP Basic client authentication is accepted here."), None
    return form, basic


def _basic(header: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: client id and secret, each form-urlencoded, joined by a colon, in base64."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII, not UTF-8
        return None
    client_id, colon, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if colon else None


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 503:
        headers["Retry-After"] = "5"
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="scimgate"'
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)
