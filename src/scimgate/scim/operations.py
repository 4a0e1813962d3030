"""The SCIM operations on Users and Groups (RFC 7644 §3.3–3.6), each one database transaction.

HTTP lives in ``endpoints.py``; this module orchestrates the protocol: validate, write, record the change's events
(``changes.py``), read back and render (``render.py``). What differs between Users and Groups is data on the
``ResourceType``; the few rules only one type has (passwords, ``active``, a userName's characters, members) are
spelled out where they apply. A request that fails raises a ``ScimError`` before its transaction commits, so it
changes nothing.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from scimgate.ids import new_id
from scimgate.jsonio import dumps
from scimgate.scim import changes, membership
from scimgate.scim.changes import Change
from scimgate.scim.cursors import LIST_RESPONSE, Sealer, search_by_cursor
from scimgate.scim.domains import policy_of
from scimgate.scim.errors import (
    InvalidValue,
    Mutability,
    PayloadTooLarge,
    Reason,
    ScimError,
    ServiceUnavailable,
    excerpt,
)
from scimgate.scim.extensions import Registry
from scimgate.scim.filters import compile_filter, compile_filter_across, key_equality, strict_hint
from scimgate.scim.passwords import DISCARD, UNCHANGED, PasswordChange, Passwords, only_password, store_change
from scimgate.scim.patch import MemberChanges, PatchResult, apply_patch, check_patch_body
from scimgate.scim.projection import Projection
from scimgate.scim.query import Page, Search, SearchParams, SearchQuery, Target
from scimgate.scim.render import Related, change_time, etag, related, render_page
from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.scim.sorting import order_by
from scimgate.scim.validation import ParsedResource, check_user_name, parse_resource, values_allowed
from scimgate.store import resources as store
from scimgate.store.database import Database
from scimgate.store.resources import StoredResource
from scimgate.text import storable

logger = logging.getLogger("scimgate.scim")
_NO_DELTA = membership.Delta()
MAX_ID_LENGTH = 40  # the width of the id columns
_PATCH_ATTEMPTS = 5  # a PATCH whose resource changed under it this many times is 503 (never computed under the lock)


@dataclass(frozen=True)
class Single:
    """One rendered resource, with its location and version taken before projection (a client's ``attributes``
    may drop ``meta``; the ``Location`` and ``ETag`` headers must not depend on that)."""

    resource: dict[str, Any]
    location: str
    version: str
    ignored: tuple[str, ...] = ()
    """What the request sent that no schema here has (core or enterprise), skipped in tolerant mode."""


class Operations:
    def __init__(
        self,
        db: Database,
        public_url: str,
        cursor_timeout: int = 3600,
        passwords: Passwords = DISCARD,
        max_resource_bytes: int = 1_048_576,
    ) -> None:
        """``max_resource_bytes``: the largest stored resource (the body limit: a PATCH may not grow one past what
        a PUT could send)."""
        self.db = db
        self.max_resource_bytes = max_resource_bytes
        self.passwords = passwords
        self.public_url = public_url
        self.dialect = db.url.get_backend_name()
        self.cursor_timeout = cursor_timeout
        self.registry = Registry(db)
        """Each directory's declared extensions (scimgate.scim.extensions), remembered for a few seconds."""
        self._cursor_secret: str | None = None
        # PATCHes of one resource take turns in this process (striped by resource, so a hash collision only makes
        # two PATCHes wait for each other): each one is computed outside the write lock and then written only onto
        # the version it was computed from, and PATCHes of the same resource would otherwise keep invalidating
        # each other's work.
        self._turns = [threading.Lock() for _ in range(64)]

    def base_url(self, directory_id: str) -> str:
        return f"{self.public_url}/scim/v2/{directory_id}"

    def create(self, target: Target, payload: Any, projection: Projection) -> Single:
        rtype, directory_id = target.rtype, target.directory_id
        payload, password = self._without_password(rtype, payload)
        parsed = parse_resource(rtype, payload)
        if rtype.name == USERS.name:
            check_user_name(parsed.document["userName"])
            # A user the IdP creates without saying otherwise is active (Okta and Entra always send it anyway).
            parsed.document.setdefault("active", True)

        def write(conn: Connection) -> tuple[StoredResource, Related | dict[str, Any]]:
            change = self._change(conn, directory_id)
            stored = _insert(conn, rtype, directory_id, parsed, change.now)
            store_change(conn, directory_id, stored.id, password)
            delta = _NO_DELTA
            if parsed.members is not None:
                delta = membership.set_members(conn, directory_id, stored.id, parsed.members)
            changes.created(change, rtype, stored, delta)
            return stored, _related(change, target, stored, projection, created=True)

        stored, found = self.db.run_write(write)
        return self._single(rtype, directory_id, stored, projection, found, parsed.ignored)

    def get(self, target: Target, projection: Projection) -> Single:
        rtype, directory_id = target.rtype, target.directory_id
        _check_id(target)
        with self.db.read(snapshot=False) as conn:
            stored = store.get(conn, rtype.table, directory_id, target.resource_id)
            if stored is None:
                raise rtype.not_found(target.resource_id)
            target.preconditions.check(etag(stored.version), reading=True)
            found = related(conn, target, self.base_url(directory_id), [stored], projection)
        return self._single(rtype, directory_id, stored, projection, found)

    def replace(self, target: Target, payload: Any, projection: Projection) -> Single:
        """PUT (RFC 7644 §3.5.1): the sent attributes replace the stored ones; read-only ones are kept."""
        rtype, directory_id = target.rtype, target.directory_id
        _check_id(target)
        _same_id(target, payload)
        # A PUT without a password keeps the stored one: the IdP cannot read it back to resend.
        payload, password = self._without_password(rtype, payload)
        parsed, compared = self._parse_replacement(target, payload)

        def write(conn: Connection) -> tuple[StoredResource, Related | dict[str, Any]]:
            nonlocal parsed
            change = self._change(conn, directory_id)
            current = _locked(conn, target)
            if compared is not None and compared != current.version:
                # The values kept as stored were compared with a version another write has since replaced
                # (rare: a PUT sending back a value that no longer fits, racing another write): compared again.
                parsed = parse_resource(rtype, payload, stored=current.attributes)
            if rtype.name == USERS.name and "active" not in parsed.document and "active" in current.attributes:
                # Okta and hand-written clients PUT users without `active`; that must not flip a disabled user on
                # (or an active one off). Omitted means unchanged.
                parsed.document["active"] = current.attributes["active"]
            stored = _write(conn, target, current, parsed.document, change.now)
            store_change(conn, directory_id, stored.id, password)
            delta = _NO_DELTA
            if parsed.members is not None:
                # Omitted `members` leaves membership as it is; `members: []` empties the group.
                delta = membership.set_members(conn, directory_id, stored.id, parsed.members)
            changes.changed(change, rtype, current, stored, delta, self.passwords.announced(password))
            return stored, _related(change, target, stored, projection)

        stored, found = self.db.run_write(write)
        # Rendered after the commit: on SQLite the next writer can start meanwhile.
        return self._single(rtype, directory_id, stored, projection, found, parsed.ignored)

    def _parse_replacement(self, target: Target, payload: Any) -> tuple[ParsedResource, int | None]:
        """A PUT's resource, and the version of the stored one it was compared with, if it was.

        A PUT is judged on what it changes, as a PATCH is: a value it sends back exactly as the resource holds it
        is kept even when it no longer fits the attribute's declaration (validation.check_value). Okta's AIW
        PUTs what it read with the change, authentik and OneLogin deactivate by PUT: none must fail over a value
        stored while an extension was undeclared. Only a body refused as it stands is compared with the stored
        resource, read outside the write lock as a PATCH is computed.
        """
        rtype = target.rtype
        try:
            return parse_resource(rtype, payload), None
        except InvalidValue:
            with self.db.read(snapshot=False) as conn:
                seen = store.get(conn, rtype.table, target.directory_id, target.resource_id)
            if seen is None:
                raise
        # ``before`` as for a PATCH: a PUT may not drop a required value the resource holds, but is not made to add
        # one it never had (a user stored before the attribute was declared required, deactivated by PUT).
        return parse_resource(rtype, payload, before=seen.attributes, stored=seen.attributes), seen.version

    def patch(self, target: Target, body: Any, projection: Projection, *, strict: bool = False) -> Single:
        """PATCH (RFC 7644 §3.5.2): every operation applies, or none does.

        The new document is computed from a read, outside any transaction, and written only if the resource is
        still at the version read: the database writer (on SQLite, one for every directory) is held to write, never
        to compute (issue 20: a costly PATCH computed under it stalled every directory's writes). PATCHes of one
        resource take turns in this process, so they do not make each other compute again; a resource another
        request (a PUT, another worker) keeps changing is computed again a few times, then 503 with Retry-After.
        """
        rtype, directory_id = target.rtype, target.directory_id
        _check_id(target)
        sent = body
        password: PasswordChange | None = UNCHANGED
        if rtype.name == USERS.name:
            body, password = self.passwords.from_patch(body)
        plan = _PatchRequest(rtype, body, sent, password, strict, self.max_resource_bytes).plan
        with self._turns[hash((directory_id, target.resource_id)) % len(self._turns)]:
            for _attempt in range(_PATCH_ATTEMPTS):
                with self.db.read(snapshot=False) as conn:
                    seen = _current(conn, target, lock=False)
                planned = plan(seen)  # no transaction open meanwhile

                def write(conn: Connection, planned: _Planned = planned) -> _Written | None:
                    change = self._change(conn, directory_id)
                    current = _current(conn, target, lock=True)
                    if planned.base.version != current.version:
                        return None  # changed since it was read (nothing written): compute again
                    stored = self._write_patch(change, target, current, planned, password)
                    return stored, _related(change, target, stored, projection)

                written = self.db.run_write(write)
                if written is None:
                    continue
                stored, found = written
                # Rendered after the commit: on SQLite the next writer can start meanwhile.
                ignored = [*planned.result.ignored, *planned.parsed.ignored]
                return self._single(rtype, directory_id, stored, projection, found, ignored)
        raise ServiceUnavailable(
            f"This {rtype.name} changed {_PATCH_ATTEMPTS} times while this PATCH was being applied to it (other "
            "requests are writing it at the same time); nothing was changed. Retry after the indicated delay.",
            retry_after=1,
        )

    def _write_patch(
        self,
        change: Change,
        target: Target,
        current: StoredResource,
        planned: "_Planned",
        password: PasswordChange | None,
    ) -> StoredResource:
        """Write a computed PATCH onto ``current`` (locked, at the version it was computed from), with its events."""
        rtype, directory_id, conn = target.rtype, target.directory_id, change.conn
        result, parsed = planned.result, planned.parsed
        store_change(conn, directory_id, current.id, password)
        stored = current
        if parsed.document != current.attributes:
            stored = _write(conn, target, current, parsed.document, change.now)
        delta = _change_members(conn, target, result.members)
        if delta and stored is current:  # membership changed, the document did not: the version moves
            stored = store.touch(conn, rtype.table, directory_id, current.id, change.now) or current
        changes.changed(change, rtype, current, stored, delta, self.passwords.announced(password))
        return stored

    def delete(self, target: Target) -> None:
        rtype, directory_id = target.rtype, target.directory_id
        _check_id(target)

        def write(conn: Connection) -> None:
            change = self._change(conn, directory_id)
            current = _locked(conn, target)
            happened = changes.deleting(change, rtype, current)
            # Groups that lose a member change too: their lastModified and version move.
            for group in store.groups_of(conn, directory_id, [current.id]).get(current.id, []):
                store.touch(conn, GROUPS.table, directory_id, group.group_id, change.now)
            store.delete(conn, rtype.table, directory_id, current.id)
            changes.deleted(change, rtype, happened)

        self.db.run_write(write)

    def is_key_lookup(self, rtype: ResourceType, query: SearchQuery) -> bool:
        """Whether this search is an indexed ``eq`` lookup: a few rows at most, never a scan."""
        return query.filter is not None and query.page.by_key and key_equality(rtype, query.filter) is not None

    def search(self, target: Target, query: SearchQuery) -> dict[str, Any]:
        rtype, directory_id = target.rtype, target.directory_id
        base, page = self.base_url(directory_id), query.page
        key = key_equality(rtype, query.filter) if query.filter is not None else None
        if key is not None and page.by_key:
            with self.db.read(snapshot=False) as conn:  # the matches, then their groups or members
                offset = page.start_index - 1
                total, rows = store.search_by_key(conn, key.column, directory_id, key.value, offset, page.count)
                return _list_response(total, page.start_index, self._page(conn, target, rows, query.projection))
        with self.db.read() as conn:
            where = None
            if query.filter is not None:
                where = compile_filter(rtype, query.filter, self.dialect, query.strict)
            search = Search(rtype, directory_id, base, query, where)
            if page.cursor is not None:
                return search_by_cursor(conn, search, Sealer(self._secret(conn), self.cursor_timeout))
            order = order_by(rtype.table, page.sort)
            total, rows = store.search(conn, rtype.table, directory_id, where, page.start_index - 1, page.count, order)
            return _list_response(total, page.start_index, self._page(conn, target, rows, query.projection))

    def search_across(
        self, directory_id: str, params: SearchParams, page: Page, strict: bool = False
    ) -> dict[str, Any]:
        """POST /.search at the root (RFC 7644 §3.4.3): Users, then Groups, paged as one list."""
        if params.sort_by:
            raise InvalidValue("sortBy is not supported when searching Users and Groups together; search one type.")
        if page.cursor is not None:
            raise InvalidValue("Cursor paging is offered on /Users and /Groups; a root search pages by startIndex.")
        text = params.filter
        offset, remaining = page.start_index - 1, page.count
        total, resources = 0, []
        with self.db.read() as conn:
            catalog = self.registry.catalog(directory_id, conn)
            rtypes = (catalog.users, catalog.groups)
            where = compile_filter_across(rtypes, text, self.dialect, strict) if text is not None else {}
            for rtype in rtypes:
                skip = max(offset - total, 0)
                count, rows = store.search(conn, rtype.table, directory_id, where.get(rtype.name), skip, remaining)
                total += count
                remaining -= len(rows)
                projection = Projection.parse(rtype, params.attributes, params.excluded_attributes)
                resources += self._page(conn, Target(rtype, directory_id), rows, projection)
        return _list_response(total, page.start_index, resources)

    def _without_password(self, rtype: ResourceType, payload: Any) -> tuple[Any, PasswordChange | None]:
        """The body without its password (RFC 7643 §4.1.1: Users only), hashed before the write transaction (slow
        by design), and what to do with the stored hash."""
        if rtype.name != USERS.name:
            return payload, UNCHANGED
        return self.passwords.from_resource(payload)

    def _change(self, conn: Connection, directory_id: str) -> Change:
        catalog = self.registry.catalog(directory_id, conn)
        domains = policy_of(conn, directory_id)
        return Change(conn, directory_id, self.base_url(directory_id), change_time(), catalog, domains=domains)

    def _page(
        self, conn: Connection, target: Target, rows: list[StoredResource], projection: Projection
    ) -> list[dict[str, Any]]:
        base = self.base_url(target.directory_id)
        found = related(conn, target, base, rows, projection)
        return render_page(target.rtype, rows, base, projection, found)

    def _single(
        self,
        rtype: ResourceType,
        directory_id: str,
        stored: StoredResource,
        projection: Projection,
        found: Related | dict[str, Any],
        ignored: Sequence[str] = (),
    ) -> Single:
        """``found``: what the resource's rendering needs, or the resource already rendered in full."""
        base = self.base_url(directory_id)
        if isinstance(found, dict):
            resource = projection.apply(found)
        else:
            resource = render_page(rtype, [stored], base, projection, found)[0]
        return Single(resource, f"{base}{rtype.endpoint}/{stored.id}", etag(stored.version), tuple(ignored))

    def _secret(self, conn: Connection) -> str:
        if self._cursor_secret is None:
            secret = store.instance_secret(conn, "cursor")
            if secret is None:  # a database emptied by hand since its migration: make a new key
                with self.db.write() as write:
                    secret = store.create_instance_secret(write, "cursor")
            self._cursor_secret = secret
        return self._cursor_secret


