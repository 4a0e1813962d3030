"""SCIM filters (RFC 7644 §3.4.2.2) compiled to SQL: nothing is evaluated by loading resources into Python.

The string is parsed by scim2-models (its grammar covers the whole RFC, with attribute names and operators in any
case). The tree is then compiled against our schema to a SQLAlchemy clause on the resource's table. An attribute
the schema does not know is a 400 ``invalidFilter``, never dropped: dropping a predicate would widen the result.

Which attributes are filterable is decided by ``FILTERABLE`` below: each maps to an indexed column.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from scim2_models import SCIMException as _LibraryScimError
from scim2_models import ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from scimgate.scim.compare import comparison_key, storable
from scimgate.scim.errors import InvalidFilter, excerpt
from scimgate.scim.resource_types import GROUPS, ResourceType
from scimgate.store.tables import group_members, groups, users

MAX_FILTER_LENGTH = 4096
_COMMON = {"id", "externalid", "meta"}
Clause = sa.ColumnElement[bool]


@dataclass(frozen=True)
class Column:
    """How one filterable attribute maps to SQL."""

    column: sa.ColumnElement[Any]
    kind: str  # "string", "boolean" or "dateTime"
    folded: bool = False  # compared through comparison_key (caseExact: false)


FILTERABLE: dict[str, dict[str, Column]] = {
    "User": {
        "id": Column(users.c.id, "string"),
        "username": Column(users.c.user_name_key, "string", folded=True),
        "externalid": Column(users.c.external_id, "string"),
        "displayname": Column(users.c.display_name_key, "string", folded=True),
        "active": Column(users.c.active, "boolean"),
        "meta.created": Column(users.c.created, "dateTime"),
        "meta.lastmodified": Column(users.c.last_modified, "dateTime"),
    },
    "Group": {
        "id": Column(groups.c.id, "string"),
        "displayname": Column(groups.c.display_name_key, "string", folded=True),
        "externalid": Column(groups.c.external_id, "string"),
        "meta.created": Column(groups.c.created, "dateTime"),
        "meta.lastmodified": Column(groups.c.last_modified, "dateTime"),
    },
}


def compile_filter(rtype: ResourceType, text: str) -> Clause:
    return _Compiler(rtype).visit(_parse(text))


def compile_filter_across(rtypes: tuple[ResourceType, ...], text: str) -> dict[str, Clause]:
    """One clause per resource type, for a search at the server root (RFC 7644 §3.4.2.1, §3.4.3).

    An attribute one type does not have makes its comparison false for that type; an attribute no type has is
    still a 400, since it would select nothing anywhere and is almost certainly a mistake.
    """
    tree = _parse(text)
    compilers = [_Compiler(rtype, unknown_is_false=True) for rtype in rtypes]
    clauses = {compiler.rtype.name: compiler.visit(tree) for compiler in compilers}
    unknown_everywhere = set.intersection(*(compiler.unknown for compiler in compilers))
    if unknown_everywhere:
        names = ", ".join(sorted(excerpt(name) for name in unknown_everywhere))
        raise InvalidFilter(f"No resource type has the attribute(s) {names}.")
    return clauses


def _parse(text: str) -> FilterNode:
    if not text.strip():
        raise InvalidFilter('The filter is empty. Send a filter such as userName eq "alice@example.com", or none.')
    if not storable(text):
        raise InvalidFilter("The filter contains a NUL character or an unpaired surrogate.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}.")
    try:
        tree = ScimFilter(text).ast
    except (_LibraryScimError, ValueError, RecursionError) as error:
        raise InvalidFilter(f"The filter {excerpt(text)} is not valid SCIM filter syntax: {error}.") from None
    return tree


class _Compiler(FilterVisitor[Clause]):
    def __init__(self, rtype: ResourceType, unknown_is_false: bool = False) -> None:
        self.rtype = rtype
        self.columns = FILTERABLE[rtype.name]
        self.unknown_is_false = unknown_is_false
        self.unknown: set[str] = set()

    def visit(self, node: FilterNode) -> Clause:
        path = getattr(node, "attr_path", None)
        if self.unknown_is_false and path is not None and not self._is_known(path):
            self.unknown.add(str(path))
            return sa.false()
        return super().visit(node)

    def _is_known(self, path: AttrPath) -> bool:
        """Whether this resource type has the attribute at all (filterable or not)."""
        if path.uri is not None:
            if path.uri.lower() == self.rtype.schema.id.lower():
                return self.rtype.schema.attribute(path.attr) is not None
            extension = self.rtype.extension(path.uri)
            return extension is not None and extension.attribute(path.attr) is not None
        return path.attr.lower() in _COMMON or self.rtype.schema.attribute(path.attr) is not None

    def visit_logical_expr(self, node: LogicalExpr) -> Clause:
        terms = [self.visit(term) for term in node.terms]
        return sa.and_(*terms) if node.op == LogicalOperator.and_ else sa.or_(*terms)

    def visit_not(self, node: Not) -> Clause:
        return sa.not_(self.visit(node.expr))

    def visit_present(self, node: Present) -> Clause:
        if self._is_members(node.attr_path):
            return _members_exist(None)
        column = self._column(node.attr_path)
        present = column.column.is_not(None)
        return sa.and_(present, column.column != "") if column.kind == "string" else present

    def visit_comparison(self, node: Comparison) -> Clause:
        if self._is_members(node.attr_path):
            return _members_exist(_member_value(node.op, node.value, str(node.attr_path)))
        return _compare(self._column(node.attr_path), node.op, node.value, str(node.attr_path))

    def visit_value_path(self, node: ValuePath) -> Clause:
        if self.rtype is GROUPS and node.attr_path.attr.lower() == "members" and node.attr_path.sub_attr is None:
            return _members_exist(_MemberCompiler().visit(node.val_filter))
        raise InvalidFilter(f"Filtering inside {node.attr_path}[…] is not supported; supported: members[value eq …].")

    def _is_members(self, path: AttrPath) -> bool:
        return (
            self.rtype is GROUPS
            and path.attr.lower() == "members"
            and (path.sub_attr is None or path.sub_attr.lower() == "value")
            and (path.uri is None or path.uri.lower() == self.rtype.schema.id.lower())
        )

    def _column(self, path: AttrPath) -> Column:
        if path.uri is not None and path.uri.lower() != self.rtype.schema.id.lower():
            raise InvalidFilter(f"{path} is not a filterable {self.rtype.name} attribute. {self._supported()}")
        name = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
        column = self.columns.get(name)
        if column is None:
            raise InvalidFilter(
                f"{excerpt(str(path))} is not a filterable {self.rtype.name} attribute. {self._supported()}"
            )
        return column

    def _supported(self) -> str:
        names = {
            "User": "id, userName, externalId, displayName, active, meta.created, meta.lastModified",
            "Group": "id, displayName, externalId, members, meta.created, meta.lastModified",
        }
        return f"Filterable attributes: {names[self.rtype.name]}."


class _MemberCompiler(FilterVisitor[Clause]):
    """The filter inside ``members[…]``: only the member's ``value`` can be compared."""

    def visit_logical_expr(self, node: LogicalExpr) -> Clause:
        terms = [self.visit(term) for term in node.terms]
        return sa.and_(*terms) if node.op == LogicalOperator.and_ else sa.or_(*terms)

    def visit_not(self, node: Not) -> Clause:
        return sa.not_(self.visit(node.expr))

    def visit_comparison(self, node: Comparison) -> Clause:
        if node.attr_path.attr.lower() != "value" or node.attr_path.sub_attr or node.attr_path.uri:
            raise InvalidFilter(f"Inside members[…] only value can be compared, not {excerpt(str(node.attr_path))}.")
        return _member_value(node.op, node.value, "members.value")

    def visit_present(self, node: Present) -> Clause:
        raise InvalidFilter('Inside members[…] only value comparisons such as value eq "<id>" are supported.')

    def visit_value_path(self, node: ValuePath) -> Clause:
        raise InvalidFilter("A value path cannot be nested inside members[…].")


