"""Long-lived bearer tokens of a directory, and what any presented credential opens.

A directory can hold several tokens, each shown once and stored as its SHA-256 (scimgate/tokens.py). Rotation
issues a new token and gives the old one an expiry: both work during that overlap, so the IdP's admin can paste the
new token before the old one stops. Revocation is immediate in the database; each worker honours a token it has
already checked for at most ``token_cache_seconds`` more (directories/auth.py).

OAuth access tokens (directories/oauth.py) live in the same table with their client and an expiry, so one lookup
authenticates both kinds.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.directories.service import touch_directory
from scimgate.ids import new_id
from scimgate.scim.errors import AuthFailure, Reason
from scimgate.store.database import utc
from scimgate.store.tables import directories, tokens
from scimgate.tokens import (
    ACCESS_TOKEN_PREFIX,
    TOKEN_PREFIX,
    display_prefix,
    generate_token,
    hash_token,
    hashes_match,
)

# How stale a credential's last-use time may get before a request writes it again: a write per request would
# put every read behind the SQLite writer, and a minute is precise enough for "is this token still in use?".
LAST_USE_PRECISION = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedToken:
    id: str
    directory_id: str
    token: str
    """The secret itself. It exists only in this object: show it once, it is not stored anywhere."""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class TokenInfo:
    """A token as operators see it: never the secret, only its first characters."""

    id: str
    directory_id: str
    name: str | None
    display_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        return credential_status(self.revoked_at, self.expires_at, now)


def credential_status(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> str:
    """revoked, expired or active: the same rule for tokens and client secrets."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and utc(expires_at) <= now:
        return "expired"
    return "active"


def _info(row: sa.Row[Any]) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        directory_id=row.directory_id,
        name=row.name,
        display_prefix=row.display_prefix,
        created_at=utc(row.created_at),
        last_used_at=maybe_utc(row.last_used_at),
        expires_at=maybe_utc(row.expires_at),
        revoked_at=maybe_utc(row.revoked_at),
    )