_Written = tuple[StoredResource, Related | dict[str, Any]]
"""A write's stored resource, and what its response's rendering needs (or the resource already rendered)."""


@dataclass(frozen=True)
class _Planned:
    """A PATCH applied to one version of a resource: written only while the resource is still at that version."""

    base: StoredResource
    result: PatchResult
    parsed: ParsedResource


@dataclass(frozen=True)
class _PatchRequest:
    """A PATCH as received: its body (password operations taken out), as sent, and how to apply it."""

    rtype: ResourceType
    body: Any
    sent: Any
    password: PasswordChange | None
    strict: bool
    max_bytes: int

    def plan(self, current: StoredResource) -> _Planned:
        """The resource after the PATCH, validated as a whole and within the size limit; no database work."""
        with values_allowed(_most_values(current.attributes)):
            return self._plan(current)

    def _plan(self, current: StoredResource) -> _Planned:
        if self.password is not UNCHANGED and only_password(self.body):
            check_patch_body(self.sent, self.strict)  # the engine's rules for the body hold all the same
            result = PatchResult(current.attributes, MemberChanges(), [])  # it only changed the password
        else:
            result = _apply(self.rtype, current, self.body, self.strict)
        # The whole result must be a valid resource, and keep the required values the resource had; values it
        # did not touch are kept as they are (a PATCH is judged on what it changes).
        parsed = parse_resource(self.rtype, result.document, before=current.attributes, stored=current.attributes)
        _check_size(self.rtype, parsed.document, self.max_bytes)
        return _Planned(current, result, parsed)


