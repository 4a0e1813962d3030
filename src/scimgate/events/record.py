"""Which events a SCIM change makes, and their data: called by scim/operations.py inside the write transaction.

One request about a user makes at most one user event: ``user.deactivated`` or ``user.reactivated`` when
``active`` flipped, else ``user.updated`` when anything changed (a no-op PATCH makes none). A group request makes
``group.updated`` for its own attributes and one ``group.user_added``/``group.user_removed`` per user that joined
or left; when the group is mapped to roles, each of those users whose roles changed also gets ``user.updated``
with ``roles`` among the changes. Nested groups are members too, but only users get membership events.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from scimgate.events import roles
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
from scimgate.scim.normalised import normalised_group, normalised_user
from scimgate.scim.render import manager_ids, render
from scimgate.scim.resource_types import GROUPS, USERS
from scimgate.store import browse
from scimgate.store import resources as store
from scimgate.store.resources import StoredResource
from scimgate.store.tables import groups, users

View = tuple[dict[str, Any], dict[str, Any]]
"""(normalised, raw)"""


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


def user_views(
    conn: Connection, directory_id: str, base_url: str, rows: Sequence[StoredResource], with_raw: bool = True
) -> dict[str, View]:
    """(normalised, raw) per user; ``with_raw`` False leaves raw empty (membership events carry no raw user: a
    PATCH of 100 members would otherwise render 100 users)."""
    ids = [row.id for row in rows]
    memberships = store.groups_of(conn, directory_id, ids) if ids else {}
    mapped = roles.mapped_roles(conn, directory_id, ids)
    names = store.display_names(conn, directory_id, manager_ids([row.attributes for row in rows])) if with_raw else {}
    views = {}
    for row in rows:
        member_of = memberships.get(row.id, [])
        raw = render(USERS, row, base_url, groups=member_of, manager_names=names) if with_raw else {}
        user_roles = roles.all_roles(row.attributes, mapped.get(row.id, ()))
        views[row.id] = (normalised_user(row.id, row.attributes, member_of, user_roles), raw)
    return views


def group_view(row: StoredResource, base_url: str) -> View:
    # No member count and no members: an event about a group of 100,000 must not cost a read of all of them.
    return normalised_group(row.id, row.attributes), render(GROUPS, row, base_url)


def user_created(conn: Connection, directory_id: str, base_url: str, stored: StoredResource, now: datetime) -> None:
    normalised, raw = user_views(conn, directory_id, base_url, [stored])[stored.id]
    emit(conn, directory_id, [UserCreated(normalised, raw)], now)


def user_changed(
    conn: Connection,
    directory_id: str,
    base_url: str,
    before: StoredResource,
    after: StoredResource,
    now: datetime,
    also: list[str] | None = None,
) -> None:
    changed = changed_names(before.attributes, after.attributes)
    changed += [name for name in also or [] if name not in changed]
    if not changed:
        return
    normalised, raw = user_views(conn, directory_id, base_url, [after])[after.id]
    was_active = before.attributes.get("active") is not False
    is_active = after.attributes.get("active") is not False
    event: Event
    if was_active and not is_active:
        event = UserDeactivated(normalised, raw, changed)
    elif is_active and not was_active:
        event = UserReactivated(normalised, raw, changed)
    else:
        event = UserUpdated(normalised, raw, changed)
    emit(conn, directory_id, [event], now)


def user_deleted(conn: Connection, directory_id: str, base_url: str, stored: StoredResource) -> Event:
    """The event of a deletion, made before the row goes (its groups are read now); emit it after the delete."""
    normalised, raw = user_views(conn, directory_id, base_url, [stored])[stored.id]
    return UserDeleted(normalised, raw)


def group_changed(
    conn: Connection,
    directory_id: str,
    base_url: str,
    before: StoredResource | None,
    after: StoredResource,
    added: Sequence[tuple[str, str]],
    removed: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """A group created (``before`` None) or changed, with the members that joined and left."""
    happened: list[Event] = []
    group_normalised, group_raw = group_view(after, base_url)
    if before is None:
        happened.append(GroupCreated(group_normalised, group_raw))
    else:
        changed = [name for name in changed_names(before.attributes, after.attributes) if name != "members"]
        if changed:
            happened.append(GroupUpdated(group_normalised, group_raw, changed))
    joined = [member_id for member_id, kind in added if kind == "User"]
    left = [member_id for member_id, kind in removed if kind == "User"]
    if joined or left:
        has_roles = bool(roles.roles_of_group(conn, directory_id, after.id))  # role events carry the raw user
        views = user_views(
            conn, directory_id, base_url, browse.by_ids(conn, users, directory_id, joined + left), with_raw=has_roles
        )
        happened += [GroupUserAdded(views[user_id][0], group_normalised) for user_id in joined if user_id in views]
        happened += [GroupUserRemoved(views[user_id][0], group_normalised) for user_id in left if user_id in views]
        happened += _role_changes(conn, directory_id, after.id, joined, left, views)
    emit(conn, directory_id, happened, now)


def group_deleted(conn: Connection, directory_id: str, base_url: str, stored: StoredResource) -> list[Event]:
    """The events of a group deletion, made before the rows go; emit them after the delete. Members of a group
    mapped to roles lose those roles: each whose roles change gets ``user.updated``."""
    normalised, raw = group_view(stored, base_url)
    happened: list[Event] = [GroupDeleted(normalised, raw)]
    if roles.roles_of_group(conn, directory_id, stored.id):
        members = roles.user_members(conn, directory_id, stored.id)
        views = user_views(conn, directory_id, base_url, browse.by_ids(conn, users, directory_id, members))
        happened += _role_changes(conn, directory_id, stored.id, [], members, views, deleting=True)
    return happened


def _role_changes(
    conn: Connection,
    directory_id: str,
    group_id: str,
    joined: Sequence[str],
    left: Sequence[str],
    views: dict[str, View],
    deleting: bool = False,
) -> list[Event]:
    """``user.updated`` (roles) for the users who joined or left a group mapped to roles, where that changed
    their roles (not when another group or an IdP assignment gives them the same roles anyway)."""
    group_roles = roles.roles_of_group(conn, directory_id, group_id)
    if not group_roles:
        return []
    other = roles.mapped_roles(conn, directory_id, [*joined, *left], excluding_group=group_id)
    happened: list[Event] = []
    for user_id in [*joined, *left]:
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


def roles_remapped(
    conn: Connection,
    directory_id: str,
    base_url: str,
    user_ids: Sequence[str],
    before: dict[str, set[str]],
    now: datetime,
) -> None:
    """After a role mapping changed: ``user.updated`` (roles) for each member whose roles are now different."""
    after = roles.mapped_roles(conn, directory_id, user_ids)
    moved = [user_id for user_id in user_ids if before.get(user_id, set()) != after.get(user_id, set())]
    if not moved:
        return
    rows = browse.by_ids(conn, users, directory_id, moved)
    views = user_views(conn, directory_id, base_url, rows)
    happened: list[Event] = []
    for row in rows:
        normalised, raw = views[row.id]
        if roles.all_roles(row.attributes, before.get(row.id, ())) != normalised["roles"]:
            happened.append(UserUpdated(normalised, raw, ["roles"]))
    emit(conn, directory_id, happened, now)


def remap(conn: Connection, directory_id: str, base_url: str, group_id: str, role: str, add: bool) -> bool:
    """Map (``add``) or unmap a group to an application role, with ``user.updated`` for each member whose roles
    change. False when the directory has no such group."""
    # Locked, as a membership PATCH locks it: no member can join or leave between reading the members and mapping.
    if store.get(conn, groups, directory_id, group_id, for_update=True) is None:
        return False
    members = roles.user_members(conn, directory_id, group_id)
    before = roles.mapped_roles(conn, directory_id, members)
    changed = (roles.add_mapping if add else roles.remove_mapping)(conn, directory_id, group_id, role)
    if changed:
        roles_remapped(conn, directory_id, base_url, members, before, datetime.now(UTC))
    return True
