"""Group membership writes: resolving member ids, and changing only the rows that change.

Members live in their own table (``store.tables.group_members``), so adding one member to a group of 100,000 reads
and writes that one row, never the list. Every referenced id must be a user or group of the same directory; an
unknown id fails the whole request and names the culprits.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from scimgate.scim.errors import InvalidValue, Reason, excerpt
from scimgate.scim.patch import MemberChanges
from scimgate.scim.validation import MemberRef
from scimgate.store import resources as store
from scimgate.store.tables import groups, users


def resolve_members(conn: Connection, directory_id: str, refs: Sequence[MemberRef]) -> dict[str, str]:
    """Each member id with its kind ("User" or "Group"); any id that is neither in this directory fails."""
    ids = [ref.value for ref in refs]
    found_users = store.existing_ids(conn, users, directory_id, ids)
    found_groups = store.existing_ids(conn, groups, directory_id, ids) - found_users
    resolved: dict[str, str] = {}
    unknown = []
    for ref in refs:
        kind = "User" if ref.value in found_users else "Group" if ref.value in found_groups else None
        if kind is None or (ref.type is not None and ref.type != kind):
            unknown.append(ref.value)
        else:
            resolved[ref.value] = kind
    if unknown:
        shown = ", ".join(excerpt(member_id, 40) for member_id in unknown[:3])
        raise InvalidValue(
            f"{len(unknown)} member(s) are not users or groups of this directory: {shown}. "
            "Provision the users first, then add them to the group.",
            reason=Reason.UNKNOWN_MEMBER,
        )
    return resolved


@dataclass(frozen=True)
class Delta:
    """The membership rows a request really added and removed, as (member_id, "User"|"Group")."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def set_members(conn: Connection, directory_id: str, group_id: str, refs: Sequence[MemberRef]) -> Delta:
    """Make the group's members exactly ``refs`` (create and PUT), by difference with the current ones."""
    wanted = _checked(conn, directory_id, group_id, refs)
    with _member_vanished():
        current = store.member_ids(conn, directory_id, group_id)
        removed = store.remove_members(conn, directory_id, group_id, current - wanted.keys())
        added = store.add_members(conn, directory_id, group_id, [(i, k) for i, k in wanted.items() if i not in current])
    return Delta(added, removed)


def change_members(conn: Connection, directory_id: str, group_id: str, changes: MemberChanges) -> Delta:
    """Apply a PATCH's membership edits; the rows that changed."""
    wanted = _checked(conn, directory_id, group_id, list(changes.add.values()))
    with _member_vanished():
        if changes.replace_all:
            current = store.member_ids(conn, directory_id, group_id)
            removed = store.remove_members(conn, directory_id, group_id, current - wanted.keys())
        else:
            removed = store.remove_members(conn, directory_id, group_id, changes.remove)
        added = store.add_members(conn, directory_id, group_id, list(wanted.items()))
    return Delta(added, removed)


def _checked(conn: Connection, directory_id: str, group_id: str, refs: Sequence[MemberRef]) -> dict[str, str]:
    wanted = resolve_members(conn, directory_id, refs) if refs else {}
    if group_id in wanted:
        raise InvalidValue("A group cannot be a member of itself.")
    return wanted


@contextmanager
def _member_vanished() -> Iterator[None]:
    """A member deleted by a concurrent request between our check and our insert trips its foreign key."""
    try:
        yield
    except IntegrityError:
        raise InvalidValue("A member was deleted while this request ran; send the request again.") from None