def _most_values(document: dict[str, Any]) -> int:
    """The most values one multi-valued attribute of a stored resource holds (its extensions' included)."""
    holders = [
        document,
        *(value for key, value in document.items() if key.startswith("urn:") and isinstance(value, dict)),
    ]
    return max((len(value) for holder in holders for value in holder.values() if isinstance(value, list)), default=0)


def _apply(rtype: ResourceType, current: StoredResource, body: Any, strict: bool) -> PatchResult:
    """apply_patch; in strict mode, a refusal that the IdP tolerance would have accepted says so."""
    document = current.attributes
    try:
        return apply_patch(rtype, document, body, strict=strict, resource_id=current.id)
    except ScimError as error:
        if strict and error.reason is not Reason.STRICT_MODE:
            strict_hint(
                error,
                lambda: parse_resource(
                    rtype,
                    apply_patch(rtype, document, body, strict=False, resource_id=current.id).document,
                    before=document,
                    stored=document,
                ),
            )
        raise


def _related(
    change: Change, target: Target, stored: StoredResource, projection: Projection, created: bool = False
) -> Related | dict[str, Any]:
    """The user as the write's event rendered it (the same version, groups and manager, in the same transaction),
    else what rendering it needs: read once, not once for the event and again for the response."""
    rendered = change.rendered.get(stored.id)
    if rendered is not None and target.rtype.name == USERS.name:
        return rendered
    return related(change.conn, target, change.base_url, [stored], projection, created)


