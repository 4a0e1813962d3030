"""Queries on users, groups and memberships. Every query is scoped by ``directory_id`` first.

These functions take an open connection and never commit: the caller's transaction (``Database.write``) makes each
SCIM request all-or-nothing.
"""

import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.hot import Row, Statement
from scimgate.store.tables import group_members, groups, instance_secrets, users

Table = sa.Table


@dataclass(frozen=True)
class StoredResource:
    id: str
    attributes: dict[str, Any]
    created: datetime
    last_modified: datetime
    version: int


@dataclass(frozen=True)
class Member:
    id: str
    type: str  # "User" or "Group"
    display: str | None


@dataclass(frozen=True)
class Membership:
    group_id: str
    display: str


def _stored(row: Row) -> StoredResource:
    """A resource from a row of ``_RESOURCE_COLUMNS``, in that order."""
    return StoredResource(id=row[0], attributes=row[1], created=row[2], last_modified=row[3], version=row[4])


_RESOURCE_COLUMNS = ("id", "attributes", "created", "last_modified", "version")


def _columns(table: Table) -> list[sa.ColumnElement[Any]]:
    return [table.c[name] for name in _RESOURCE_COLUMNS]


def insert(
    conn: Connection,
    table: Table,
    directory_id: str,
    resource_id: str,
    columns: dict[str, Any],
    attributes: dict[str, Any],
    now: datetime,
) -> StoredResource:
    """Insert a resource. A taken unique key raises ``sqlalchemy.exc.IntegrityError``."""
    values = {"directory_id": directory_id, "id": resource_id, "attributes": attributes, "version": 1, **columns}
    _insert_of(table, tuple(columns)).rows(conn, {**values, "created": now, "last_modified": now})
    return StoredResource(id=resource_id, attributes=attributes, created=now, last_modified=now, version=1)


def replace(
    conn: Connection,
    table: Table,
    directory_id: str,
    resource_id: str,
    columns: dict[str, Any],
    attributes: dict[str, Any],
    now: datetime,
) -> StoredResource | None:
    values = {"attributes": attributes, "last_modified": now, **columns}
    row = _update_of(table, tuple(columns)).first(conn, {"b_directory_id": directory_id, "b_id": resource_id, **values})
    return _stored(row) if row else None


def touch(conn: Connection, table: Table, directory_id: str, resource_id: str, now: datetime) -> StoredResource | None:
    """Record a change that is not in the document (a membership), so lastModified and the version move."""
    params = {"b_directory_id": directory_id, "b_id": resource_id, "last_modified": now}
    row = _update_of(table, None).first(conn, params)
    return _stored(row) if row else None


def get(
    conn: Connection, table: Table, directory_id: str, resource_id: str, for_update: bool = False
) -> StoredResource | None:
    """One resource. ``for_update`` locks its row until the transaction ends (PostgreSQL; SQLite's write
    transactions are already exclusive), so a read-modify-write such as PATCH never loses a concurrent update."""
    statements = _statements(table)
    query = statements.get_for_update if for_update else statements.get
    row = query.first(conn, {"b_directory_id": directory_id, "b_id": resource_id})
    return _stored(row) if row else None


def delete(conn: Connection, table: Table, directory_id: str, resource_id: str) -> bool:
    return bool(_statements(table).delete.rows(conn, {"b_directory_id": directory_id, "b_id": resource_id}))


@dataclass(frozen=True)
class _Statements:
    """The statements on one resource by its key, built once and run on the DB-API cursor (``hot.py``): through
    SQLAlchemy's execution, each cost several times what SQLite takes to run it."""

    get: Statement
    get_for_update: Statement
    delete: Statement
    existing: Statement


_BY_ID: dict[str, _Statements] = {}


def _by_id(table: Table) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.directory_id == sa.bindparam("b_directory_id"), table.c.id == sa.bindparam("b_id"))


def _statements(table: Table) -> _Statements:
    if table.name not in _BY_ID:
        get = sa.select(*_columns(table)).where(_by_id(table))
        existing = sa.select(table.c.id).where(
            table.c.directory_id == sa.bindparam("b_directory_id"), table.c.id.in_(sa.bindparam("ids", expanding=True))
        )
        _BY_ID[table.name] = _Statements(
            Statement(get),
            Statement(get.with_for_update()),
            Statement(table.delete().where(_by_id(table)).returning(table.c.id)),
            Statement(existing),
        )
    return _BY_ID[table.name]


