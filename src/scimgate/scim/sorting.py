"""``sortBy`` / ``sortOrder`` (RFC 7644 §3.4.2.3), compiled to an ORDER BY that the database runs.

Any singular attribute can be sorted on: core, sub-attribute (``name.familyName``) or extension
(``urn:…:enterprise:2.0:User:department``). Case-insensitive strings sort by their comparison key, case-exact ones by
code point; dateTimes by the instant they name, whatever their offset; resources without a value come last in
ascending order and first in descending order. Ties are broken by ``id``, so pages of a sorted list are stable.
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scimgate.scim.errors import InvalidValue, excerpt
from scimgate.scim.filter_targets import COMPUTED
from scimgate.scim.resource_types import ResourceType
from scimgate.scim.schema import Attribute
from scimgate.store.sql import codepoint_order, fold, instant, json_text

_ORDERS = {"ascending": True, "descending": False}


@dataclass(frozen=True)
class SortKey:
    expression: sa.ColumnElement[Any]
    ascending: bool
    kind: str  # string, boolean, number or dateTime: how a cursor carries the value
    request: str  # the sortBy and sortOrder as asked, which a cursor is bound to


def parse_sort(rtype: ResourceType, sort_by: str | None, sort_order: str | None) -> SortKey | None:
    if sort_order is not None and sort_order.lower() not in _ORDERS:
        raise InvalidValue(f"sortOrder must be ascending or descending, not {excerpt(sort_order)}.")
    if not sort_by:
        return None
    ascending = _ORDERS[sort_order.lower()] if sort_order else True
    expression, kind = _expression(rtype, sort_by)
    return SortKey(expression, ascending, kind, f"{sort_by.lower()} {'asc' if ascending else 'desc'}")


def order_by(
    table: sa.Table, key: SortKey | None, reverse: bool = False
) -> list[sa.UnaryExpression[Any] | sa.ColumnElement[Any]]:
    """The listing's order; ``reverse``: exactly backwards (a cursor's previous page is read so, then flipped)."""
    ascending = key is None or key.ascending
    if reverse:
        ascending = not ascending
    tie: sa.ColumnElement[Any] = table.c.id.desc() if reverse else table.c.id
    if key is None:
        return [tie]
    expression = key.expression
    ordered = expression.asc().nulls_last() if ascending else expression.desc().nulls_first()
    return [ordered, tie]


def _expression(rtype: ResourceType, sort_by: str) -> tuple[sa.ColumnElement[Any], str]:
    schema_id, path = _split(rtype, sort_by)
    indexed = rtype.indexed.get(path.lower()) if schema_id == rtype.schema.id else None
    if indexed is not None:
        if indexed.kind == "string":
            return codepoint_order(indexed.column), "string"
        return indexed.column, indexed.kind
    attr, json_path = _resolve(rtype, schema_id, path, sort_by)
    if attr.type == "dateTime":
        # By the instant it names (scimgate.instants), as filters compare it; values that name none come last.
        return instant(json_text(rtype.table.c.attributes, json_path)), "dateTime"
    value = rtype.table.c.attributes[json_path]
    if attr.type == "boolean":
        boolean: sa.ColumnElement[Any] = value.as_boolean()
        return boolean, "boolean"
    if attr.type in ("integer", "decimal"):
        number: sa.ColumnElement[Any] = value.as_float()
        return number, "number"
    text = value.as_string()
    return codepoint_order(text if attr.case_exact else fold(text)), "string"


def _split(rtype: ResourceType, sort_by: str) -> tuple[str, str]:
    for schema in rtype.schemas:
        if sort_by.lower().startswith(schema.id.lower() + ":"):
            return schema.id, sort_by[len(schema.id) + 1 :]
    return rtype.schema.id, sort_by


def _resolve(rtype: ResourceType, schema_id: str, path: str, sort_by: str) -> tuple[Attribute, tuple[str, ...]]:
    schema = next(s for s in rtype.schemas if s.id == schema_id)
    names = path.split(".")
    attr = schema.attribute(names[0]) if len(names) <= 2 else None
    sub = attr.sub(names[1]) if attr is not None and len(names) == 2 else attr
    if attr is None or sub is None or sub.type == "complex" or attr.returned == "never":
        raise InvalidValue(f"sortBy {excerpt(sort_by)} is not a sortable {rtype.name} attribute.")
    if sub is not attr and (attr.name.lower(), sub.name.lower()) in COMPUTED:
        raise InvalidValue(f"sortBy {excerpt(sort_by)}: the server computes this value when rendering; not sortable.")
    if attr.multi_valued:
        raise InvalidValue(f"sortBy {excerpt(sort_by)}: only singular attributes can be sorted on.")
    json_path = (attr.name,) if sub is attr else (attr.name, sub.name)
    return sub, json_path if schema_id == rtype.schema.id else (schema_id, *json_path)
