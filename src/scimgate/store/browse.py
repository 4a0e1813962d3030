"""Paged reads for operators (the management API and the admin page): by id order, a page at a time.

A group can have 100,000 members, so members are read a page at a time, never as part of the group.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.resources import Member, StoredResource, Table, keyset_page
from scimgate.store.tables import group_members, groups, users


def page(conn: Connection, table: Table, directory_id: str, after: str | None, limit: int) -> list[StoredResource]:
    where = table.c.id > after if after is not None else None
    return [row for row, _ in keyset_page(conn, table, directory_id, where, limit, [table.c.id], None)]


def member_page(conn: Connection, directory_id: str, group_id: str, after: str | None, limit: int) -> list[Member]:
    """Members of one group in member id order, after ``after``."""
    query = (
        sa.select(
            group_members.c.member_id,
            group_members.c.user_id,
            sa.func.coalesce(users.c.display_name, users.c.user_name, groups.c.display_name).label("display"),
        )
        .select_from(
            group_members.outerjoin(
                users,
                sa.and_(users.c.directory_id == group_members.c.directory_id, users.c.id == group_members.c.user_id),
            ).outerjoin(
                groups,
                sa.and_(
                    groups.c.directory_id == group_members.c.directory_id,
                    groups.c.id == group_members.c.child_group_id,
                ),
            )
        )
        .where(group_members.c.directory_id == directory_id, group_members.c.group_id == group_id)
        .order_by(group_members.c.member_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(group_members.c.member_id > after)
    return [Member(row.member_id, "User" if row.user_id else "Group", row.display) for row in conn.execute(query)]


def member_counts(conn: Connection, directory_id: str, group_ids: Sequence[str]) -> dict[str, int]:
    if not group_ids:
        return {}
    query = (
        sa.select(group_members.c.group_id, sa.func.count())
        .where(group_members.c.directory_id == directory_id, group_members.c.group_id.in_(list(group_ids)))
        .group_by(group_members.c.group_id)
    )
    counts = {group_id: 0 for group_id in group_ids}
    counts.update({row[0]: row[1] for row in conn.execute(query)})
    return counts


def by_ids(conn: Connection, table: Table, directory_id: str, ids: Sequence[str]) -> list[StoredResource]:
    """The resources with these ids (those that exist), in id order."""
    found: list[StoredResource] = []
    for start in range(0, len(ids), 10_000):
        chunk = list(ids[start : start + 10_000])
        where = table.c.id.in_(chunk)
        found += [row for row, _ in keyset_page(conn, table, directory_id, where, len(chunk), [table.c.id], None)]
    return sorted(found, key=lambda row: row.id)