_WRITES: dict[tuple[str, str, tuple[str, ...]], Statement] = {}


def _update_of(table: Table, columns: tuple[str, ...] | None) -> Statement:
    """The UPDATE of a resource's document, its derived ``columns`` and lastModified, or (``columns`` None, a
    touch) of lastModified only; its version moves either way."""
    key = (table.name, "update" if columns is not None else "touch", columns or ())
    if key not in _WRITES:
        names = ("last_modified",) if columns is None else ("attributes", "last_modified", *columns)
        update = table.update().where(_by_id(table)).values(version=table.c.version + 1)
        update = update.values({name: sa.bindparam(name) for name in names})
        _WRITES[key] = Statement(update.returning(*_columns(table)))
    return _WRITES[key]


def _insert_of(table: Table, columns: tuple[str, ...]) -> Statement:
    key = (table.name, "insert", columns)
    if key not in _WRITES:
        names = ("directory_id", "id", "attributes", "version", "created", "last_modified", *columns)
        _WRITES[key] = Statement(table.insert().values({name: sa.bindparam(name) for name in names}))
    return _WRITES[key]


def search(
    conn: Connection,
    table: Table,
    directory_id: str,
    where: sa.ColumnElement[bool] | None,
    offset: int,
    limit: int,
    order_by: Sequence[Any] | None = None,
) -> tuple[int, list[StoredResource]]:
    """One page of resources and the total count. The default order is by id (time-ordered, so pages are stable);
    a given order should end with id for the same reason."""
    condition = table.c.directory_id == directory_id
    if where is not None:
        condition = sa.and_(condition, where)
    page: list[StoredResource] = []
    if limit:
        query = sa.select(*_columns(table)).where(condition).order_by(*(order_by or [table.c.id]))
        page = [_stored(row) for row in conn.execute(query.offset(offset).limit(limit))]
    total = _total_from_page(offset, limit, len(page))
    return (count(conn, table, directory_id, where) if total is None else total), page


def _total_from_page(offset: int, limit: int, rows: int) -> int | None:
    """The total a page tells without counting: a short page is the last one. This saves the ``count(*)`` on
    every lookup (Entra's ``userName eq`` before each create, and its matching reads). None: count."""
    if limit and (0 < rows < limit or (offset == 0 and rows == 0)):
        return offset + rows
    return None


def search_by_key(
    conn: Connection, key: sa.ColumnElement[Any], directory_id: str, value: Any, offset: int, limit: int
) -> tuple[int, list[StoredResource]]:
    """``search`` for ``<indexed column> = value`` in the default order, with statements built once per column.

    This is the query IdPs send most (Entra's ``userName eq`` before every create and for every match), and for
    it building the SQLAlchemy statement costs more than running it.
    """
    page_query, count_query = _by_key(key)
    params = {"directory_id": directory_id, "value": value, "offset": offset, "limit": limit}
    page = [_stored(row) for row in page_query.rows(conn, params)] if limit else []
    total = _total_from_page(offset, limit, len(page))
    return (int(count_query.scalar(conn, params)) if total is None else total), page


_BY_KEY: dict[sa.ColumnElement[Any], tuple[Statement, Statement]] = {}


def _by_key(key: sa.ColumnElement[Any]) -> tuple[Statement, Statement]:
    if key not in _BY_KEY:
        table = key.table
        condition = sa.and_(table.c.directory_id == sa.bindparam("directory_id"), key == sa.bindparam("value"))
        page = sa.select(*_columns(table)).where(condition).order_by(table.c.id)
        page = page.offset(sa.bindparam("offset", type_=sa.Integer)).limit(sa.bindparam("limit", type_=sa.Integer))
        _BY_KEY[key] = (Statement(page), Statement(sa.select(sa.func.count()).select_from(table).where(condition)))
    return _BY_KEY[key]


