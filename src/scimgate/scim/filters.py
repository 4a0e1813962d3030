"""SCIM filters (RFC 7644 §3.4.2.2) compiled to SQL: nothing is evaluated by loading resources into Python.

The string is parsed by scim2-models (its grammar covers the whole RFC: every operator, ``and``/``or``/``not`` with
the RFC's precedence, value paths, sub-attributes, URN-qualified names, attribute names and operators in any case).
The tree is compiled against our schema (``filter_targets.py`` says what each path is in SQL) to a SQLAlchemy clause
with bound parameters. An attribute the schema does not know is a 400 ``invalidFilter``, never dropped: dropping a
predicate would widen the result.

Semantics, the same on SQLite and PostgreSQL (and in the reference evaluator of the tests):

* a comparison on an attribute without a value is false (so ``not (title eq "x")`` is true for a user without a
  title, and ``title ne "x"`` is false for it);
* on a multi-valued attribute a comparison is true when any value matches; ``emails eq "x"`` compares ``value``;
* strings compare by their comparison key (NFKC, case-folded) unless the attribute is ``caseExact``; ordering
  operators compare by Unicode code point; ``co``/``sw``/``ew`` treat ``%`` and ``_`` literally;
* dateTimes compare as the UTC instants they name, at millisecond precision (``scimgate.instants``): the value
  compared with must be an ISO 8601 date or dateTime (a date alone is its midnight UTC), and a stored value that
  names no instant compares as no value;
* ``pr`` is true for a non-empty string, any boolean or date, a non-empty complex value or a non-empty list.
"""

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scimgate.instants import filter_instant
from scimgate.scim.errors import InvalidFilter, InvalidPath, Reason, ScimError, TooMany, excerpt
from scimgate.scim.filter_targets import Constant, Elements, Field, Scalar, indexed_scalar, is_known, resolve
from scimgate.scim.grammar import (
    COMPARATORS,
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    GrammarError,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
    parse_filter_tree,
    parse_path_tree,
)
from scimgate.scim.resource_types import ResourceType
from scimgate.store.sql import Clause, codepoint_order, fold
from scimgate.text import comparison_key, storable

MAX_FILTER_LENGTH = 4096
MAX_PREDICATES = 50
MAX_DEPTH = 32


def compile_filter(rtype: ResourceType, text: str, dialect: str, strict: bool = False) -> Clause:
    """The filter as SQL. Tolerant (``strict`` False) of the forms IdPs document (``tolerate``); in strict mode
    such a form is refused, and the error says that tolerant mode would have taken it."""
    if not strict:
        return _Compiler(rtype, dialect).visit(tolerate(rtype, parse_filter(quote_bare_values(text))))
    try:
        return _Compiler(rtype, dialect).visit(parse_filter(text))
    except ScimError as error:
        strict_hint(error, lambda: compile_filter(rtype, text, dialect))
        raise


def strict_hint(error: ScimError, tolerant: Callable[[], object]) -> None:
    """Mark a strict-mode refusal that tolerant mode would have accepted, so the IT admin knows what to change."""
    try:
        tolerant()
    except ScimError:
        return
    error.detail += " (This IdP form is accepted when the directory is not in strict mode.)"
    error.reason = Reason.STRICT_MODE


# A comparison's value written without quotes: authentik's SCIM client before 2025.10 sent
# `userName eq ada@contoso.com` (goauthentik/authentik#16455), and Microsoft's SCIM tutorial shows
# `filter=externalId eq jyoung` and `filter=id eq 54D3… and manager eq 2819…` (MicrosoftDocs/azure-docs,
# active-directory-scim-provisioning.md). Quoted strings are matched first, so nothing inside one is touched.
_BARE = re.compile(r'"(?:[^"\\]|\\.)*"|(?<=\s)(eq|ne|co|sw|ew|gt|ge|lt|le)(\s+)([^\s()\[\]"]+)', re.IGNORECASE)
_LITERAL = re.compile(r"true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?", re.IGNORECASE)


def quote_bare_values(text: str) -> str:
    """The filter with each unquoted comparison value that is not true, false, null or a number quoted."""

    def quote(match: re.Match[str]) -> str:
        op, space, value = match.group(1), match.group(2), match.group(3)
        if op is None or _LITERAL.fullmatch(value):
            return match.group(0)
        return f"{op}{space}{json.dumps(value, ensure_ascii=False)}"

    return _BARE.sub(quote, text)


