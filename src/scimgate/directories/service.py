"""Directories: one per customer organisation, each with its own SCIM URL, credentials and data.

A directory is created for the IdP its customer uses (``idp``), which decides the setup steps scimgate shows; the
IdP dialects scimgate tolerates (scim/patch.py) are harmless to every IdP, so all IdPs get them unless the
directory is in strict RFC mode. A disabled directory answers 401 to every credential and keeps its data, so it
can be enabled again; deleting one deletes its users, groups, memberships and credentials in one transaction.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.events.outbox import emit, emit_final
from scimgate.events.types import DirectoryCreated, DirectoryDeleted, DirectoryDisabled, DirectoryEnabled
from scimgate.ids import new_id
from scimgate.store.database import utc
from scimgate.store.tables import directories, events

Idp = Literal["entra", "okta", "onelogin", "jumpcloud", "authentik", "google", "generic"]
IDPS: tuple[str, ...] = get_args(Idp)
IDP_NAMES = {
    "entra": "Microsoft Entra ID",
    "okta": "Okta",
    "onelogin": "OneLogin",
    "jumpcloud": "JumpCloud",
    "authentik": "authentik",
    "google": "Google Workspace",
    "generic": "a SCIM 2.0 client",
}


@dataclass(frozen=True)
class Directory:
    id: str
    name: str
    created_at: datetime
    external_id: str | None = None
    idp: str = "generic"
    strict: bool = False
    disabled_at: datetime | None = None
    last_request_at: datetime | None = None

    @property
    def status(self) -> str:
        return "disabled" if self.disabled_at is not None else "active"


def _directory(row: sa.Row[Any]) -> Directory:
    return Directory(
        id=row.id,
        name=row.name,
        created_at=utc(row.created_at),
        external_id=row.external_id,
        idp=row.idp,
        strict=bool(row.strict),
        disabled_at=utc(row.disabled_at) if row.disabled_at is not None else None,
        last_request_at=utc(row.last_request_at) if row.last_request_at is not None else None,
    )


def create_directory(
    conn: Connection, name: str, *, external_id: str | None = None, idp: str = "generic", strict: bool = False
) -> Directory:
    _check_idp(idp)
    directory = Directory(
        id=new_id("dir"), name=name, created_at=datetime.now(UTC), external_id=external_id, idp=idp, strict=strict
    )
    conn.execute(
        directories.insert().values(
            id=directory.id,
            name=name,
            created_at=directory.created_at,
            external_id=external_id,
            idp=idp,
            strict=strict,
        )
    )
    emit(conn, directory.id, [DirectoryCreated(event_object(directory))], directory.created_at)
    return directory


def event_object(directory: Directory) -> dict[str, Any]:
    """A directory as its events carry it."""
    return {"id": directory.id, "name": directory.name, "external_id": directory.external_id, "idp": directory.idp}


def get_directory(conn: Connection, directory_id: str) -> Directory | None:
    row = conn.execute(sa.select(directories).where(directories.c.id == directory_id)).first()
    return _directory(row) if row is not None else None


def list_directories(
    conn: Connection, *, external_id: str | None = None, after: str | None = None, limit: int | None = None
) -> list[Directory]:
    """Directories in id (creation) order; ``after`` and ``limit`` page through them."""
    query = sa.select(directories).order_by(directories.c.id)
    if external_id is not None:
        query = query.where(directories.c.external_id == external_id)
    if after is not None:
        query = query.where(directories.c.id > after)
    if limit is not None:
        query = query.limit(limit)
    return [_directory(row) for row in conn.execute(query)]


def update_directory(conn: Connection, directory_id: str, **changes: Any) -> Directory | None:
    """Change name, external_id, idp or strict; None when there is no such directory."""
    allowed = {"name", "external_id", "idp", "strict"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} of a directory")
    if "idp" in changes:
        _check_idp(changes["idp"])
    if changes:
        conn.execute(directories.update().where(directories.c.id == directory_id).values(**changes))
    return get_directory(conn, directory_id)


def set_strict(conn: Connection, directory_id: str, strict: bool) -> None:
    """Put a directory in strict RFC mode (True) or back to IdP tolerance (False)."""
    update_directory(conn, directory_id, strict=strict)


def set_disabled(conn: Connection, directory_id: str, disabled: bool) -> Directory | None:
    """Disable (every credential then gets 401, data kept) or enable a directory. Disabling twice keeps the first
    time."""
    if disabled:
        now = datetime.now(UTC)
        changed = conn.execute(
            directories.update()
            .where(directories.c.id == directory_id, directories.c.disabled_at.is_(None))
            .values(disabled_at=now)
        ).rowcount
        directory = get_directory(conn, directory_id)
        if changed and directory is not None:
            emit(conn, directory_id, [DirectoryDisabled(event_object(directory))], now)
        return directory
    changed = conn.execute(
        directories.update()
        .where(directories.c.id == directory_id, directories.c.disabled_at.is_not(None))
        .values(disabled_at=None)
    ).rowcount
    directory = get_directory(conn, directory_id)
    if changed and directory is not None:
        emit(conn, directory_id, [DirectoryEnabled(event_object(directory))], datetime.now(UTC))
    return directory


def delete_directory(conn: Connection, directory_id: str) -> bool:
    """Delete a directory with all its data (the foreign keys cascade) and its events, which hold copies of that
    data; then record ``directory.deleted``, its last event. False when there was no such directory."""
    # Taking the directory's next event number first locks its row: a SCIM write in flight either committed its
    # events before (they are deleted here) or waits and then finds no directory.
    last = conn.execute(
        directories.update()
        .where(directories.c.id == directory_id)
        .values(event_seq=directories.c.event_seq + 1)
        .returning(directories.c.event_seq)
    ).scalar_one_or_none()
    directory = get_directory(conn, directory_id)
    if last is None or directory is None:
        return False
    conn.execute(events.delete().where(events.c.directory_id == directory_id))
    conn.execute(directories.delete().where(directories.c.id == directory_id))
    emit_final(conn, directory_id, DirectoryDeleted(event_object(directory)), last, datetime.now(UTC))
    return True


def touch_directory(conn: Connection, directory_id: str, now: datetime) -> None:
    conn.execute(directories.update().where(directories.c.id == directory_id).values(last_request_at=now))


def _check_idp(idp: str) -> None:
    if idp not in IDPS:
        raise ValueError(f"unknown IdP {idp!r}; one of {', '.join(IDPS)}")
