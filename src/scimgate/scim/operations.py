"""The SCIM operations on Users and Groups (RFC 7644 §3.3–3.6), each one database transaction.

HTTP lives in ``routes.py``; this module is the protocol logic: validate, write, read back, render. A request that
fails raises a ``ScimError`` before its transaction commits, so it changes nothing.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from scimgate.events import record
from scimgate.events.deletions import count_user_deletion
from scimgate.events.outbox import emit
from scimgate.ids import new_id
from scimgate.scim import membership
from scimgate.scim.cursors import Position, after, open_cursor, query_fingerprint, seal
from scimgate.scim.errors import InvalidCursor, InvalidValue, NotFound, ScimError, Uniqueness, excerpt
from scimgate.scim.etags import Preconditions
from scimgate.scim.filters import compile_filter, compile_filter_across, key_equality
from scimgate.scim.passwords import DISCARD, UNCHANGED, Passwords, only_password, store_change
from scimgate.scim.patch import MemberChanges, PatchResult, apply_patch, check_patch_body
from scimgate.scim.projection import Projection
from scimgate.scim.render import etag, manager_ids, render
from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.scim.schema import ENTERPRISE_SCHEMA
from scimgate.scim.sorting import SortKey, order_by
from scimgate.scim.validation import ParsedResource, check_user_name, parse_resource
from scimgate.store import resources as store
from scimgate.store.database import Database
from scimgate.store.resources import StoredResource
from scimgate.store.tables import groups, users
from scimgate.text import comparison_key, storable

logger = logging.getLogger("scimgate.scim")
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_NO_CONDITIONS = Preconditions()
MAX_ID_LENGTH = 40  # the width of the id columns
MAX_INDEXED_BYTES = 2000  # userName, displayName and externalId, which are indexed


@dataclass(frozen=True)
class Single:
    """One rendered resource, with its location and version taken before projection (a client's ``attributes``
    may drop ``meta``; the ``Location`` and ``ETag`` headers must not depend on that)."""

    resource: dict[str, Any]
    location: str
    version: str


@dataclass(frozen=True)
class Page:
    start_index: int
    count: int
    sort: SortKey | None = None
    cursor: str | None = None
    """None for index paging; "" for the first page of cursor paging (RFC 9865), else the cursor to continue."""


@dataclass(frozen=True)
class Related:
    """What rendering a page needs from other rows, loaded in the transaction that read or wrote the page."""

    groups: dict[str, list[store.Membership]] | None
    members: dict[str, list[store.Member]] | None
    manager_names: dict[str, str | None]


def _related(
    conn: Connection,
    rtype: ResourceType,
    directory_id: str,
    rows: list[StoredResource],
    projection: Projection,
    new_user: bool = False,
) -> Related:
    """Memberships and managers of a page, in one query each, and only when the response returns them."""
    ids = [row.id for row in rows]
    groups_by_user = members_by_group = None
    names: dict[str, str | None] = {}
    if rtype is USERS and ids and projection.includes("groups"):
        groups_by_user = {} if new_user else store.groups_of(conn, directory_id, ids)
    if rtype is GROUPS and ids and projection.includes("members"):
        members_by_group = store.members_of(conn, directory_id, ids)
    if rtype is USERS and projection.includes(ENTERPRISE_SCHEMA):
        names = store.display_names(conn, directory_id, manager_ids([row.attributes for row in rows]))
    return Related(groups_by_user, members_by_group, names)


class Operations:
    def __init__(
        self, db: Database, public_url: str, cursor_timeout: int = 3600, passwords: Passwords = DISCARD
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.public_url = public_url
        self.dialect = db.url.get_backend_name()
        self.cursor_timeout = cursor_timeout
        self._cursor_secret: str | None = None

    def base_url(self, directory_id: str) -> str:
        return f"{self.public_url}/scim/v2/{directory_id}"

    def create(self, rtype: ResourceType, directory_id: str, payload: Any, projection: Projection) -> Single:
        password = UNCHANGED
        if rtype is USERS:  # hashed (slow by design) before the write transaction, not inside it
            payload, password = self.passwords.from_resource(payload)
        parsed = parse_resource(rtype, payload)
        if rtype is USERS:
            check_user_name(parsed.document["userName"])
            # A user the IdP creates without saying otherwise is active (Okta and Entra always send it anyway).
            parsed.document.setdefault("active", True)
        now = datetime.now(UTC)
        base = self.base_url(directory_id)
        with self.db.write() as conn:
            stored = self._insert(conn, rtype, directory_id, parsed, now)
            if rtype is USERS:
                store_change(conn, directory_id, stored.id, password)
                record.user_created(conn, directory_id, base, stored, now)
            else:
                delta = membership.set_members(conn, directory_id, stored.id, parsed.members or [])
                record.group_changed(conn, directory_id, base, None, stored, delta.added, [], now)
            # A user just created belongs to no group yet: no need to ask.
            related = _related(conn, rtype, directory_id, [stored], projection, new_user=rtype is USERS)
        return self._render_one(rtype, directory_id, stored, projection, related)

    def get(
        self,
        rtype: ResourceType,
        directory_id: str,
        resource_id: str,
        projection: Projection,
        preconditions: Preconditions = _NO_CONDITIONS,
    ) -> Single:
        _check_id(rtype, resource_id)
        with self.db.read() as conn:
            stored = store.get(conn, _table(rtype), directory_id, resource_id)
            if stored is None:
                raise _not_found(rtype, resource_id)
            preconditions.check(etag(stored.version), reading=True)
            related = _related(conn, rtype, directory_id, [stored], projection)
        return self._render_one(rtype, directory_id, stored, projection, related)

    def replace(
        self,
        rtype: ResourceType,
        directory_id: str,
        resource_id: str,
        payload: Any,
        projection: Projection,
        preconditions: Preconditions = _NO_CONDITIONS,
    ) -> Single:
        """PUT (RFC 7644 §3.5.1): the sent attributes replace the stored ones; read-only ones are kept."""
        _check_id(rtype, resource_id)
        password = UNCHANGED
        if rtype is USERS:  # a PUT without a password keeps the stored one: the IdP cannot read it back to resend
            payload, password = self.passwords.from_resource(payload)
        parsed = parse_resource(rtype, payload)
        now = datetime.now(UTC)
        with self.db.write() as conn:
            current = _locked(conn, rtype, directory_id, resource_id, preconditions)
            if rtype is USERS and "active" not in parsed.document and "active" in current.attributes:
                # Okta and hand-written clients PUT users without `active`; that must not flip a disabled user on
                # (or an active one off). Omitted means unchanged.
                parsed.document["active"] = current.attributes["active"]
            _changed_user_name(rtype, current, parsed.document)
            stored = _write(conn, rtype, directory_id, resource_id, parsed.document, now)
            store_change(conn, directory_id, resource_id, password)
            delta = _NO_DELTA
            if rtype is GROUPS and parsed.members is not None:
                # Omitted `members` leaves membership as it is; `members: []` empties the group.
                delta = membership.set_members(conn, directory_id, resource_id, parsed.members)
            also = self.passwords.announced(password)
            _record(conn, rtype, directory_id, self.base_url(directory_id), current, stored, delta, now, also)
            related = _related(conn, rtype, directory_id, [stored], projection)
        # Rendered after the commit: on SQLite the next writer can start meanwhile.
        return self._render_one(rtype, directory_id, stored, projection, related)

    def patch(
        self,
        rtype: ResourceType,
        directory_id: str,
        resource_id: str,
        body: Any,
        projection: Projection,
        preconditions: Preconditions = _NO_CONDITIONS,
        tolerant: bool = True,
    ) -> Single:
        """PATCH (RFC 7644 §3.5.2): every operation applies, or none does."""
        _check_id(rtype, resource_id)
        table = _table(rtype)
        password, sent = UNCHANGED, body
        if rtype is USERS:
            body, password = self.passwords.from_patch(body)
        with self.db.write() as conn:
            current = _locked(conn, rtype, directory_id, resource_id, preconditions)
            store_change(conn, directory_id, resource_id, password)
            if password is not UNCHANGED and only_password(body):
                check_patch_body(sent, tolerant)  # the engine's rules for the body hold all the same
                result = PatchResult(current.attributes, MemberChanges(), [])  # it only changed the password
            else:
                result = _apply(rtype, current.attributes, body, tolerant)
            if result.ignored:
                # Names only, never values: they are the IdP's data. The admin request log will show them too.
                logger.info("PATCH %s/%s skipped unknown attributes: %s", rtype.name, resource_id, result.ignored)
            parsed = parse_resource(rtype, result.document)  # the whole result must be a valid resource
            stored = current
            now = datetime.now(UTC)
            if parsed.document != current.attributes:
                _changed_user_name(rtype, current, parsed.document)
                stored = _write(conn, rtype, directory_id, resource_id, parsed.document, now)
            delta = _NO_DELTA
            if result.members.any:
                delta = membership.change_members(conn, directory_id, resource_id, result.members)
                if result.members.replace_all and not result.members.add and delta.removed:
                    # Security plan D13: {"op": "remove", "path": "members"} without a value empties the group, as
                    # the RFC says. Entra's older dialect sends exactly that when it meant one member, so say so.
                    logger.warning(
                        "PATCH emptied group %s in directory %s: all %d members removed",
                        resource_id,
                        directory_id,
                        len(delta.removed),
                    )
                if delta and stored is current:  # membership changed, the document did not: the version moves
                    stored = store.touch(conn, table, directory_id, resource_id, now) or current
            also = self.passwords.announced(password)
            _record(conn, rtype, directory_id, self.base_url(directory_id), current, stored, delta, now, also)
            related = _related(conn, rtype, directory_id, [stored], projection)
        return self._render_one(rtype, directory_id, stored, projection, related)

    def delete(
        self, rtype: ResourceType, directory_id: str, resource_id: str, preconditions: Preconditions = _NO_CONDITIONS
    ) -> None:
        _check_id(rtype, resource_id)
        now = datetime.now(UTC)
        base = self.base_url(directory_id)
        with self.db.write() as conn:
            current = _locked(conn, rtype, directory_id, resource_id, preconditions)
            happened = (
                [record.user_deleted(conn, directory_id, base, current)]
                if rtype is USERS
                else record.group_deleted(conn, directory_id, base, current)
            )
            # Groups that lose a member change too: their lastModified and version move.
            for membership in store.groups_of(conn, directory_id, [resource_id]).get(resource_id, []):
                store.touch(conn, groups, directory_id, membership.group_id, now)
            store.delete(conn, _table(rtype), directory_id, resource_id)
            alarm = count_user_deletion(conn, directory_id, now) if rtype is USERS else None
            if alarm is not None:
                happened.append(alarm)
                logger.warning(
                    "mass deletion in directory %s: %d users deleted since %s, %d remain",
                    directory_id,
                    alarm.deleted,
                    alarm.since,
                    alarm.remaining,
                )
            emit(conn, directory_id, happened, now)

    def is_key_lookup(self, rtype: ResourceType, filter_text: str | None, page: Page) -> bool:
        """Whether this search is an indexed ``eq`` lookup: a few rows at most, never a scan."""
        return filter_text is not None and _by_key(page) and key_equality(rtype, filter_text) is not None

    def search(
        self, rtype: ResourceType, directory_id: str, filter_text: str | None, page: Page, projection: Projection
    ) -> dict[str, Any]:
        key = key_equality(rtype, filter_text) if filter_text is not None else None
        if key is not None and _by_key(page):
            with self.db.read() as conn:
                total, rows = store.search_by_key(
                    conn, key.column, directory_id, key.value, page.start_index - 1, page.count
                )
                resources = self._render_many(conn, rtype, directory_id, rows, projection)
            return _list_response(total, page.start_index, resources)
        where = compile_filter(rtype, filter_text, self.dialect) if filter_text is not None else None
        if page.cursor is not None:
            return self._search_by_cursor(rtype, directory_id, filter_text, where, page, projection)
        with self.db.read() as conn:
            table = _table(rtype)
            total, rows = store.search(
                conn, table, directory_id, where, page.start_index - 1, page.count, order_by(table, page.sort)
            )
            resources = self._render_many(conn, rtype, directory_id, rows, projection)
        return _list_response(total, page.start_index, resources)

    def _search_by_cursor(
        self,
        rtype: ResourceType,
        directory_id: str,
        filter_text: str | None,
        where: sa.ColumnElement[bool] | None,
        page: Page,
        projection: Projection,
    ) -> dict[str, Any]:
        table = _table(rtype)
        fingerprint = query_fingerprint(rtype.name, filter_text, page.sort)
        with self.db.read() as conn:
            secret = self._secret(conn)
            condition = where
            if page.cursor:
                position = open_cursor(secret, page.cursor, directory_id, fingerprint, page.sort)
                if position.by_reference and page.sort is not None:
                    position = self._reread_position(conn, table, directory_id, position, page.sort)
                keyset = after(table, page.sort, position)
                condition = keyset if where is None else sa.and_(where, keyset)
            total = store.count(conn, table, directory_id, where)
            sort_value = page.sort.expression if page.sort else None
            # One more than asked: whether it exists says whether there is a next page.
            rows = store.keyset_page(
                conn, table, directory_id, condition, page.count + 1, order_by(table, page.sort), sort_value
            )
            shown = rows[: page.count]
            resources = self._render_many(conn, rtype, directory_id, [row for row, _ in shown], projection)
        result: dict[str, Any] = {
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        if len(rows) > page.count:
            last, last_value = shown[-1]
            position = Position(last.id, last_value)
            result["nextCursor"] = seal(secret, directory_id, fingerprint, position, page.sort, self.cursor_timeout)
        return result

    def _reread_position(
        self, conn: Connection, table: sa.Table, directory_id: str, position: Position, sort: SortKey
    ) -> Position:
        value = store.sort_value_of(conn, table, directory_id, position.resource_id, sort.expression)
        if value is None:
            raise InvalidCursor(
                "The resource this cursor continues after was deleted; start the listing again with an empty cursor."
            )
        return Position(position.resource_id, value)

    def _secret(self, conn: Connection) -> str:
        if self._cursor_secret is None:
            secret = store.instance_secret(conn, "cursor")
            if secret is None:  # a database emptied by hand since its migration: make a new key
                with self.db.write() as write:
                    secret = store.create_instance_secret(write, "cursor")
            self._cursor_secret = secret
        return self._cursor_secret

    def search_across(
        self,
        directory_id: str,
        filter_text: str | None,
        page: Page,
        attributes: str | None,
        excluded: str | None,
        sort_by: str | None = None,
    ) -> dict[str, Any]:
        """POST /.search at the root (RFC 7644 §3.4.3): Users, then Groups, paged as one list."""
        if sort_by:
            raise InvalidValue("sortBy is not supported when searching Users and Groups together; search one type.")
        if page.cursor is not None:
            raise InvalidValue("Cursor paging is offered on /Users and /Groups; a root search pages by startIndex.")
        rtypes = (USERS, GROUPS)
        where = compile_filter_across(rtypes, filter_text, self.dialect) if filter_text is not None else {}
        offset, remaining = page.start_index - 1, page.count
        total, resources = 0, []
        with self.db.read() as conn:
            for rtype in rtypes:
                count, rows = store.search(
                    conn, _table(rtype), directory_id, where.get(rtype.name), max(offset - total, 0), remaining
                )
                total += count
                remaining -= len(rows)
                projection = Projection.parse(rtype, attributes, excluded)
                resources += self._render_many(conn, rtype, directory_id, rows, projection)
        return _list_response(total, page.start_index, resources)

    def _insert(
        self, conn: Connection, rtype: ResourceType, directory_id: str, parsed: ParsedResource, now: datetime
    ) -> StoredResource:
        resource_id = new_id(rtype.id_prefix)
        try:
            return store.insert(
                conn, _table(rtype), directory_id, resource_id, _columns(rtype, parsed.document), parsed.document, now
            )
        except IntegrityError:
            raise _conflict(rtype, parsed.document) from None

    def _render_one(
        self, rtype: ResourceType, directory_id: str, stored: StoredResource, projection: Projection, related: Related
    ) -> Single:
        resource = self._render(rtype, directory_id, [stored], projection, related)[0]
        location = f"{self.base_url(directory_id)}{rtype.endpoint}/{stored.id}"
        return Single(resource, location, etag(stored.version))

    def _render_many(
        self,
        conn: Connection,
        rtype: ResourceType,
        directory_id: str,
        rows: list[StoredResource],
        projection: Projection,
    ) -> list[dict[str, Any]]:
        related = _related(conn, rtype, directory_id, rows, projection)
        return self._render(rtype, directory_id, rows, projection, related)

    def _render(
        self,
        rtype: ResourceType,
        directory_id: str,
        rows: list[StoredResource],
        projection: Projection,
        related: Related,
    ) -> list[dict[str, Any]]:
        base = self.base_url(directory_id)
        return [
            projection.apply(
                render(
                    rtype,
                    row,
                    base,
                    groups=related.groups.get(row.id, []) if related.groups is not None else None,
                    members=related.members.get(row.id, []) if related.members is not None else None,
                    manager_names=related.manager_names,
                )
            )
            for row in rows
        ]


_NO_DELTA = membership.Delta()


def _apply(rtype: ResourceType, document: dict[str, Any], body: Any, tolerant: bool) -> Any:
    """apply_patch; in strict mode, a refusal that the IdP tolerance would have accepted says so."""
    try:
        return apply_patch(rtype, document, body, tolerant=tolerant)
    except ScimError as error:
        if tolerant or "strict mode" in error.detail:
            raise
        try:
            parse_resource(rtype, apply_patch(rtype, document, body, tolerant=True).document)
        except ScimError:
            raise error from None
        error.detail += " (This IdP form is accepted when the directory is not in strict mode.)"
        raise


def _record(
    conn: Connection,
    rtype: ResourceType,
    directory_id: str,
    base_url: str,
    before: StoredResource,
    after: StoredResource,
    delta: membership.Delta,
    now: datetime,
    also: list[str],
) -> None:
    """The events of a PUT or PATCH, written last in its transaction (scimgate/events/record.py); ``also``: what
    changed beside the attributes (the password)."""
    if rtype is USERS:
        record.user_changed(conn, directory_id, base_url, before, after, now, also)
    else:
        record.group_changed(conn, directory_id, base_url, before, after, delta.added, delta.removed, now)


def _by_key(page: Page) -> bool:
    """Pages the indexed-lookup path serves: index paging in the default order, not too long."""
    return page.cursor is None and page.sort is None and page.count <= 100


def _locked(
    conn: Connection, rtype: ResourceType, directory_id: str, resource_id: str, preconditions: Preconditions
) -> StoredResource:
    """The resource a write is about, its row locked until the transaction ends; 404 or 412 otherwise."""
    current = store.get(conn, _table(rtype), directory_id, resource_id, for_update=True)
    if current is None:
        raise _not_found(rtype, resource_id)
    preconditions.check(etag(current.version), reading=False)
    return current


def _changed_user_name(rtype: ResourceType, current: StoredResource, document: dict[str, Any]) -> None:
    """Check a userName a write sets or changes; one stored before the rule existed can still be updated."""
    if rtype is USERS and document["userName"] != current.attributes.get("userName"):
        check_user_name(document["userName"])


def _write(
    conn: Connection, rtype: ResourceType, directory_id: str, resource_id: str, document: dict[str, Any], now: datetime
) -> StoredResource:
    """Store a new version of an existing resource; a key another resource holds is 409 uniqueness."""
    try:
        stored = store.replace(conn, _table(rtype), directory_id, resource_id, _columns(rtype, document), document, now)
    except IntegrityError:
        raise _conflict(rtype, document) from None
    assert stored is not None  # the row is locked by _locked
    return stored


def _list_response(total: int, start_index: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _table(rtype: ResourceType) -> Any:
    return users if rtype is USERS else groups


def _columns(rtype: ResourceType, document: dict[str, Any]) -> dict[str, Any]:
    """The indexed columns derived from a document: what filters and uniqueness run on."""
    display_name = document.get("displayName")
    columns: dict[str, Any] = {
        "external_id": _indexable("externalId", document.get("externalId")),
        "display_name": display_name,
        "display_name_key": _indexable(
            "displayName", comparison_key(display_name) if display_name is not None else None
        ),
    }
    if rtype is USERS:
        columns["user_name"] = document["userName"]
        columns["user_name_key"] = _indexable("userName", comparison_key(document["userName"]))
        columns["active"] = document.get("active")
    return columns


def _indexable(name: str, value: str | None) -> str | None:
    # PostgreSQL refuses index rows over 2704 bytes; the same limit applies on SQLite so the backends agree.
    if value is not None and len(value.encode()) > MAX_INDEXED_BYTES:
        raise InvalidValue(f"{name} is longer than {MAX_INDEXED_BYTES} bytes (UTF-8), the limit of this server.")
    return value


def _check_id(rtype: ResourceType, resource_id: str) -> None:
    """An id no resource can have is simply not found (and never reaches the database as an unstorable string)."""
    if len(resource_id) > MAX_ID_LENGTH or not storable(resource_id):
        raise _not_found(rtype, resource_id)


def _not_found(rtype: ResourceType, resource_id: str) -> NotFound:
    return NotFound(f"{rtype.name} {excerpt(resource_id, 48)} not found in this directory.")


def _conflict(rtype: ResourceType, document: dict[str, Any]) -> Uniqueness:
    if rtype is USERS:
        return Uniqueness(
            f"A User with userName {excerpt(document['userName'])} already exists in this directory "
            "(userName is compared case-insensitively). Match the existing user, or change its userName."
        )
    return Uniqueness(
        f"A Group with displayName {excerpt(document['displayName'])} already exists in this directory "
        "(displayName is compared case-insensitively). Group names must be unique: Entra matches groups by displayName."
    )
