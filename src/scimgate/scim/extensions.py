"""Schema extensions beyond the enterprise one: every one kept as sent, declared ones validated, filtered and mapped.

Entra's attribute mapping sends custom attributes under ``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User``
(and does not add that URN to ``schemas``: Microsoft's "Customize application attributes" page); Okta's profile
editor sends them under the "External namespace" its admin typed. Either way the IdP shows success, so dropping them
would lose the value with nobody told.

* **Undeclared** extensions are stored exactly as the IdP sent them (an object under its URN in the document; JSON
  nulls, which RFC 7643 §2.5 makes equal to "unassigned", are left out), returned in every response, carried in the
  events' ``raw`` and kept through PUT and PATCH. They cannot be filtered or sorted on: nothing says what their
  values mean.
* **Declared** extensions (an operator's RFC 7643 §7 schema, for the instance or chosen directories) are advertised
  in ``/Schemas`` and ``/ResourceTypes``, validated by type like the core schema, filtered and sorted on in SQL (an
  attribute declared ``indexed`` gets an index), and carried in the normalised user's ``custom`` under names the
  application chooses. Removing a declaration never deletes stored values.
"""

import dataclasses
import hashlib
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.ids import new_id
from scimgate.scim.resource_types import GROUPS, USERS, ResourceType
from scimgate.scim.schema import ALL_SCHEMAS, Attribute, Schema
from scimgate.store.database import Database
from scimgate.store.sql import fold, instant, json_text
from scimgate.store.tables import schema_extensions

MAX_EXTENSIONS = 20
"""Extension objects one resource may hold, declared or not (the enterprise one included)."""
_TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex")
_MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
_RETURNED = ("always", "never", "default", "request")
_UNIQUENESS = ("none", "server", "global")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z$][A-Za-z0-9_$-]{0,63}")
# RFC 8141's URN characters, less the quote marks and commas a URN never needs here: the URN is written into SQL
# JSON paths of filters and indexes (scimgate.store.sql.json_text), so those must not occur in it.
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+\-.:=@;$_!*%/?#]{1,250}")
_RESERVED = {schema.id.lower() for schema in ALL_SCHEMAS}


class DeclarationError(ValueError):
    """A declaration that is not a usable RFC 7643 §7 schema; the message says what to change."""


@dataclass(frozen=True)
class Declared:
    """One declaration: an extension schema for a resource type, for one directory or (None) for all."""

    id: str
    schema: Schema
    resource_type: str
    directory_id: str | None
    indexed: tuple[str, ...]
    names: Mapping[str, str]
    """Attribute name → the name the application reads it under (the normalised user's ``custom``)."""
    created_at: datetime
    definition: Mapping[str, Any] = field(default_factory=dict)


# --- Reading a declaration --------------------------------------------------------------------------------------


def parse_declaration(document: Any) -> tuple[Schema, str, tuple[str, ...], dict[str, str]]:
    """The schema, its resource type, its indexed attributes and the application's names, from a declaration:
    an RFC 7643 §7 schema object, with an optional ``"scimgate"`` object holding ``resourceType`` ("User" or
    "Group"), ``indexed`` (attribute names) and ``names`` (attribute → application name)."""
    if not isinstance(document, dict):
        raise DeclarationError("A declaration is a JSON object: an RFC 7643 §7 schema with id, name and attributes.")
    schema_id = document.get("id")
    if not isinstance(schema_id, str) or not _URN.fullmatch(schema_id):
        raise DeclarationError(
            "id must be the extension's URN, e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User."
        )
    if schema_id.lower() in _RESERVED:
        raise DeclarationError(f"{schema_id} is built in; declare your own extension's URN.")
    raw_attributes = document.get("attributes")
    if not isinstance(raw_attributes, list) or not raw_attributes:
        raise DeclarationError("attributes must be a non-empty array of RFC 7643 §7 attribute definitions.")
    attributes = tuple(_attribute(raw, f"attributes[{index}]") for index, raw in enumerate(raw_attributes))
    _unique_names(attributes, "attributes")
    name = document.get("name", schema_id.rsplit(":", 1)[-1])
    description = document.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise DeclarationError("name and description must be strings.")
    schema = Schema(schema_id, name, description, attributes)
    options = document.get("scimgate", {})
    if not isinstance(options, dict):
        raise DeclarationError('"scimgate" must be an object: {"resourceType", "indexed", "names"}.')
    return schema, _resource_type(schema_id, options), _indexed(schema, options), _names(schema, options)


