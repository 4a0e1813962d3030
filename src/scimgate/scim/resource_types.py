"""The two resource types scimgate serves, and everything that differs between them, as data.

The protocol code (operations, filters, sorting, rendering, change events) is written once for both types; what
differs is declared here: the table a type lives in, the columns that index its attributes (what ``eq`` lookups,
filters, sorting and uniqueness run on), the attribute that must be unique in a directory and what a clash means to
the IdP, and the attribute that comes from the membership table (a group's ``members``, a user's ``groups``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import sqlalchemy as sa

from scimgate.scim.errors import InvalidValue, NotFound, Reason, Uniqueness, excerpt
from scimgate.scim.schema import ENTERPRISE_USER, GROUP, USER, Schema
from scimgate.store.tables import groups, users
from scimgate.text import comparison_key

MAX_INDEXED_BYTES = 2000
"""Longest userName, displayName or externalId (UTF-8): PostgreSQL refuses index rows over 2704 bytes, and the same
limit applies on SQLite so that the backends agree."""


@dataclass(frozen=True)
class Column:
    """An indexed column standing for an attribute in filters and sorting (``userName`` → ``user_name_key``)."""

    column: sa.ColumnElement[Any]
    kind: str  # string, boolean or dateTime
    folded: bool = False  # holds comparison keys (the attribute is not caseExact)


@dataclass(frozen=True)
class Derived:
    """A column the store fills from the stored document, written with every version of the resource."""

    column: str
    attribute: str
    keyed: bool = False
    """Holds the attribute's comparison key (NFKC, case-folded), not its value."""
    limited: bool = True
    """Indexed, so its length is checked (``MAX_INDEXED_BYTES``)."""


@dataclass(frozen=True)
class ResourceType:
    name: str
    endpoint: str
    schema: Schema
    extensions: tuple[Schema, ...]
    id_prefix: str
    description: str
    table: sa.Table
    indexed: Mapping[str, Column]
    """Filter and sort paths (lower case) that a column answers, rather than the stored JSON document."""
    derived: tuple[Derived, ...]
    unique: str
    """The attribute no two resources of a directory may share (compared by comparison key)."""
    conflict: tuple[Reason, str]
    """The provisioning log's reason for a clash on ``unique``, and the advice the 409's detail ends with."""
    membership: Literal["members", "groups"]
    """The attribute drawn from the membership table: a group's members, or the groups a user belongs to."""

    @cached_property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *self.extensions)

    @cached_property
    def extension_ids(self) -> tuple[str, ...]:
        return tuple(ext.id for ext in self.extensions)

    def extension(self, urn: str) -> Schema | None:
        for ext in self.extensions:
            if ext.id.lower() == urn.lower():
                return ext
        return None

    def columns(self, document: dict[str, Any]) -> dict[str, Any]:
        """The derived columns of a document; an indexed value that is too long is a 400."""
        values: dict[str, Any] = {}
        for derived in self.derived:
            value = document.get(derived.attribute)
            if derived.keyed and value is not None:
                value = comparison_key(value)
            if derived.limited and value is not None and len(value.encode()) > MAX_INDEXED_BYTES:
                raise InvalidValue(
                    f"{derived.attribute} is longer than {MAX_INDEXED_BYTES} bytes (UTF-8), the limit of this server."
                )
            values[derived.column] = value
        return values

    def clash(self, document: dict[str, Any]) -> Uniqueness:
        """The 409 of a write whose ``unique`` attribute another resource of the directory has."""
        reason, advice = self.conflict
        return Uniqueness(
            f"A {self.name} with {self.unique} {excerpt(document[self.unique])} already exists in this directory "
            f"({self.unique} is compared case-insensitively). {advice}",
            reason=reason,
        )

    def not_found(self, resource_id: str) -> NotFound:
        return NotFound(
            f"{self.name} {excerpt(resource_id, 48)} not found in this directory.", reason=Reason.RESOURCE_NOT_FOUND
        )

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [{"schema": ext.id, "required": False} for ext in self.extensions],
            "meta": {"resourceType": "ResourceType", "location": location},
        }


_SHARED = (
    Derived("external_id", "externalId"),
    Derived("display_name", "displayName", limited=False),
    Derived("display_name_key", "displayName", keyed=True),
)

USERS = ResourceType(
    name="User",
    endpoint="/Users",
    schema=USER,
    extensions=(ENTERPRISE_USER,),
    id_prefix="usr",
    description="User Account",
    table=users,
    indexed={
        "id": Column(users.c.id, "string"),
        "username": Column(users.c.user_name_key, "string", folded=True),
        "externalid": Column(users.c.external_id, "string"),
        "displayname": Column(users.c.display_name_key, "string", folded=True),
        "active": Column(users.c.active, "boolean"),
        "meta.created": Column(users.c.created, "dateTime"),
        "meta.lastmodified": Column(users.c.last_modified, "dateTime"),
    },
    derived=(
        *_SHARED,
        Derived("user_name", "userName", limited=False),
        Derived("user_name_key", "userName", keyed=True),
        Derived("active", "active", limited=False),
    ),
    unique="userName",
    conflict=(Reason.USER_NAME_TAKEN, "Match the existing user, or change its userName."),
    membership="groups",
)
GROUPS = ResourceType(
    name="Group",
    endpoint="/Groups",
    schema=GROUP,
    extensions=(),
    id_prefix="grp",
    description="Group",
    table=groups,
    indexed={
        "id": Column(groups.c.id, "string"),
        "displayname": Column(groups.c.display_name_key, "string", folded=True),
        "externalid": Column(groups.c.external_id, "string"),
        "meta.created": Column(groups.c.created, "dateTime"),
        "meta.lastmodified": Column(groups.c.last_modified, "dateTime"),
    },
    derived=_SHARED,
    unique="displayName",
    conflict=(Reason.DISPLAY_NAME_TAKEN, "Group names must be unique: Entra matches groups by displayName."),
    membership="members",
)
RESOURCE_TYPES = (USERS, GROUPS)
