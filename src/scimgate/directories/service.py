"""Creating directories and tokens, and finding the directory a bearer token opens."""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.directories.tokens import display_prefix, generate_token, hash_token, hashes_match
from scimgate.ids import new_id
from scimgate.store.tables import directories, tokens


@dataclass(frozen=True)
class Directory:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    id: str
    directory_id: str
    token: str
    """The secret itself. It exists only in this object: show it once, it is not stored anywhere."""


def create_directory(conn: Connection, name: str) -> Directory:
    directory = Directory(id=new_id("dir"), name=name, created_at=datetime.now(UTC))
    conn.execute(directories.insert().values(id=directory.id, name=directory.name, created_at=directory.created_at))
    return directory


def list_directories(conn: Connection) -> list[Directory]:
    rows = conn.execute(sa.select(directories).order_by(directories.c.id))
    return [Directory(id=row.id, name=row.name, created_at=row.created_at) for row in rows]


def issue_token(conn: Connection, directory_id: str) -> IssuedToken:
    token = generate_token()
    issued = IssuedToken(id=new_id("tok"), directory_id=directory_id, token=token)
    conn.execute(
        tokens.insert().values(
            id=issued.id,
            directory_id=directory_id,
            secret_hash=hash_token(token),
            display_prefix=display_prefix(token),
            created_at=datetime.now(UTC),
        )
    )
    return issued


@dataclass(frozen=True)
class Opened:
    """What a valid token opens."""

    directory_id: str
    strict: bool


def directory_for_token(conn: Connection, token: str) -> Opened | None:
    """The directory this token opens, or None when it opens nothing (unknown or revoked)."""
    presented = hash_token(token)
    # The lookup is by the token's SHA-256, so its timing says nothing about how close a guess was; the
    # constant-time compare then checks what the index returned.
    row = conn.execute(
        sa.select(tokens.c.directory_id, tokens.c.secret_hash, tokens.c.revoked_at, directories.c.strict)
        .join(directories, directories.c.id == tokens.c.directory_id)
        .where(tokens.c.secret_hash == presented)
    ).first()
    if row is None or row.revoked_at is not None or not hashes_match(row.secret_hash, presented):
        return None
    return Opened(str(row.directory_id), bool(row.strict))


def set_strict(conn: Connection, directory_id: str, strict: bool) -> None:
    """Put a directory in strict RFC mode (True) or back to IdP tolerance (False)."""
    conn.execute(directories.update().where(directories.c.id == directory_id).values(strict=strict))