def count(conn: Connection, table: Table, directory_id: str, where: sa.ColumnElement[bool] | None) -> int:
    condition = table.c.directory_id == directory_id
    if where is not None:
        condition = sa.and_(condition, where)
    total: int = conn.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar_one()
    return total


def keyset_page(
    conn: Connection,
    table: Table,
    directory_id: str,
    where: sa.ColumnElement[bool] | None,
    limit: int,
    order_by: Sequence[Any],
    sort_value: sa.ColumnElement[Any] | None,
) -> list[tuple[StoredResource, Any]]:
    """Up to ``limit`` resources in ``order_by`` order (``where`` holds the keyset condition), each with the value
    of its sort key, which the next cursor starts after."""
    columns = [*_columns(table), (sort_value if sort_value is not None else sa.null()).label("sort_value")]
    condition = table.c.directory_id == directory_id
    if where is not None:
        condition = sa.and_(condition, where)
    rows = conn.execute(sa.select(*columns).where(condition).order_by(*order_by).limit(limit))
    return [(_stored(row), row.sort_value) for row in rows]


def sort_value_of(
    conn: Connection, table: Table, directory_id: str, resource_id: str, sort_value: sa.ColumnElement[Any]
) -> Any:
    """The sort key of one resource, or None when it no longer exists."""
    query = sa.select(sort_value).where(table.c.directory_id == directory_id, table.c.id == resource_id)
    return conn.execute(query).scalar_one_or_none()


# PostgreSQL takes at most 65,535 bound parameters per statement: long id lists go in chunks.
_CHUNK = 10_000


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    wanted = list(ids)
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


