"""Every event scimgate emits, declared once. ``docs/events.md`` lists them all (``tests/test_docs.py`` checks).

An event is ``{"id": "evt_…", "type", "directory_id", "sequence", "occurred_at", "data"}``. ``sequence`` counts a
directory's events from 1 without gaps; the feed's ``position`` orders events across directories. ``data`` holds
the normalised object (scimgate/scim/normalised.py) as ``object`` and, for users and groups, the SCIM resource as
``raw``; the fields below say what else.
"""

from dataclasses import dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    name: ClassVar[str]
    object: dict[str, Any]

    def data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class UserCreated(Event):
    """An IdP created a user. ``object``: the normalised user; ``raw``: its SCIM resource."""

    name = "user.created"
    raw: dict[str, Any]


@dataclass(frozen=True)
class UserUpdated(Event):
    """A user's attributes or roles changed. ``changed``: the names of the changed attributes (``roles`` when the
    user's application roles changed, also through a group's membership or role mapping; ``password`` when the IdP
    sent a new password and passwords=hash keeps it)."""

    name = "user.updated"
    raw: dict[str, Any]
    changed: list[str]


@dataclass(frozen=True)
class UserDeactivated(Event):
    """``active`` became false (Entra's "disable", Okta's "deactivate"): revoke the person's access now.
    ``changed`` names everything that changed in the same request."""

    name = "user.deactivated"
    raw: dict[str, Any]
    changed: list[str]


@dataclass(frozen=True)
class UserReactivated(Event):
    """``active`` became true again."""

    name = "user.reactivated"
    raw: dict[str, Any]
    changed: list[str]


@dataclass(frozen=True)
class UserDeleted(Event):
    """An IdP deleted a user. ``object`` and ``raw`` are the user as it was."""

    name = "user.deleted"
    raw: dict[str, Any]


@dataclass(frozen=True)
class GroupCreated(Event):
    """An IdP created a group. ``raw`` is its SCIM resource without members (``group.user_added`` names them)."""

    name = "group.created"
    raw: dict[str, Any]


@dataclass(frozen=True)
class GroupUpdated(Event):
    """A group's attributes changed (a rename). ``changed``: the attribute names."""

    name = "group.updated"
    raw: dict[str, Any]
    changed: list[str]


@dataclass(frozen=True)
class GroupDeleted(Event):
    """An IdP deleted a group. ``object`` and ``raw`` are the group as it was."""

    name = "group.deleted"
    raw: dict[str, Any]


@dataclass(frozen=True)
class GroupUserAdded(Event):
    """A user joined a group, one event per user. ``object``: the normalised user; ``group``: the group."""

    name = "group.user_added"
    group: dict[str, Any]


@dataclass(frozen=True)
class GroupUserRemoved(Event):
    """A user left a group, one event per user. ``object``: the normalised user; ``group``: the group."""

    name = "group.user_removed"
    group: dict[str, Any]


@dataclass(frozen=True)
class DirectoryCreated(Event):
    """A directory was created. ``object``: the directory (id, name, external_id, idp)."""

    name = "directory.created"


@dataclass(frozen=True)
class DirectoryDisabled(Event):
    """A directory was disabled: its IdP is refused from now on; its data is kept."""

    name = "directory.disabled"


@dataclass(frozen=True)
class DirectoryEnabled(Event):
    """A disabled directory was enabled again: its IdP is accepted again."""

    name = "directory.enabled"


@dataclass(frozen=True)
class DirectoryMassDeletion(Event):
    """An alarm, not a change: the IdP deleted more than a tenth of the directory's users (and at least 20) within
    an hour, which is more often a scoping mistake (an unassigned group, a changed filter) than a real departure.
    The deletions went ahead; their ``user.deleted`` events are already in the feed. ``deleted``: users deleted since
    ``since`` (ISO 8601); ``remaining``: users left. Sent at most once per hour-long window."""

    name = "directory.mass_deletion"
    deleted: int
    since: str
    remaining: int


@dataclass(frozen=True)
class DirectoryDeleted(Event):
    """A directory and all its data were deleted (its earlier events with it)."""

    name = "directory.deleted"


EVENT_TYPES: tuple[type[Event], ...] = (
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupUserAdded,
    GroupUserRemoved,
    DirectoryCreated,
    DirectoryDisabled,
    DirectoryEnabled,
    DirectoryMassDeletion,
    DirectoryDeleted,
)
TYPE_NAMES: tuple[str, ...] = tuple(event.name for event in EVENT_TYPES)
