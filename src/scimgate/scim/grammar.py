"""The SCIM filter and path grammar (RFC 7644 §3.4.2.2, §3.5.2): the one module that imports scim2-models.

scim2-models is a 0.x library whose API moved between minor releases (docs/decisions.md), so everything scimgate
takes from it passes through here: the parsers, the tree they build, and the one exception they raise. A new
release changes this module, not the filter compiler and the PATCH engine that walk the tree.
"""

from collections.abc import Callable
from typing import Any

from scim2_models import Path as _Path
from scim2_models import SCIMException as _LibraryError
from scim2_models import ScimFilter as _ScimFilter
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

__all__ = [
    "COMPARATORS",
    "AttrPath",
    "CompareOperator",
    "Comparison",
    "FilterNode",
    "FilterVisitor",
    "GrammarError",
    "LogicalExpr",
    "LogicalOperator",
    "Not",
    "Present",
    "ValuePath",
    "parse_filter_tree",
    "parse_path_tree",
]

GrammarError = (_LibraryError, ValueError, RecursionError)
"""What the parsers raise for text that is not in the grammar (a deep nesting is a RecursionError)."""


def parse_filter_tree(text: str) -> FilterNode:
    """The tree of a filter; raises one of ``GrammarError``. Limits are the caller's (``filters.parse_filter``)."""
    return _ScimFilter(text).ast


def parse_path_tree(text: str) -> Any:
    """The tree of a PATCH path: an ``AttrPath`` or a ``ValuePath`` (or something else the caller refuses)."""
    return _Path(text).ast


# Python's meaning of each SCIM comparison operator, for values compared in memory (operands already prepared).
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "co": lambda a, b: isinstance(a, str) and b in a,
    "sw": lambda a, b: isinstance(a, str) and a.startswith(b),
    "ew": lambda a, b: isinstance(a, str) and a.endswith(b),
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