def tolerate(rtype: ResourceType, node: FilterNode) -> FilterNode:
    """The tree with the IdP forms tolerant mode reads as their RFC equivalents:

    * an attribute named without its extension's URN, when exactly one extension of the type has it (Entra's
      reference check ``manager eq "…"``, MicrosoftDocs/azure-docs active-directory-scim-provisioning.md);
    * a complex attribute compared as a whole when it has a ``value`` sub-attribute: ``manager eq "x"`` is
      ``manager.value eq "x"`` (the same check).
    """
    if isinstance(node, LogicalExpr):
        return dataclasses.replace(node, terms=tuple(tolerate(rtype, term) for term in node.terms))
    if isinstance(node, Not):
        return dataclasses.replace(node, expr=tolerate(rtype, node.expr))
    if isinstance(node, ValuePath):
        return dataclasses.replace(node, attr_path=_qualified(rtype, node.attr_path))
    if isinstance(node, Present):
        return dataclasses.replace(node, attr_path=_qualified(rtype, node.attr_path))
    if isinstance(node, Comparison):
        return dataclasses.replace(node, attr_path=_valued(rtype, _qualified(rtype, node.attr_path)))
    return node


def _qualified(rtype: ResourceType, path: AttrPath) -> AttrPath:
    name = path.attr.lower()
    if path.uri is not None or rtype.schema.attribute(path.attr) is not None or name in ("id", "externalid", "meta"):
        return path
    found = [ext for ext in rtype.extensions if ext.attribute(path.attr) is not None]
    return dataclasses.replace(path, uri=found[0].id) if len(found) == 1 else path


def _valued(rtype: ResourceType, path: AttrPath) -> AttrPath:
    schema = rtype.schema if path.uri is None else rtype.extension(path.uri)
    attr = schema.attribute(path.attr) if schema is not None else None
    if attr is None or attr.type != "complex" or attr.multi_valued or path.sub_attr or attr.sub("value") is None:
        return path
    return dataclasses.replace(path, sub_attr="value")


@dataclass(frozen=True)
class KeyEquality:
    """A filter that is one ``eq`` on an indexed string column: ``column = value``, nothing else."""

    column: sa.ColumnElement[Any]
    value: str


# `userName eq "alice@contoso.com"`: a bare attribute name, `eq` in any case, a string without escapes.
# No control characters in the value: the parser refuses them as syntax errors (a tab, a newline), and so must we.
_KEY_EQUALITY = re.compile(r' *([A-Za-z][A-Za-z0-9_-]*) +[eE][qQ] +"([^"\\\x00-\x1f]*)" *')


def key_equality(rtype: ResourceType, text: str) -> KeyEquality | None:
    """The shape Entra and Okta send before every create and for every match, recognised without parsing.

    Returns None for anything else (then ``compile_filter`` handles it, errors included). The value goes through
    the same ``_operand`` as the compiled filter, so both paths compare the same keys; a test checks that they
    return the same resources.
    """
    match = _KEY_EQUALITY.fullmatch(text)
    if match is None or len(text) > MAX_FILTER_LENGTH or "\ufffd" in text:
        return None
    indexed = rtype.indexed.get(match.group(1).lower())
    value = match.group(2)
    if indexed is None or indexed.kind != "string" or not storable(value):
        return None
    operand = _operand(indexed_scalar(indexed), CompareOperator.eq, value, match.group(1))
    return KeyEquality(indexed.column, operand)


def compile_filter_across(
    rtypes: tuple[ResourceType, ...], text: str, dialect: str, strict: bool = False
) -> dict[str, Clause]:
    """One clause per resource type, for a search at the server root (RFC 7644 §3.4.2.1, §3.4.3).

    An attribute one type does not have makes its comparison false for that type; an attribute no type has is
    still a 400, since it would select nothing anywhere and is almost certainly a mistake.
    """
    tree = parse_filter(quote_bare_values(text) if not strict else text)
    compilers = [_Compiler(rtype, dialect, unknown_is_false=True) for rtype in rtypes]
    clauses = {c.rtype.name: c.visit(tree if strict else tolerate(c.rtype, tree)) for c in compilers}
    unknown_everywhere = set.intersection(*(compiler.unknown for compiler in compilers))
    if unknown_everywhere:
        names = ", ".join(sorted(excerpt(name) for name in unknown_everywhere))
        raise InvalidFilter(f"No resource type has the attribute(s) {names}.")
    return clauses


def parse_filter(text: str) -> FilterNode:
    if not text.strip():
        raise InvalidFilter('The filter is empty. Send a filter such as userName eq "alice@example.com", or none.')
    _check_bounds(text, "filter", InvalidFilter)
    try:
        tree = parse_filter_tree(text)
    except GrammarError as error:
        raise InvalidFilter(f"The filter {excerpt(text)} is not valid SCIM filter syntax: {error}.") from None
    _check_predicates(tree, "filter")
    return tree


