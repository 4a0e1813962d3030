"""Which events a SCIM change makes, and their data: called by ``operations.py`` inside the write transaction.

One request about a user makes at most one user event: ``user.deactivated`` or ``user.reactivated`` when
``active`` flipped, else ``user.updated`` when anything changed (a no-op PATCH makes none). A group request makes
``group.updated`` for its own attributes and one ``group.user_added``/``group.user_removed`` per user that joined
or left; when the group is mapped to roles, each of those users whose roles changed also gets ``user.updated``
with ``roles`` among the changes. Nested groups are members too, but only users get membership events.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from scimgate.events import roles
from scimgate.events.deletions import count_user_deletion
from scimgate.events.outbox import emit
from scimgate.events.types import (
    Event,
    GroupCreated,
    GroupDeleted,
    GroupUpdated,
    GroupUserAdded,
    GroupUserRemoved,
    UserCreated,
    UserDeactivated,
    UserDeleted,
    UserReactivated,
    UserUpdated,
)
from scimgate.scim.domains import DomainPolicy
from scimgate.scim.extensions import PLAIN, Catalog, catalog_of, declarations
from scimgate.scim.membership import Delta
from scimgate.scim.normalised import Known, View, group_view, user_views
from scimgate.scim.render import change_time
from scimgate.scim.resource_types import USERS, ResourceType
from scimgate.store import browse
from scimgate.store import resources as store
from scimgate.store.resources import StoredResource
from scimgate.store.tables import groups, users

logger = logging.getLogger("scimgate.scim")


@dataclass(frozen=True)
class Change:
    """One write's context for the events it makes: its transaction, its directory (and that directory's base URL,
    for the raw resources the events carry) and its time."""

    conn: Connection
    directory_id: str
    base_url: str
    now: datetime
    catalog: Catalog = PLAIN
    """The directory's declared extensions: their values go into the normalised user's ``custom``."""
    domains: DomainPolicy = DomainPolicy()
    """The directory's email-domain policy: checked on every user written, before its events."""

    @property
    def known(self) -> Known:
        return Known(self.catalog.names, self.domains)

    rendered: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The users this change's events rendered in full (their groups and manager read), by id: the response to the
    request is the same resource, so it is not read and rendered a second time (issue 21)."""


def created(change: Change, rtype: ResourceType, stored: StoredResource, delta: Delta) -> None:
    """The events of a create (POST): ``user.created``, or ``group.created`` and its members' ``user_added``."""
    if rtype.name == USERS.name:
        # Raising here rolls the write back: under `enforce`, nothing of the user is stored.
        change.domains.check(stored.attributes)
        user_created(change, stored)
    else:
        group_changed(change, None, stored, delta)


def changed(
    change: Change, rtype: ResourceType, before: StoredResource, after: StoredResource, delta: Delta, also: list[str]
) -> None:
    """The events of a PUT or PATCH, written last in its transaction; ``also``: what changed beside the attributes
    (the password)."""
    if rtype.name == USERS.name:
        change.domains.check(after.attributes, before.attributes)
        user_changed(change, before, after, also)
    else:
        group_changed(change, before, after, delta)


def deleting(change: Change, rtype: ResourceType, stored: StoredResource) -> list[Event]:
    """The events of a deletion, made while the rows still exist (a user's groups, a group's members are read now);
    ``deleted`` writes them once the rows are gone."""
    return [user_deleted(change, stored)] if rtype.name == USERS.name else group_deleted(change, stored)


def deleted(change: Change, rtype: ResourceType, happened: list[Event]) -> None:
    """Write a deletion's events, with the mass-deletion alarm (security plan J3) when users go fast."""
    alarm = count_user_deletion(change.conn, change.directory_id, change.now) if rtype.name == USERS.name else None
    if alarm is not None:
        happened.append(alarm)
        logger.warning(
            "mass deletion in directory %s: %d users deleted since %s, %d remain",
            change.directory_id,
            alarm.deleted,
            alarm.since,
            alarm.remaining,
        )
    emit(change.conn, change.directory_id, happened, change.now)


def changed_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level attributes that differ; an extension's attributes are named ``urn:…:name``."""
    names = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key.startswith("urn:") and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old_ext, new_ext = old or {}, new or {}
            names += [
                f"{key}:{sub}"
                for sub in sorted(old_ext.keys() | new_ext.keys())
                if old_ext.get(sub) != new_ext.get(sub)
            ]
        else:
            names.append(key)
    return names


def _view(change: Change, row: StoredResource, created: bool = False) -> View:
    known = change.known
    view = user_views(change.conn, change.directory_id, change.base_url, [row], True, known, created)[row.id]
    change.rendered[row.id] = view[1]
    return view


def user_created(change: Change, stored: StoredResource) -> None:
    normalised, raw = _view(change, stored, created=True)
    emit(change.conn, change.directory_id, [UserCreated(normalised, raw)], change.now)


def user_changed(change: Change, before: StoredResource, after: StoredResource, also: Sequence[str] = ()) -> None:
    changed = changed_names(before.attributes, after.attributes)
    changed += [name for name in also if name not in changed]
    if not changed:
        return
    normalised, raw = _view(change, after)
    was_active = before.attributes.get("active") is not False
    is_active = after.attributes.get("active") is not False
    event: Event
    if was_active and not is_active:
        event = UserDeactivated(normalised, raw, changed)
    elif is_active and not was_active:
        event = UserReactivated(normalised, raw, changed)
    else:
        event = UserUpdated(normalised, raw, changed)
    emit(change.conn, change.directory_id, [event], change.now)