def _attribute(raw: Any, where: str, depth: int = 0) -> Attribute:
    if not isinstance(raw, dict):
        raise DeclarationError(f"{where} must be an object with at least name and type.")
    name, kind = raw.get("name"), raw.get("type", "string")
    if not isinstance(name, str) or not _ATTRIBUTE_NAME.fullmatch(name):
        raise DeclarationError(f"{where}.name must be an attribute name (letters, digits, _ - $), not {name!r}.")
    if kind not in _TYPES:
        raise DeclarationError(f"{where} ({name}): type must be one of {', '.join(_TYPES)}, not {kind!r}.")
    subs: tuple[Attribute, ...] = ()
    if kind == "complex":
        raw_subs = raw.get("subAttributes")
        if depth > 0 or not isinstance(raw_subs, list) or not raw_subs:
            raise DeclarationError(
                f"{where} ({name}): a complex attribute needs subAttributes, which are not complex themselves."
            )
        subs = tuple(_attribute(sub, f"{where}.subAttributes[{i}]", depth + 1) for i, sub in enumerate(raw_subs))
        _unique_names(subs, f"{where}.subAttributes")
    canonical = raw.get("canonicalValues", [])
    references = raw.get("referenceTypes", [])
    if not _strings(canonical) or not _strings(references):
        raise DeclarationError(f"{where} ({name}): canonicalValues and referenceTypes must be arrays of strings.")
    return Attribute(
        name=name,
        type=kind,
        multi_valued=_flag(raw, "multiValued", where),
        required=_flag(raw, "required", where),
        case_exact=_flag(raw, "caseExact", where),
        mutability=_choice(raw, "mutability", _MUTABILITY, "readWrite", where),
        returned=_choice(raw, "returned", _RETURNED, "default", where),
        uniqueness=_choice(raw, "uniqueness", _UNIQUENESS, "none", where),
        description=str(raw.get("description", "")),
        sub_attributes=subs,
        canonical_values=tuple(canonical),
        reference_types=tuple(references),
    )


def _flag(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise DeclarationError(f"{where}.{key} must be true or false.")
    return value


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, where: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise DeclarationError(f"{where}.{key} must be one of {', '.join(allowed)}, not {value!r}.")
    return str(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _unique_names(attributes: Iterable[Attribute], where: str) -> None:
    seen: set[str] = set()
    for attr in attributes:
        if attr.name.lower() in seen:
            raise DeclarationError(f"{where}: {attr.name} is declared twice (names are case-insensitive).")
        seen.add(attr.name.lower())


def _resource_type(schema_id: str, options: dict[str, Any]) -> str:
    given = options.get("resourceType")
    if given is None:
        # The URN convention (RFC 7643 §3.3): …:2.0:User, …:2.0:Group.
        return GROUPS.name if schema_id.lower().endswith(":group") else USERS.name
    if given not in (USERS.name, GROUPS.name):
        raise DeclarationError('scimgate.resourceType must be "User" or "Group".')
    return str(given)


def _indexed(schema: Schema, options: dict[str, Any]) -> tuple[str, ...]:
    names = options.get("indexed", [])
    if not _strings(names):
        raise DeclarationError("scimgate.indexed must be an array of attribute names.")
    indexed = []
    for name in names:
        attr = schema.attribute(name)
        if attr is None or attr.multi_valued or attr.type not in ("string", "reference", "binary", "dateTime"):
            raise DeclarationError(
                f"scimgate.indexed: {name!r} is not a singular string or dateTime attribute of this schema (what an "
                "index serves)."
            )
        indexed.append(attr.name)
    return tuple(indexed)


def _names(schema: Schema, options: dict[str, Any]) -> dict[str, str]:
    given = options.get("names", {})
    if not isinstance(given, dict) or not all(isinstance(v, str) and v for v in given.values()):
        raise DeclarationError("scimgate.names must map attribute names to the application's names (strings).")
    names = {attr.name: attr.name for attr in schema.attributes}
    for key, value in given.items():
        attr = schema.attribute(key)
        if attr is None:
            raise DeclarationError(f"scimgate.names: {key!r} is not an attribute of this schema.")
        names[attr.name] = value
    if len(set(names.values())) != len(names):
        raise DeclarationError("scimgate.names: two attributes would have the same application name.")
    return names


# --- Storing declarations ----------------------------------------------------------------------------------------


def declare(conn: Connection, definition: Any, directory_ids: Iterable[str | None] = (None,)) -> list[Declared]:
    """Declare an extension for the instance (None) or for each of ``directory_ids``; a declaration of the same
    URN for the same scope is replaced. Indexes for its ``indexed`` attributes are created in this transaction."""
    schema, resource_type, indexed, _names_ = parse_declaration(definition)
    now = datetime.now(UTC)
    made = []
    for directory_id in directory_ids:
        remove(conn, schema.id, directory_id)
        row = {
            "id": new_id("sch"),
            "schema_id": schema.id,
            "resource_type": resource_type,
            "directory_id": directory_id,
            "definition": definition,
            "created_at": now,
        }
        conn.execute(schema_extensions.insert(), [row])
        made.append(_declared(row))
    rtype = USERS if resource_type == USERS.name else GROUPS
    for name in indexed:
        attr = schema.attribute(name)
        assert attr is not None
        _create_index(conn, rtype, schema, attr)
    if indexed:
        # Statistics for the new index, so that the planner uses it at once (then every five minutes on SQLite:
        # Database.optimize; PostgreSQL's autovacuum).
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql(f"ANALYZE {rtype.table.name}")
    return made


def remove(conn: Connection, schema_id: str, directory_id: str | None = None) -> int:
    """Remove a declaration (of the instance, or of one directory). Stored values stay, now undeclared."""
    scope = (
        schema_extensions.c.directory_id.is_(None)
        if directory_id is None
        else schema_extensions.c.directory_id == directory_id
    )
    where = sa.and_(sa.func.lower(schema_extensions.c.schema_id) == schema_id.lower(), scope)
    return int(conn.execute(schema_extensions.delete().where(where)).rowcount)


def declarations(conn: Connection, directory_id: str | None = None) -> list[Declared]:
    """Every declaration (``directory_id`` None), or those that apply to one directory."""
    query = sa.select(schema_extensions).order_by(schema_extensions.c.schema_id, schema_extensions.c.directory_id)
    if directory_id is not None:
        query = query.where(
            sa.or_(schema_extensions.c.directory_id.is_(None), schema_extensions.c.directory_id == directory_id)
        )
    return [_declared(dict(row._mapping)) for row in conn.execute(query)]


def _declared(row: Mapping[str, Any]) -> Declared:
    schema, resource_type, indexed, names = parse_declaration(row["definition"])
    return Declared(
        row["id"], schema, resource_type, row["directory_id"], indexed, names, row["created_at"], row["definition"]
    )


def _create_index(conn: Connection, rtype: ResourceType, schema: Schema, attr: Attribute) -> None:
    """An index on (directory_id, the attribute's value as filters compare it), so an ``eq`` lookup is a seek (and,
    for a dateTime, a range ``gt``/``lt`` too): the folded or exact text, or a dateTime's instant."""
    table = rtype.table
    value = json_text(table.c.attributes, (schema.id, attr.name))
    expression: sa.ColumnElement[Any]
    named = f"{schema.id}\n{attr.name}\n{attr.case_exact}"
    if attr.type == "dateTime":
        expression = instant(value)
        named += "\ndateTime"  # not the name of the text index an earlier declaration as a string made
    else:
        expression = value if attr.case_exact else fold(value)
    digest = hashlib.sha256(named.encode()).hexdigest()[:16]
    index = sa.Index(f"ix_{table.name}_ext_{digest}", table.c.directory_id, expression)
    # An index built from the table's columns joins the table's metadata; it is created here, at run time, not
    # by the migrations, so it must not stay there (the migrations are checked against that metadata).
    table.indexes.discard(index)
    conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))