def parse_path(text: str, limit_comparisons: bool = True) -> Any:
    """A PATCH path's tree (``parse_path_tree``) under the limits a search filter has: its value filter is
    evaluated against every value of the attribute, so an unbounded one is as costly as an unbounded search (issue
    20: one PATCH removing ``emails[value eq "zz0" or … 5,000 terms]`` held the database writer for 38 s).
    Raises one of ``GrammarError`` for text outside the grammar, as ``parse_path_tree`` does."""
    _check_bounds(text, "path", InvalidPath)
    tree = parse_path_tree(text)
    if isinstance(tree, ValuePath) and limit_comparisons:
        _check_predicates(tree.val_filter, "path's value filter")
    return tree


def count_comparisons(node: FilterNode) -> int:
    """The comparisons of a filter: what evaluating it on one value costs."""
    return _count_predicates(node)


def _check_bounds(text: str, noun: str, error: type[ScimError]) -> None:
    """What is checked before a parser sees the text: storable, UTF-8, its length and nesting."""
    if not storable(text):
        raise error(f"The {noun} contains a NUL character or an unpaired surrogate.")
    if "\ufffd" in text:
        # What the URL decoder puts in place of bytes that are not UTF-8 (e.g. %FF%FE): the value is lost.
        raise error(f"The {noun} is not valid UTF-8 once URL-decoded; percent-encode its UTF-8 bytes.")
    if len(text) > MAX_FILTER_LENGTH:
        raise error(f"The {noun} is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}.")
    depth = _nesting(text)
    if depth > MAX_DEPTH:
        raise error(f"The {noun} nests parentheses {depth} deep; the limit is {MAX_DEPTH}.")


def _check_predicates(tree: FilterNode, noun: str) -> None:
    predicates = _count_predicates(tree)
    if predicates > MAX_PREDICATES:
        raise TooMany(f"The {noun} has {predicates} comparisons; this server evaluates at most {MAX_PREDICATES}.")