def _change_members(conn: Connection, target: Target, members: MemberChanges) -> membership.Delta:
    """A PATCH's membership edits (a group's), the rows that changed."""
    if not members.any:
        return _NO_DELTA
    delta = membership.change_members(conn, target.directory_id, target.resource_id, members)
    if members.replace_all and not members.add and delta.removed:
        # Security plan D13: {"op": "remove", "path": "members"} without a value empties the group, as the RFC says.
        # Entra's older dialect sends exactly that when it meant one member, so say so.
        logger.warning(
            "PATCH emptied group %s in directory %s: all %d members removed",
            target.resource_id,
            target.directory_id,
            len(delta.removed),
        )
    return delta


def _same_id(target: Target, payload: Any) -> None:
    """A PUT may echo the resource's id (Okta's and Entra's PUTs of what they read), never name another."""
    if not isinstance(payload, dict):
        return
    sent = [value for key, value in payload.items() if key.lower() == "id"]
    if sent and sent[0] is not None and sent[0] != target.resource_id:
        raise Mutability(
            f"id is set by the server; this {target.rtype.name}'s id is {excerpt(target.resource_id, 48)}, not "
            f"{excerpt(sent[0], 48)}."
        )


def _check_size(rtype: ResourceType, document: dict[str, Any], limit: int) -> None:
    size = len(dumps(document))
    if size > limit:
        raise PayloadTooLarge(
            f"After this PATCH the {rtype.name} would be {size:,} bytes, over this server's limit of {limit:,} "
            "(max_body_bytes): nothing was changed. Send fewer or smaller values (custom extensions included)."
        )