# --- Per directory ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """What one directory's resources are made of: Users and Groups with the extensions declared for it."""

    users: ResourceType = USERS
    groups: ResourceType = GROUPS
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Declared schema URN → (attribute name → application name)."""

    def of(self, rtype: ResourceType) -> ResourceType:
        return self.users if rtype.name == USERS.name else self.groups


PLAIN = Catalog()


def catalog_of(found: Iterable[Declared]) -> Catalog:
    """The catalog of one directory from the declarations that apply to it (its own win over the instance's)."""
    chosen: dict[tuple[str, str], Declared] = {}
    for declared in sorted(found, key=lambda d: d.directory_id is not None):
        chosen[(declared.resource_type, declared.schema.id.lower())] = declared
    if not chosen:
        return PLAIN
    user_schemas = tuple(d.schema for (kind, _), d in sorted(chosen.items()) if kind == USERS.name)
    group_schemas = tuple(d.schema for (kind, _), d in sorted(chosen.items()) if kind == GROUPS.name)
    return Catalog(
        users=dataclasses.replace(USERS, extensions=(*USERS.extensions, *user_schemas)),
        groups=dataclasses.replace(GROUPS, extensions=(*GROUPS.extensions, *group_schemas)),
        names={d.schema.id: d.names for d in chosen.values()},
    )


class Registry:
    """Each directory's catalog, remembered for ``seconds``: every SCIM request needs it, declarations rarely change.

    A change made in this process is seen at once (``forget``); another worker sees it within ``seconds``, as
    with token checks (docs/decisions.md).
    """

    def __init__(self, db: Database, seconds: float = 2.0) -> None:
        self.db = db
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Catalog]] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def cached(self, directory_id: str) -> Catalog | None:
        """The directory's catalog if this worker read it in the last ``seconds`` (no database read)."""
        entry = self._entries.get(directory_id)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def catalog(self, directory_id: str, conn: Connection | None = None) -> Catalog:
        """The directory's catalog, read (in ``conn``'s transaction when given) unless remembered."""
        found = self.cached(directory_id)
        if found is not None:
            return found
        generation = self.generation
        if conn is not None:
            found = catalog_of(declarations(conn, directory_id))
        else:
            with self.db.read() as reading:
                found = catalog_of(declarations(reading, directory_id))
        with self._lock:
            if generation == self.generation:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[directory_id] = (time.monotonic() + self.seconds, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()