def _nesting(text: str) -> int:
    """The deepest nesting of ( and [ outside string literals (a cheap bound before the parser recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


def _count_predicates(node: FilterNode) -> int:
    if isinstance(node, LogicalExpr):
        return sum(_count_predicates(term) for term in node.terms)
    if isinstance(node, Not):
        return _count_predicates(node.expr)
    if isinstance(node, ValuePath):
        return _count_predicates(node.val_filter)
    return 1


class _Logic(FilterVisitor[Clause]):
    def visit_logical_expr(self, node: LogicalExpr) -> Clause:
        terms = [self.visit(term) for term in node.terms]
        return sa.and_(*terms) if node.op == LogicalOperator.and_ else sa.or_(*terms)

    def visit_not(self, node: Not) -> Clause:
        return sa.not_(self.visit(node.expr))


class _Compiler(_Logic):
    def __init__(self, rtype: ResourceType, dialect: str, unknown_is_false: bool = False) -> None:
        self.rtype = rtype
        self.dialect = dialect
        self.unknown_is_false = unknown_is_false
        self.unknown: set[str] = set()

    def visit(self, node: FilterNode) -> Clause:
        path = getattr(node, "attr_path", None)
        if self.unknown_is_false and isinstance(path, AttrPath) and not is_known(self.rtype, path):
            self.unknown.add(str(path))
            return sa.false()
        return super().visit(node)

    def visit_comparison(self, node: Comparison) -> Clause:
        if node.value is None:
            # RFC 7644 allows null as a comparison value: "eq null" is absence (of any value), "ne null" is "pr".
            if node.op not in (CompareOperator.eq, CompareOperator.ne):
                raise InvalidFilter(f"{node.attr_path} can only be compared with null using eq or ne.")
            present = self.visit_present(Present(node.attr_path))
            return sa.not_(present) if node.op == CompareOperator.eq else present
        target = resolve(self.rtype, node.attr_path, self.dialect)
        text = str(node.attr_path)
        if isinstance(target, Field):
            return target.exists(_compare(target.scalar(), node.op, node.value, text))
        if isinstance(target, Elements):
            return target.exists(_compare(target.field("value"), node.op, node.value, text))
        if isinstance(target, Constant):
            if not isinstance(node.value, str):
                raise InvalidFilter(f"{text} is a string: compare it with a quoted string, not {excerpt(node.value)}.")
            return sa.true() if _constant_matches(target.value, node.op, node.value) else sa.false()
        return _compare(target, node.op, node.value, text)

    def visit_present(self, node: Present) -> Clause:
        target = resolve(self.rtype, node.attr_path, self.dialect)
        if isinstance(target, Field):
            return target.exists(_present(target.scalar()))
        if isinstance(target, Elements):
            return target.exists(None)
        if isinstance(target, Constant):
            return sa.true()
        return _present(target)

    def visit_value_path(self, node: ValuePath) -> Clause:
        target = resolve(self.rtype, node.attr_path, self.dialect)
        if not isinstance(target, Elements) or isinstance(target, Field):
            raise InvalidFilter(f"{excerpt(str(node.attr_path))}[…] needs a multi-valued attribute, such as emails[…].")
        return target.exists(_ElementCompiler(target).visit(node.val_filter))


class _ElementCompiler(_Logic):
    """The filter inside ``emails[…]``: names are sub-attributes of one value of the multi-valued attribute."""

    def __init__(self, elements: Elements) -> None:
        self.elements = elements

    def _field(self, path: AttrPath) -> Scalar:
        if path.uri is not None or path.sub_attr is not None:
            raise InvalidFilter(f"Inside […] name a sub-attribute directly, such as type, not {excerpt(str(path))}.")
        return self.elements.field(path.attr)

    def visit_comparison(self, node: Comparison) -> Clause:
        return _compare(self._field(node.attr_path), node.op, node.value, str(node.attr_path))

    def visit_present(self, node: Present) -> Clause:
        return _present(self._field(node.attr_path))

    def visit_value_path(self, node: ValuePath) -> Clause:
        raise InvalidFilter("A value path cannot be nested inside another value path.")


def _present(target: Scalar) -> Clause:
    value = target.expression if target.stored is None else target.stored
    present = value.is_not(None)
    return sa.and_(present, value != "") if target.kind in ("string", "reference") else present


def _compare(target: Scalar, op: CompareOperator, value: Any, path: str) -> Clause:
    expression = target.expression
    if value is None:
        # RFC 7644 allows null as a comparison value: "eq null" is absence, "ne null" is presence.
        if op == CompareOperator.eq:
            return sa.not_(_present(target))
        if op == CompareOperator.ne:
            return _present(target)
        raise InvalidFilter(f"{path} can only be compared with null using eq or ne.")
    operand = _operand(target, op, value, path)
    if target.kind in ("string", "reference"):
        if target.folded and not target.keyed:
            expression = fold(expression)
        if op in _LIKE:
            clause: Clause = expression.like(_LIKE[op](_escape_like(operand)), escape="\\")
        elif op in (CompareOperator.eq, CompareOperator.ne):
            clause = _ORDERING[op](expression, operand)  # no COLLATE, so PostgreSQL can use the index
        else:
            clause = _ORDERING[op](codepoint_order(expression), operand)
    else:
        clause = _ORDERING[op](expression, operand)
    # A comparison on an absent value is false, so "not (…)" includes resources without the attribute.
    return sa.and_(target.expression.is_not(None), clause)


def _operand(target: Scalar, op: CompareOperator, value: Any, path: str) -> Any:
    if target.kind == "boolean":
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilter(f"{path} is a boolean: compare it with eq or ne and true or false.")
        return value
    if target.kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float) or op in _LIKE:
            raise InvalidFilter(f"{path} is a number: compare it with a number using eq, ne, gt, ge, lt or le.")
        return value
    if target.kind == "complex":
        raise InvalidFilter(f"{path} is complex: compare one of its sub-attributes, such as {path}.value.")
    if target.kind == "binary":
        raise InvalidFilter(f"{path} holds binary data, which cannot be filtered on.")
    if not isinstance(value, str):
        raise InvalidFilter(f"{path} is a {target.kind}: compare it with a quoted string, not {excerpt(value)}.")
    if not storable(value):
        raise InvalidFilter(f"The value compared with {path} contains a NUL character or an unpaired surrogate.")
    if target.kind == "dateTime":
        if op in _LIKE:
            raise InvalidFilter(f"{path} is a dateTime: use eq, ne, gt, ge, lt or le.")
        return _datetime(value, path)
    return comparison_key(value) if target.folded else value


def _datetime(value: str, path: str) -> datetime:
    """The instant to compare with (scimgate.instants.filter_instant: an xsd:dateTime or another ISO 8601 form, a
    date alone being its midnight UTC, no zone being UTC, at millisecond precision like the stored side)."""
    found = filter_instant(value)
    if found is None:
        raise InvalidFilter(
            f'{path} must be compared with a dateTime such as "2026-01-31T12:00:00Z" or '
            f'"2026-01-31T14:00:00.000+02:00", or a date such as "2026-01-31" (its midnight UTC), not '
            f"{excerpt(value)}."
        )
    return found


def _constant_matches(constant: str, op: CompareOperator, value: str) -> bool:
    return COMPARATORS[op.value](comparison_key(constant), comparison_key(value))


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