def _check_id(target: Target) -> None:
    """An id no resource can have is simply not found (and never reaches the database as an unstorable string)."""
    if len(target.resource_id) > MAX_ID_LENGTH or not storable(target.resource_id):
        raise target.rtype.not_found(target.resource_id)


def _locked(conn: Connection, target: Target) -> StoredResource:
    """The resource a write is about, its row locked until the transaction ends; 404 or 412 otherwise."""
    return _current(conn, target, lock=True)


def _current(conn: Connection, target: Target, *, lock: bool) -> StoredResource:
    """The resource a write is about (its row locked until the transaction ends with ``lock``); 404 or 412."""
    rtype = target.rtype
    current = store.get(conn, rtype.table, target.directory_id, target.resource_id, for_update=lock)
    if current is None:
        raise rtype.not_found(target.resource_id)
    target.preconditions.check(etag(current.version), reading=False)
    return current


def _insert(
    conn: Connection, rtype: ResourceType, directory_id: str, parsed: ParsedResource, now: datetime
) -> StoredResource:
    columns, document = rtype.columns(parsed.document), parsed.document
    try:
        return store.insert(conn, rtype.table, directory_id, new_id(rtype.id_prefix), columns, document, now)
    except IntegrityError:
        raise rtype.clash(document) from None


def _write(
    conn: Connection, target: Target, current: StoredResource, document: dict[str, Any], now: datetime
) -> StoredResource:
    """Store a new version of an existing resource; a key another resource holds is 409 uniqueness."""
    rtype = target.rtype
    if rtype.name == USERS.name and document["userName"] != current.attributes.get("userName"):
        check_user_name(document["userName"])  # a userName stored before the rule existed can still be updated
    try:
        stored = store.replace(
            conn, rtype.table, target.directory_id, current.id, rtype.columns(document), document, now
        )
    except IntegrityError:
        raise rtype.clash(document) from None
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
