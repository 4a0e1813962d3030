"""Setup links: a URL that lets a customer's IT admin set up provisioning of one directory without the operator.

The link's secret (``scimgate_sl_`` and 256 random bits) is the last part of the URL: shown once, stored as its
SHA-256 (scimgate/tokens.py), checked like a token. A link opens its own directory and nothing else; it always
expires (a URL travels through email and chat), can be revoked at once, and records when it was last opened so the
operator can see whether the customer used it. A disabled directory's links open nothing, as its tokens do.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.directories.credentials import LAST_USE_PRECISION, credential_status, maybe_utc
from scimgate.ids import new_id
from scimgate.store.database import utc
from scimgate.store.tables import directories, setup_links
from scimgate.tokens import SETUP_LINK_PREFIX, display_prefix, generate_token, hash_token, hashes_match

DEFAULT_LIFETIME = timedelta(days=7)
MAX_LIFETIME = timedelta(days=30)
"""Long enough for an IT admin's change window, short enough that a forwarded email stops working."""


@dataclass(frozen=True)
class IssuedLink:
    id: str
    directory_id: str
    secret: str
    """Exists only in this object: the URL is shown once and the secret is stored nowhere."""
    expires_at: datetime

    def url(self, public_url: str) -> str:
        return setup_url(public_url, self.secret)


@dataclass(frozen=True)
class LinkInfo:
    """A link as the operator sees it: never the secret, only its first characters."""

    id: str
    directory_id: str
    display_prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        return credential_status(self.revoked_at, self.expires_at, now)


def setup_url(public_url: str, secret: str) -> str:
    return f"{public_url}/setup/{secret}"


def _info(row: sa.Row[Any]) -> LinkInfo:
    return LinkInfo(
        id=row.id,
        directory_id=row.directory_id,
        display_prefix=row.display_prefix,
        created_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
        revoked_at=maybe_utc(row.revoked_at),
        last_used_at=maybe_utc(row.last_used_at),
    )


def create_link(conn: Connection, directory_id: str, lifetime: timedelta = DEFAULT_LIFETIME) -> IssuedLink:
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"a setup link lasts more than nothing and at most {MAX_LIFETIME.days} days")
    secret = generate_token(SETUP_LINK_PREFIX)
    now = datetime.now(UTC)
    issued = IssuedLink(new_id("lnk"), directory_id, secret, now + lifetime)
    conn.execute(
        setup_links.insert().values(
            id=issued.id,
            directory_id=directory_id,
            secret_hash=hash_token(secret),
            display_prefix=display_prefix(secret),
            created_at=now,
            expires_at=issued.expires_at,
        )
    )
    return issued


def list_links(conn: Connection, directory_id: str) -> list[LinkInfo]:
    query = sa.select(setup_links).where(setup_links.c.directory_id == directory_id).order_by(setup_links.c.id)
    return [_info(row) for row in conn.execute(query)]


def revoke_link(conn: Connection, directory_id: str, link_id: str) -> LinkInfo | None:
    """Revoke now (twice keeps the first time); None when the directory has no such link."""
    scoped = (setup_links.c.directory_id == directory_id, setup_links.c.id == link_id)
    conn.execute(
        setup_links.update().where(*scoped, setup_links.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
    )
    row = conn.execute(sa.select(setup_links).where(*scoped)).first()
    return _info(row) if row is not None else None


def open_link(conn: Connection, secret: str, record_use: bool = True) -> LinkInfo | None:
    """The link this secret is, while it opens its directory: None when unknown, revoked, expired or its directory
    disabled (one answer for all, so a guesser learns nothing). Records the use, to the minute, unless told not to
    (a read transaction: the caller records it with ``record_link_use`` when ``use_due``)."""
    if not secret.startswith(SETUP_LINK_PREFIX) or len(secret) > 100:
        return None
    presented = hash_token(secret)
    row = conn.execute(
        sa.select(setup_links, directories.c.disabled_at)
        .join(directories, directories.c.id == setup_links.c.directory_id)
        .where(setup_links.c.secret_hash == presented)
    ).first()
    if row is None or not hashes_match(row.secret_hash, presented) or row.disabled_at is not None:
        return None
    link = _info(row)
    now = datetime.now(UTC)
    if link.status(now) != "active":
        return None
    if record_use and use_due(link, now):
        record_link_use(conn, link, now)
    return link


def use_due(link: LinkInfo, now: datetime) -> bool:
    """Whether the link's last use, kept to the minute, needs writing."""
    return link.last_used_at is None or now - link.last_used_at >= LAST_USE_PRECISION


def record_link_use(conn: Connection, link: LinkInfo, now: datetime) -> None:
    conn.execute(setup_links.update().where(setup_links.c.id == link.id).values(last_used_at=now))
