"""Value filters inside a PATCH path (``emails[type eq "work"]``), evaluated on the values of one resource.

This runs in memory on a single resource's multi-valued attribute, which the PATCH already holds; queries over
many resources are compiled to SQL instead (``filters.py``). Semantics match the SQL ones: strings compare by
comparison key unless the sub-attribute is caseExact, dateTimes by the instants they name.
"""

from typing import Any

from scimgate.instants import filter_instant, instant
from scimgate.scim.errors import InvalidFilter, NoTarget, excerpt
from scimgate.scim.grammar import (
    COMPARATORS,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
)
from scimgate.scim.schema import Attribute
from scimgate.text import comparison_key


def element_matches(attr: Attribute, element: dict[str, Any], node: FilterNode) -> bool:
    if isinstance(node, LogicalExpr):
        results = (element_matches(attr, element, term) for term in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not element_matches(attr, element, node.expr)
    if isinstance(node, Present):
        value = _field(attr, element, node.attr_path.attr)[0]
        return value not in (None, "", [], {})
    if isinstance(node, Comparison):
        return _compared(attr, element, node)
    raise InvalidFilter("A value path cannot be nested inside another value path.")


def _compared(attr: Attribute, element: dict[str, Any], node: Comparison) -> bool:
    value, sub = _field(attr, element, node.attr_path.attr)
    operand = node.value
    if operand is None:
        present = value not in (None, "")
        return not present if node.op == CompareOperator.eq else present
    if sub.type == "dateTime":
        return _date_times(value, node.op, operand, node.attr_path.attr)
    if value is None:
        return False
    if isinstance(value, str) and isinstance(operand, str):
        if not sub.case_exact:
            value, operand = comparison_key(value), comparison_key(operand)
    elif isinstance(value, bool) != isinstance(operand, bool) or isinstance(value, str) != isinstance(operand, str):
        # "primary eq \"True\"": Entra's string booleans, compared as booleans.
        if isinstance(value, bool) and isinstance(operand, str) and operand.lower() in ("true", "false"):
            operand = operand.lower() == "true"
        else:
            return False
    try:
        return COMPARATORS[node.op.value](value, operand)
    except TypeError:
        return False


def _date_times(value: Any, op: CompareOperator, operand: Any, name: str) -> bool:
    """As filters compare dateTimes: the instants named, at millisecond precision (scimgate.instants)."""
    asked = op not in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew)
    wanted = filter_instant(operand) if asked else None
    if wanted is None:
        raise InvalidFilter(
            f"{excerpt(name)} is a dateTime: compare it using eq, ne, gt, ge, lt or le with a dateTime such as "
            f'"2026-01-31T12:00:00Z" or a date such as "2026-01-31" (its midnight UTC), not {excerpt(operand)}.'
        )
    found = instant(value)
    return found is not None and COMPARATORS[op.value](found, wanted)


def template_from(node: FilterNode, attr: Attribute) -> dict[str, Any]:
    """The value a filter describes: ``type eq "work"`` → ``{"type": "work"}``, for creating it when absent.

    Only ``eq`` comparisons joined by ``and`` describe a value; anything else cannot be created from.
    """
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and node.value is not None:
        sub = attr.sub(node.attr_path.attr)
        if sub is not None:
            return {sub.name: node.value}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        out: dict[str, Any] = {}
        for term in node.terms:
            out.update(template_from(term, attr))
        return out
    raise NoTarget(
        f"No value of {attr.name} matches, and the filter does not describe one to create: {excerpt(str(node))}."
    )


def _field(attr: Attribute, element: dict[str, Any], name: str) -> tuple[Any, Attribute]:
    sub = attr.sub(name)
    if sub is None:
        raise InvalidFilter(f"{attr.name} has no sub-attribute {excerpt(name)}.")
    return element.get(sub.name), sub
