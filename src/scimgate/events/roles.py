"""Application roles of a user: the IdP's own role assignments plus the roles mapped to the user's groups.

Entra sends app role assignments in the SCIM ``roles`` attribute (objects in POST; JSON strings inside ``value`` in
PATCH, which scim/patch.py turns into objects); the role name is the app role's ``value``, what Entra also puts in
the user's tokens. Okta and most IdPs send no roles: there, an operator maps IdP groups to roles
(``scimgate role map``), and every member of a mapped group has the role. A group maps to no role unless mapped.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.hot import Statement
from scimgate.store.tables import group_members, groups, role_mappings

_CHUNK = 10_000  # PostgreSQL takes at most 65,535 bound parameters per statement


def scim_roles(document: dict[str, Any]) -> set[str]:
    names = set()
    for role in document.get("roles") or []:
        if isinstance(role, dict):
            name = role.get("value") or role.get("display")
            if isinstance(name, str) and name:
                names.add(name)
    return names


def mapped_roles(
    conn: Connection, directory_id: str, user_ids: Sequence[str], excluding_group: str | None = None
) -> dict[str, set[str]]:
    """The roles each user has through the groups it is a direct member of (but ``excluding_group``)."""
    out: dict[str, set[str]] = defaultdict(set)
    if not user_ids or not has_mappings(conn, directory_id):
        return out  # the usual case: nobody mapped a group, so nothing to read
    for start in range(0, len(user_ids), _CHUNK):
        query = (
            sa.select(group_members.c.member_id, role_mappings.c.role)
            .join(
                role_mappings,
                sa.and_(
                    role_mappings.c.directory_id == group_members.c.directory_id,
                    role_mappings.c.group_id == group_members.c.group_id,
                ),
            )
            .where(
                group_members.c.directory_id == directory_id,
                group_members.c.member_id.in_(list(user_ids[start : start + _CHUNK])),
            )
        )
        if excluding_group is not None:
            query = query.where(group_members.c.group_id != excluding_group)
        for row in conn.execute(query):
            out[row.member_id].add(row.role)
    return out


# Asked for every user event (the usual answer: no group is mapped): built once, run on the DB-API cursor.
_ANY_MAPPING = Statement(
    sa.select(role_mappings.c.role).where(role_mappings.c.directory_id == sa.bindparam("directory_id")).limit(1)
)
_ROLES_OF_GROUP = Statement(
    sa.select(role_mappings.c.role).where(
        role_mappings.c.directory_id == sa.bindparam("directory_id"),
        role_mappings.c.group_id == sa.bindparam("group_id"),
    )
)


def has_mappings(conn: Connection, directory_id: str) -> bool:
    return _ANY_MAPPING.first(conn, {"directory_id": directory_id}) is not None


def roles_of_group(conn: Connection, directory_id: str, group_id: str) -> set[str]:
    return {row[0] for row in _ROLES_OF_GROUP.rows(conn, {"directory_id": directory_id, "group_id": group_id})}


@dataclass(frozen=True)
class Mapping:
    group_id: str
    group_display_name: str
    roles: list[str]


def list_mappings(conn: Connection, directory_id: str) -> list[Mapping]:
    query = (
        sa.select(role_mappings.c.group_id, groups.c.display_name, role_mappings.c.role)
        .join(
            groups,
            sa.and_(groups.c.directory_id == role_mappings.c.directory_id, groups.c.id == role_mappings.c.group_id),
        )
        .where(role_mappings.c.directory_id == directory_id)
        .order_by(groups.c.display_name_key, role_mappings.c.role)
    )
    by_group: dict[str, Mapping] = {}
    for row in conn.execute(query):
        by_group.setdefault(row.group_id, Mapping(row.group_id, row.display_name, [])).roles.append(row.role)
    return list(by_group.values())


def add_mapping(conn: Connection, directory_id: str, group_id: str, role: str) -> bool:
    """Map the group to the role; False when it already was."""
    if role in roles_of_group(conn, directory_id, group_id):
        return False
    conn.execute(role_mappings.insert().values(directory_id=directory_id, group_id=group_id, role=role))
    return True


def remove_mapping(conn: Connection, directory_id: str, group_id: str, role: str) -> bool:
    query = role_mappings.delete().where(
        role_mappings.c.directory_id == directory_id, role_mappings.c.group_id == group_id, role_mappings.c.role == role
    )
    return conn.execute(query).rowcount > 0


def user_members(conn: Connection, directory_id: str, group_id: str) -> list[str]:
    query = sa.select(group_members.c.member_id).where(
        group_members.c.directory_id == directory_id,
        group_members.c.group_id == group_id,
        group_members.c.user_id.is_not(None),
    )
    return [row.member_id for row in conn.execute(query)]


def all_roles(document: dict[str, Any], mapped: Iterable[str]) -> list[str]:
    return sorted(scim_roles(document) | set(mapped))
