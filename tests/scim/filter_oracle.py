"""A straightforward in-Python evaluator of SCIM filters over rendered resources: the reference the SQL compiler is
checked against. It follows the semantics documented in ``scimgate.scim.filters`` and nothing else."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from scimgate.text import comparison_key


def matches(resource: dict[str, Any], node: FilterNode) -> bool:
    if isinstance(node, LogicalExpr):
        results = (matches(resource, term) for term in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not matches(resource, node.expr)
    if isinstance(node, ValuePath):
        elements = _get(resource, node.attr_path.uri, node.attr_path.attr) or []
        # Membership ids are caseExact; every sub-attribute of the JSON multi-valued attributes is not.
        exact = {"value"} if node.attr_path.attr.lower() in ("members", "groups") else set()
        return any(_element(element, node.val_filter, exact) for element in elements if isinstance(element, dict))
    if isinstance(node, Present):
        return any(_present(value) for value in _values(resource, node.attr_path))
    if isinstance(node, Comparison) and node.value is None:
        # "eq null" is absence of any value, "ne null" presence of one.
        present = any(_present(value) for value in _values(resource, node.attr_path))
        return not present if node.op == CompareOperator.eq else present
    if isinstance(node, Comparison):
        return any(
            _compare(value, node.op, node.value, _case_exact(node.attr_path))
            for value in _values(resource, node.attr_path, compare=True)
        )
    raise TypeError(node)


def _element(element: dict[str, Any], node: FilterNode, exact: set[str]) -> bool:
    if isinstance(node, LogicalExpr):
        results = (_element(element, term, exact) for term in node.terms)
        return all(results) if node.op == LogicalOperator.and_ else any(results)
    if isinstance(node, Not):
        return not _element(element, node.expr, exact)
    assert isinstance(node, Comparison | Present)
    value = _lookup(element, node.attr_path.attr)
    if isinstance(node, Present):
        return _present(value)
    return _compare(value, node.op, node.value, node.attr_path.attr.lower() in exact)


def _case_exact(path: AttrPath) -> bool:
    name = path.attr.lower()
    sub = (path.sub_attr or "").lower()
    if name in ("id", "externalid"):
        return True
    if name in ("members", "groups") and sub in ("", "value"):
        return True
    return name == "manager" and sub == "value"


def _values(resource: dict[str, Any], path: AttrPath, compare: bool = False) -> list[Any]:
    """The values a path names in a resource: several for a multi-valued attribute."""
    if path.attr.lower() == "meta" and (path.sub_attr or "").lower() in ("created", "lastmodified"):
        raw = _lookup(resource.get("meta", {}), path.sub_attr or "")
        return [datetime.fromisoformat(raw)] if raw else []
    value = _get(resource, path.uri, path.attr)
    if isinstance(value, list):
        sub = path.sub_attr or ("value" if compare else None)
        return [_lookup(item, sub) if sub else item for item in value if isinstance(item, dict)]
    if path.sub_attr:
        return [_lookup(value, path.sub_attr)] if isinstance(value, dict) else []
    return [value]


def _get(resource: dict[str, Any], uri: str | None, attr: str) -> Any:
    if uri is not None and not uri.lower().startswith("urn:ietf:params:scim:schemas:core:"):
        extension = _lookup(resource, uri)
        return _lookup(extension, attr) if isinstance(extension, dict) else None
    return _lookup(resource, attr)


def _lookup(obj: Any, name: str) -> Any:
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return None


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def _compare(value: Any, op: CompareOperator, operand: Any, case_exact: bool) -> bool:
    if operand is None:
        return (not _present(value)) if op == CompareOperator.eq else _present(value)
    if value is None:
        return False
    if isinstance(value, bool) or isinstance(operand, bool):
        return isinstance(value, bool) and isinstance(operand, bool) and _OPS[op](value, operand)
    if isinstance(value, datetime):
        parsed = datetime.fromisoformat(operand)
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return _OPS[op](value, parsed)
    left, right = (value, operand) if case_exact else (comparison_key(value), comparison_key(operand))
    return _OPS[op](left, right)


_OPS: dict[CompareOperator, Callable[[Any, Any], bool]] = {
    CompareOperator.eq: lambda a, b: a == b,
    CompareOperator.ne: lambda a, b: a != b,
    CompareOperator.co: lambda a, b: b in a,
    CompareOperator.sw: lambda a, b: a.startswith(b),
    CompareOperator.ew: lambda a, b: a.endswith(b),
    CompareOperator.gt: lambda a, b: a > b,
    CompareOperator.ge: lambda a, b: a >= b,
    CompareOperator.lt: lambda a, b: a < b,
    CompareOperator.le: lambda a, b: a <= b,
}