def _members_exist(condition: Clause | None) -> Clause:
    query = sa.select(group_members.c.member_id).where(
        group_members.c.directory_id == groups.c.directory_id, group_members.c.group_id == groups.c.id
    )
    if condition is not None:
        query = query.where(condition)
    return sa.exists(query)


def _member_value(op: CompareOperator, value: Any, path: str) -> Clause:
    if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, str) or not storable(value):
        raise InvalidFilter(f"{path} can only be compared with eq or ne and a quoted id.")
    return group_members.c.member_id == value if op == CompareOperator.eq else group_members.c.member_id != value


def _compare(column: Column, op: CompareOperator, value: Any, path: str) -> Clause:
    col = column.column
    if value is None:
        if op == CompareOperator.eq:
            return col.is_(None)
        if op == CompareOperator.ne:
            return col.is_not(None)
        raise InvalidFilter(f"{path} can only be compared with null using eq or ne.")
    operand = _operand(column, op, value, path)
    if op in _LIKE:
        pattern = _LIKE[op](_escape_like(operand))
        clause: Clause = col.like(pattern, escape="\\")
    else:
        clause = _ORDERING[op](col, operand)
    # NULL-safe, so that "not (displayName eq "x")" includes resources that have no displayName.
    return sa.and_(col.is_not(None), clause)


def _operand(column: Column, op: CompareOperator, value: Any, path: str) -> Any:
    if column.kind == "boolean":
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{path} is a boolean: compare it with eq or ne and true or false.")
        return value
    if not isinstance(value, str):
        raise InvalidFilter(f"{path} is a {column.kind}: compare it with a quoted string, not {excerpt(value)}.")
    if not storable(value):
        raise InvalidFilter(f"The value compared with {path} contains a NUL character or an unpaired surrogate.")
    if column.kind == "dateTime":
        if op in _LIKE:
            raise InvalidFilter(f"{path} is a dateTime: use eq, ne, gt, ge, lt or le.")
        try:
            parsed = datetime.fromisoformat(value)
            # Timestamps are stored in UTC; a time without an offset is read as UTC.
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError):  # OverflowError: "0001-01-01T00:00:00+01:00" has no UTC time
            raise InvalidFilter(f'{path} must be compared with a dateTime such as "2026-01-31T12:00:00Z".') from None
    return comparison_key(value) if column.folded else value


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_LIKE: dict[CompareOperator, Callable[[str], str]] = {
    CompareOperator.co: lambda v: f"%{v}%",
    CompareOperator.sw: lambda v: f"{v}%",
    CompareOperator.ew: lambda v: f"%{v}",
}
_ORDERING: dict[CompareOperator, Callable[[Any, Any], Clause]] = {
    CompareOperator.eq: lambda c, v: c == v,
    CompareOperator.ne: lambda c, v: c != v,
    CompareOperator.gt: lambda c, v: c > v,
    CompareOperator.ge: lambda c, v: c >= v,
    CompareOperator.lt: lambda c, v: c < v,
    CompareOperator.le: lambda c, v: c <= v,
}