def user_deleted(change: Change, stored: StoredResource) -> Event:
    """The event of a deletion, made before the row goes (its groups are read now); emit it after the delete."""
    normalised, raw = _view(change, stored)
    return UserDeleted(normalised, raw)


def group_changed(change: Change, before: StoredResource | None, after: StoredResource, delta: Delta) -> None:
    """A group created (``before`` None) or changed, with the members that joined and left."""
    conn, directory_id = change.conn, change.directory_id
    happened: list[Event] = []
    group_normalised, group_raw = group_view(after, change.base_url)
    if before is None:
        happened.append(GroupCreated(group_normalised, group_raw))
    else:
        changed = [name for name in changed_names(before.attributes, after.attributes) if name != "members"]
        if changed:
            happened.append(GroupUpdated(group_normalised, group_raw, changed))
    joined = [member_id for member_id, kind in delta.added if kind == "User"]
    left = [member_id for member_id, kind in delta.removed if kind == "User"]
    if joined or left:
        has_roles = bool(roles.roles_of_group(conn, directory_id, after.id))  # role events carry the raw user
        members = browse.by_ids(conn, users, directory_id, joined + left)
        views = user_views(conn, directory_id, change.base_url, members, has_roles, change.known)
        happened += [GroupUserAdded(views[user_id][0], group_normalised) for user_id in joined if user_id in views]
        happened += [GroupUserRemoved(views[user_id][0], group_normalised) for user_id in left if user_id in views]
        happened += _role_changes(change, after.id, [*joined, *left], views)
    emit(conn, directory_id, happened, change.now)


def group_deleted(change: Change, stored: StoredResource) -> list[Event]:
    """The events of a group deletion, made before the rows go; emit them after the delete. Members of a group
    mapped to roles lose those roles: each whose roles change gets ``user.updated``."""
    conn, directory_id = change.conn, change.directory_id
    normalised, raw = group_view(stored, change.base_url)
    happened: list[Event] = [GroupDeleted(normalised, raw)]
    if roles.roles_of_group(conn, directory_id, stored.id):
        members = roles.user_members(conn, directory_id, stored.id)
        rows = browse.by_ids(conn, users, directory_id, members)
        views = user_views(conn, directory_id, change.base_url, rows, True, change.known)
        happened += _role_changes(change, stored.id, members, views, deleting=True)
    return happened


def _role_changes(
    change: Change, group_id: str, moved: Sequence[str], views: dict[str, View], deleting: bool = False
) -> list[Event]:
    """``user.updated`` (roles) for the users who joined or left (``moved``) a group mapped to roles, where that
    changed their roles (not when another group or an IdP assignment gives them the same roles anyway)."""
    group_roles = roles.roles_of_group(change.conn, change.directory_id, group_id)
    if not group_roles:
        return []
    other = roles.mapped_roles(change.conn, change.directory_id, moved, excluding_group=group_id)
    happened: list[Event] = []
    for user_id in moved:
        if user_id not in views:
            continue
        normalised, raw = views[user_id]
        without = roles.scim_roles(raw) | other.get(user_id, set())
        if group_roles <= without:
            continue
        if deleting:  # the view was made before the group went: show the roles as they will be
            normalised = {**normalised, "roles": sorted(without)}
        happened.append(UserUpdated(normalised, raw, ["roles"]))
    return happened


def roles_remapped(change: Change, user_ids: Sequence[str], before: dict[str, set[str]]) -> None:
    """After a role mapping changed: ``user.updated`` (roles) for each member whose roles are now different."""
    conn, directory_id = change.conn, change.directory_id
    after = roles.mapped_roles(conn, directory_id, user_ids)
    moved = [user_id for user_id in user_ids if before.get(user_id, set()) != after.get(user_id, set())]
    if not moved:
        return
    rows = browse.by_ids(conn, users, directory_id, moved)
    views = user_views(conn, directory_id, change.base_url, rows, True, change.known)
    happened: list[Event] = []
    for row in rows:
        normalised, raw = views[row.id]
        if roles.all_roles(row.attributes, before.get(row.id, ())) != normalised["roles"]:
            happened.append(UserUpdated(normalised, raw, ["roles"]))
    emit(conn, directory_id, happened, change.now)


def remap(conn: Connection, directory_id: str, base_url: str, mapping: tuple[str, str], add: bool) -> bool:
    """Map (``add``) or unmap a group to an application role (``mapping``: the group's id and the role), with
    ``user.updated`` for each member whose roles change. False when the directory has no such group."""
    group_id, role = mapping
    # Locked, as a membership PATCH locks it: no member can join or leave between reading the members and mapping.
    if store.get(conn, groups, directory_id, group_id, for_update=True) is None:
        return False
    members = roles.user_members(conn, directory_id, group_id)
    before = roles.mapped_roles(conn, directory_id, members)
    changed = (roles.add_mapping if add else roles.remove_mapping)(conn, directory_id, group_id, role)
    if changed:
        catalog = catalog_of(declarations(conn, directory_id))
        roles_remapped(Change(conn, directory_id, base_url, change_time(), catalog), members, before)
    return True