def maybe_utc(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def issue_token(
    conn: Connection,
    directory_id: str,
    name: str | None = None,
    *,
    expires_at: datetime | None = None,
    client_id: str | None = None,
) -> IssuedToken:
    token = generate_token(ACCESS_TOKEN_PREFIX if client_id is not None else TOKEN_PREFIX)
    issued = IssuedToken(id=new_id("tok"), directory_id=directory_id, token=token, expires_at=expires_at)
    conn.execute(
        tokens.insert().values(
            id=issued.id,
            directory_id=directory_id,
            secret_hash=hash_token(token),
            display_prefix=display_prefix(token),
            created_at=datetime.now(UTC),
            name=name,
            expires_at=expires_at,
            client_id=client_id,
        )
    )
    return issued


def list_tokens(conn: Connection, directory_id: str) -> list[TokenInfo]:
    """The directory's long-lived tokens (OAuth access tokens are listed with their client), oldest first."""
    query = (
        sa.select(tokens)
        .where(tokens.c.directory_id == directory_id, tokens.c.client_id.is_(None))
        .order_by(tokens.c.id)
    )
    return [_info(row) for row in conn.execute(query)]


def get_token(conn: Connection, directory_id: str, token_id: str) -> TokenInfo | None:
    query = sa.select(tokens).where(
        tokens.c.directory_id == directory_id, tokens.c.id == token_id, tokens.c.client_id.is_(None)
    )
    row = conn.execute(query).first()
    return _info(row) if row is not None else None


def revoke_token(conn: Connection, directory_id: str, token_id: str) -> TokenInfo | None:
    """Revoke now (revoking twice keeps the first time); None when the directory has no such token."""
    conn.execute(
        tokens.update()
        .where(tokens.c.directory_id == directory_id, tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return get_token(conn, directory_id, token_id)


class NotRotatable(Exception):
    """The token is revoked or expired: issue a new one instead."""


def rotate_token(conn: Connection, directory_id: str, token_id: str, overlap: timedelta) -> IssuedToken | None:
    """A new token with the old one's name; the old one keeps working for ``overlap`` (never longer than it
    would have anyway). None when the directory has no such token."""
    old = get_token(conn, directory_id, token_id)
    if old is None:
        return None
    now = datetime.now(UTC)
    if old.status(now) != "active":
        raise NotRotatable(f"token {token_id} is {old.status(now)}; create a new token instead of rotating it")
    ends = now + overlap
    if old.expires_at is not None:
        ends = min(ends, utc(old.expires_at))
    conn.execute(tokens.update().where(tokens.c.id == token_id).values(expires_at=ends))
    return issue_token(conn, directory_id, old.name)


@dataclass(frozen=True)
class Opened:
    """What a valid credential opens."""

    directory_id: str
    strict: bool
    token_id: str = ""
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


_OPEN = (
    sa.select(
        tokens.c.id,
        tokens.c.directory_id,
        tokens.c.secret_hash,
        tokens.c.revoked_at,
        tokens.c.expires_at,
        tokens.c.last_used_at,
        directories.c.strict,
        directories.c.disabled_at,
    )
    .join(directories, directories.c.id == tokens.c.directory_id)
    .where(tokens.c.secret_hash == sa.bindparam("presented"))
)


def directory_for_token(conn: Connection, token: str) -> Opened | None:
    """The directory this token opens, or None when it opens nothing (unknown, revoked, expired, or its directory
    disabled)."""
    presented = hash_token(token)
    # The lookup is by the token's SHA-256, so its timing says nothing about how close a guess was; the
    # constant-time compare then checks what the index returned.
    row = conn.execute(_OPEN, {"presented": presented}).first()
    if row is None or not hashes_match(row.secret_hash, presented):
        return None
    if row.revoked_at is not None or row.disabled_at is not None:
        return None
    expires_at = utc(row.expires_at) if row.expires_at is not None else None
    if expires_at is not None and expires_at <= datetime.now(UTC):
        return None
    last_used = utc(row.last_used_at) if row.last_used_at is not None else None
    return Opened(str(row.directory_id), bool(row.strict), row.id, expires_at, last_used)


def needs_touch(opened: Opened, now: datetime) -> bool:
    return opened.last_used_at is None or now - opened.last_used_at >= LAST_USE_PRECISION


def touch(conn: Connection, opened: Opened, now: datetime) -> None:
    """Record that the credential and its directory were just used."""
    conn.execute(tokens.update().where(tokens.c.id == opened.token_id).values(last_used_at=now))
    touch_directory(conn, opened.directory_id, now)


def diagnose(conn: Connection, token: str | None, directory_id: str) -> AuthFailure:
    """Why a credential was refused on this directory's URL: for the provisioning log, never for the response."""
    if token is None:
        return AuthFailure(Reason.MISSING_TOKEN)
    row = conn.execute(
        sa.select(
            tokens.c.id,
            tokens.c.directory_id,
            tokens.c.revoked_at,
            tokens.c.expires_at,
            directories.c.name,
            directories.c.disabled_at,
        )
        .join(directories, directories.c.id == tokens.c.directory_id)
        .where(tokens.c.secret_hash == hash_token(token))
    ).first()
    if conn.execute(sa.select(directories.c.id).where(directories.c.id == directory_id)).first() is None:
        return AuthFailure(Reason.UNKNOWN_DIRECTORY)
    if row is None:
        return AuthFailure(Reason.UNKNOWN_TOKEN)
    if row.directory_id != directory_id:
        return AuthFailure(Reason.TOKEN_OF_ANOTHER_DIRECTORY, {"other": f"{row.directory_id}, {row.name!r}"})
    if row.revoked_at is not None:
        return AuthFailure(Reason.REVOKED_TOKEN, {"token_id": row.id})
    if row.disabled_at is not None:
        return AuthFailure(Reason.DIRECTORY_DISABLED)
    return AuthFailure(Reason.EXPIRED_TOKEN, {"token_id": row.id})
