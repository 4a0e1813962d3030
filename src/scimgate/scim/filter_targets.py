"""What an attribute path in a filter refers to, in SQL, for one resource type.

A path resolves against the schema to one of:

* ``Scalar``: one value per resource — an indexed column (``userName`` → ``user_name_key``) or a value inside the
  stored JSON document (``title``, ``name.familyName``, ``urn:…:enterprise:2.0:User:department``, ``…:manager.value``);
* ``Elements``: the values of a multi-valued attribute, tested with EXISTS — a JSON array in the document
  (``emails``, ``addresses``, ``roles``…), or the membership table (``Group.members``, ``User.groups``);
* ``Constant``: a value every resource of the type shares (``meta.resourceType``).

Anything else is a 400 ``invalidFilter``: unknown names, ``password`` (never stored, never filterable), and values
the server computes on output rather than stores (``manager.displayName``, ``$ref``, ``meta.location``).
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scimgate.scim.errors import InvalidFilter, excerpt
from scimgate.scim.grammar import AttrPath
from scimgate.scim.resource_types import Column, ResourceType
from scimgate.scim.schema import Attribute, Schema
from scimgate.store.sql import Clause, instant, json_text
from scimgate.store.tables import group_members, groups, users


@dataclass(frozen=True)
class Scalar:
    expression: sa.ColumnElement[Any]
    kind: str  # string, boolean, dateTime, binary, integer, decimal
    folded: bool  # compare through comparison_key (caseExact false)
    keyed: bool = False  # the column already holds comparison keys
    stored: sa.ColumnElement[Any] | None = None
    """The value as stored, when ``expression`` is computed from it (a dateTime's instant): what ``pr`` tests, since
    a value that names no instant (kept while the extension was undeclared) is still a value."""


@dataclass(frozen=True)
class Constant:
    value: str


class Elements:
    """The values of a multi-valued attribute; a condition on one of them becomes an EXISTS."""

    def field(self, name: str) -> Scalar:
        raise NotImplementedError

    def exists(self, condition: Clause | None) -> Clause:
        raise NotImplementedError


Target = Scalar | Constant | Elements


def indexed_scalar(column: Column) -> Scalar:
    """An indexed column as a filter operand (a folded column already holds comparison keys)."""
    return Scalar(column.column, column.kind, column.folded, keyed=column.folded)


# Sub-attributes the server computes when it renders a resource: they are not stored, so they cannot be filtered.
COMPUTED = {("manager", "displayname"), ("manager", "$ref")}


def resolve(rtype: ResourceType, path: AttrPath, dialect: str) -> Target:
    schema = _schema(rtype, path)
    attr_name, sub_name = path.attr, path.sub_attr
    key = attr_name.lower() + (f".{sub_name.lower()}" if sub_name else "")
    if schema is rtype.schema and key in rtype.indexed:
        return indexed_scalar(rtype.indexed[key])
    if schema is rtype.schema and attr_name.lower() == "meta":
        if sub_name and sub_name.lower() == "resourcetype":
            return Constant(rtype.name)
        raise _not_filterable(rtype, path)
    if schema is rtype.schema and attr_name.lower() == rtype.membership:
        links = _Members() if rtype.membership == "members" else _UserGroups()
        return links if sub_name is None else Field(links, sub_name)
    attr = schema.attribute(attr_name)
    if attr is None:
        raise _unknown(rtype, path)
    if attr.multi_valued:
        holder = () if schema is rtype.schema else (schema.id,)
        elements = _JsonArray(rtype.table, holder, attr, dialect)
        return elements if sub_name is None else Field(elements, sub_name)
    sub = attr.sub(sub_name) if sub_name else None
    if sub_name and sub is None:
        raise _unknown(rtype, path)
    if sub is not None and (attr.name.lower(), sub.name.lower()) in COMPUTED:
        raise _not_filterable(rtype, path)
    leaf = sub or attr
    json_path = (attr.name,) + ((sub.name,) if sub else ())
    if schema is not rtype.schema:
        json_path = (schema.id, *json_path)
    return _json_scalar(rtype.table.c.attributes, json_path, leaf)


def is_known(rtype: ResourceType, path: AttrPath) -> bool:
    """Whether this type has the attribute at all (used by searches across types, where others are false)."""
    try:
        schema = _schema(rtype, path)
    except InvalidFilter:
        return False
    name = path.attr.lower()
    return name in ("id", "externalid", "meta") or schema.attribute(path.attr) is not None


def _schema(rtype: ResourceType, path: AttrPath) -> Schema:
    if path.uri is None or path.uri.lower() == rtype.schema.id.lower():
        return rtype.schema
    extension = rtype.extension(path.uri)
    if extension is None:
        raise InvalidFilter(
            f"{excerpt(path.uri)} is not a declared extension of {rtype.name}: its values are kept as sent, but "
            "nothing says how to compare them. Declare its schema (scimgate schema add FILE.json, or POST "
            "/api/v1/schemas; docs/custom-attributes.md) to filter and sort on it."
        )
    return extension


def _json_scalar(document: sa.ColumnElement[Any], json_path: tuple[str, ...], attr: Attribute) -> Scalar:
    if attr.type == "dateTime":
        # Compared as the instant it names (scimgate.instants), the path written into the SQL so that an index on
        # an indexed dateTime (scimgate.scim.extensions) is the same expression.
        return _date_time(json_text(document, json_path))
    value = document[json_path]
    if attr.type == "boolean":
        return Scalar(value.as_boolean(), "boolean", folded=False)
    if attr.type in ("integer", "decimal"):
        return Scalar(value.as_float(), attr.type, folded=False)
    if len(json_path) == 2 and json_path[0].startswith("urn:") and attr.type != "complex":
        # An extension's attribute: the path written into the SQL, so that an index declared on it
        # (scimgate.scim.extensions) is the same expression and the planner uses it.
        text = json_text(document, json_path)
        return Scalar(text, attr.type, folded=not attr.case_exact)
    # A complex value is only ever tested with "pr"; comparing it is refused in filters._operand.
    return Scalar(value.as_string(), attr.type, folded=not attr.case_exact and attr.type != "complex")


@dataclass(frozen=True)
class Field(Elements):
    """``emails.value``: a sub-attribute of a multi-valued attribute (true when any value matches)."""

    elements: Elements
    name: str

    def field(self, name: str) -> Scalar:
        raise InvalidFilter(f"{self.name}.{name} goes too deep: SCIM paths have at most one sub-attribute.")

    def exists(self, condition: Clause | None) -> Clause:
        return self.elements.exists(condition)

    def scalar(self) -> Scalar:
        return self.elements.field(self.name)


class _JsonArray(Elements):
    """A multi-valued attribute kept in the JSON document, iterated with json_each / jsonb_array_elements."""

    def __init__(self, table: sa.Table, holder: tuple[str, ...], attr: Attribute, dialect: str) -> None:
        """``holder``: where the array is, () for a core attribute, (the URN,) for an extension's."""
        self.attr = attr
        self.dialect = dialect
        path = (*holder, attr.name)
        if dialect == "sqlite":
            source = sa.func.json_each(table.c.attributes, sa.literal("$." + ".".join(f'"{p}"' for p in path)))
        else:
            source = sa.func.jsonb_array_elements(table.c.attributes[path if holder else attr.name])
        self.rows = source.table_valued(sa.column("value", sa.JSON)).alias(f"e_{len(holder)}_{attr.name}")

    def field(self, name: str) -> Scalar:
        if self.attr.type != "complex" and name.lower() == "value":
            # A multi-valued simple attribute (a declared extension's "tags": ["a", "b"]): the element itself.
            return _element_scalar(self.rows.c.value, self.attr, self.dialect)
        sub = self.attr.sub(name)
        if sub is None:
            raise InvalidFilter(f"{self.attr.name} has no sub-attribute {excerpt(name)}.")
        value = self.rows.c.value[sub.name]
        if sub.type == "boolean":
            return Scalar(value.as_boolean(), "boolean", folded=False)
        if sub.type == "dateTime":
            return _date_time(value.as_string())
        return Scalar(value.as_string(), sub.type, folded=not sub.case_exact)

    def exists(self, condition: Clause | None) -> Clause:
        query = sa.select(sa.literal(1)).select_from(self.rows)
        return sa.exists(query.where(condition) if condition is not None else query)


def _element_scalar(element: sa.ColumnElement[Any], attr: Attribute, dialect: str) -> Scalar:
    """An array element that is a plain JSON value (not an object), read as the attribute's type. SQLite's
    json_each gives the SQL value itself; PostgreSQL's jsonb element is unwrapped with ``#>> '{}'``."""
    text: sa.ColumnElement[Any] = (
        sa.type_coerce(element, sa.Text) if dialect == "sqlite" else element.op("#>>")(sa.literal_column("'{}'"))
    )
    if attr.type == "boolean":
        boolean: sa.ColumnElement[Any] = (
            sa.type_coerce(element, sa.Boolean) if dialect == "sqlite" else sa.cast(text, sa.Boolean)
        )
        return Scalar(boolean, "boolean", folded=False)
    if attr.type in ("integer", "decimal"):
        return Scalar(sa.cast(text, sa.Float), attr.type, folded=False)
    if attr.type == "dateTime":
        return _date_time(text)
    return Scalar(sa.type_coerce(text, sa.Text), attr.type, folded=not attr.case_exact)


def _date_time(text: sa.ColumnElement[Any]) -> Scalar:
    """A dateTime held as the IdP sent it: compared as the UTC instant it names, at millisecond precision."""
    return Scalar(instant(text), "dateTime", folded=False, stored=text)


class _Members(Elements):
    """``Group.members``: rows of the membership table."""

    _type = sa.case((group_members.c.user_id.is_not(None), "User"), else_="Group")

    def field(self, name: str) -> Scalar:
        if name.lower() == "value":
            return Scalar(group_members.c.member_id, "string", folded=False)
        if name.lower() == "type":
            return Scalar(self._type, "string", folded=True)
        raise InvalidFilter(f"members.{excerpt(name)} is not filterable; filter on members.value or members.type.")

    def exists(self, condition: Clause | None) -> Clause:
        query = sa.select(group_members.c.member_id).where(
            group_members.c.directory_id == groups.c.directory_id, group_members.c.group_id == groups.c.id
        )
        return sa.exists(query.where(condition) if condition is not None else query)


class _UserGroups(Elements):
    """``User.groups``: the groups a user is a direct member of, from the membership table."""

    _group = groups.alias("member_of")

    def field(self, name: str) -> Scalar:
        if name.lower() == "value":
            return Scalar(self._group.c.id, "string", folded=False)
        if name.lower() == "display":
            return Scalar(self._group.c.display_name_key, "string", folded=True, keyed=True)
        if name.lower() == "type":
            return Scalar(sa.literal("direct"), "string", folded=True)
        raise InvalidFilter(f"groups.{excerpt(name)} is not filterable; filter on groups.value or groups.display.")

    def exists(self, condition: Clause | None) -> Clause:
        query = (
            sa.select(group_members.c.group_id)
            .select_from(
                group_members.join(
                    self._group,
                    sa.and_(
                        self._group.c.directory_id == group_members.c.directory_id,
                        self._group.c.id == group_members.c.group_id,
                    ),
                )
            )
            .where(group_members.c.directory_id == users.c.directory_id, group_members.c.member_id == users.c.id)
        )
        return sa.exists(query.where(condition) if condition is not None else query)


def _unknown(rtype: ResourceType, path: AttrPath) -> InvalidFilter:
    return InvalidFilter(
        f"{excerpt(str(path))} is not an attribute of {rtype.name}; see /Schemas for the attributes this server has."
    )


def _not_filterable(rtype: ResourceType, path: AttrPath) -> InvalidFilter:
    return InvalidFilter(f"{excerpt(str(path))} is computed by the server and cannot be filtered on.")