def existing_ids(conn: Connection, table: Table, directory_id: str, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found |= {
            row[0] for row in _statements(table).existing.rows(conn, {"b_directory_id": directory_id, "ids": chunk})
        }
    return found


def display_names(conn: Connection, directory_id: str, user_ids: Iterable[str]) -> dict[str, str | None]:
    """What a user is called where others show it (a manager): displayName, else userName."""
    names: dict[str, str | None] = {}
    for chunk in _chunks(user_ids):
        rows = _DISPLAY_NAMES.rows(conn, {"directory_id": directory_id, "ids": chunk})
        names.update({user_id: display_name or user_name for user_id, display_name, user_name in rows})
    return names


_DISPLAY_NAMES = Statement(
    sa.select(users.c.id, users.c.display_name, users.c.user_name).where(
        users.c.directory_id == sa.bindparam("directory_id"), users.c.id.in_(sa.bindparam("ids", expanding=True))
    )
)


def add_members(
    conn: Connection, directory_id: str, group_id: str, members: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Add (member_id, "User"|"Group") pairs; ones already present are left alone. Returns the pairs added."""
    if not members:
        return []
    present = member_ids(conn, directory_id, group_id, [member_id for member_id, _ in members])
    added = [(member_id, kind) for member_id, kind in members if member_id not in present]
    rows = [
        {
            "directory_id": directory_id,
            "group_id": group_id,
            "member_id": member_id,
            "user_id": member_id if kind == "User" else None,
            "child_group_id": member_id if kind == "Group" else None,
        }
        for member_id, kind in added
    ]
    _ADD_MEMBER.many(conn, rows)
    return added


_ADD_MEMBER = Statement(
    group_members.insert().values(
        {name: sa.bindparam(name) for name in ("directory_id", "group_id", "member_id", "user_id", "child_group_id")}
    )
)


def remove_members(conn: Connection, directory_id: str, group_id: str, ids: Iterable[str]) -> list[tuple[str, str]]:
    """Remove these members where present. Returns the (member_id, "User"|"Group") pairs removed."""
    removed: list[tuple[str, str]] = []
    for chunk in _chunks(ids):
        result = _REMOVE_MEMBERS.rows(conn, {"directory_id": directory_id, "group_id": group_id, "among": chunk})
        removed += [(member_id, "User" if user_id else "Group") for member_id, user_id in result]
    return removed


_REMOVE_MEMBERS = Statement(
    group_members.delete()
    .where(
        group_members.c.directory_id == sa.bindparam("directory_id"),
        group_members.c.group_id == sa.bindparam("group_id"),
        group_members.c.member_id.in_(sa.bindparam("among", expanding=True)),
    )
    .returning(group_members.c.member_id, group_members.c.user_id)
)


def member_ids(conn: Connection, directory_id: str, group_id: str, among: Iterable[str] | None = None) -> set[str]:
    params = {"directory_id": directory_id, "group_id": group_id}
    if among is None:
        return {row[0] for row in _MEMBER_IDS.rows(conn, params)}
    found: set[str] = set()
    for chunk in _chunks(among):
        found |= {row[0] for row in _MEMBER_IDS_AMONG.rows(conn, {**params, "among": chunk})}
    return found


_MEMBERS = sa.select(group_members.c.member_id).where(
    group_members.c.directory_id == sa.bindparam("directory_id"), group_members.c.group_id == sa.bindparam("group_id")
)
_MEMBER_IDS = Statement(_MEMBERS)
_MEMBER_IDS_AMONG = Statement(_MEMBERS.where(group_members.c.member_id.in_(sa.bindparam("among", expanding=True))))


def members_of(conn: Connection, directory_id: str, group_ids: Sequence[str]) -> dict[str, list[Member]]:
    """The members of each group, with a display name, in member id order."""
    member_user = users.alias("member_user")
    member_group = groups.alias("member_group")
    query = (
        sa.select(
            group_members.c.group_id,
            group_members.c.member_id,
            group_members.c.user_id,
            sa.func.coalesce(member_user.c.display_name, member_user.c.user_name, member_group.c.display_name).label(
                "display"
            ),
        )
        .select_from(
            group_members.outerjoin(
                member_user,
                sa.and_(
                    member_user.c.directory_id == group_members.c.directory_id,
                    member_user.c.id == group_members.c.user_id,
                ),
            ).outerjoin(
                member_group,
                sa.and_(
                    member_group.c.directory_id == group_members.c.directory_id,
                    member_group.c.id == group_members.c.child_group_id,
                ),
            )
        )
        .where(group_members.c.directory_id == directory_id, group_members.c.group_id.in_(list(group_ids)))
        .order_by(group_members.c.group_id, group_members.c.member_id)
    )
    out: dict[str, list[Member]] = defaultdict(list)
    for row in conn.execute(query):
        out[row.group_id].append(Member(row.member_id, "User" if row.user_id else "Group", row.display))
    return out


# Built once: constructing SQLAlchemy expressions costs more than running this query (see docs/performance.md).
_GROUPS_OF = Statement(
    sa.select(group_members.c.member_id, groups.c.id, groups.c.display_name)
    .select_from(
        group_members.join(
            groups,
            sa.and_(groups.c.directory_id == group_members.c.directory_id, groups.c.id == group_members.c.group_id),
        )
    )
    .where(
        group_members.c.directory_id == sa.bindparam("directory_id"),
        group_members.c.member_id.in_(sa.bindparam("member_ids", expanding=True)),
    )
    .order_by(group_members.c.member_id, groups.c.id)
)


def groups_of(conn: Connection, directory_id: str, member_ids_: Sequence[str]) -> dict[str, list[Membership]]:
    """The groups each user (or group) is a direct member of: ``User.groups`` is derived from this."""
    out: dict[str, list[Membership]] = defaultdict(list)
    for chunk in _chunks(member_ids_):
        for member_id, group_id, display_name in _GROUPS_OF.rows(
            conn, {"directory_id": directory_id, "member_ids": chunk}
        ):
            out[member_id].append(Membership(group_id, display_name))
    return out


def instance_secret(conn: Connection, name: str) -> str | None:
    """A random key shared by every worker on this database (migration 0002 creates the first)."""
    query = sa.select(instance_secrets.c.value).where(instance_secrets.c.name == name)
    value: str | None = conn.execute(query).scalar_one_or_none()
    return value


def create_instance_secret(conn: Connection, name: str) -> str:
    """Create the key if no worker has yet (run in a write transaction), and return the one that exists."""
    existing = instance_secret(conn, name)
    if existing is not None:
        return existing
    value = secrets.token_urlsafe(32)
    conn.execute(instance_secrets.insert().values(name=name, value=value))
    return value
