"""SQL constructs that render differently per backend, so that queries are written once.

* ``fold(x)``: the comparison key of a case-insensitive string, for values held in the JSON document (indexed
  attributes have a ``*_key`` column instead). SQLite calls ``scimgate_fold``, the Python ``comparison_key``
  registered on every connection, so it agrees exactly with the key columns; PostgreSQL uses
  ``lower(normalize(x, NFKC))``, which differs from Python's case folding only for a few characters such as ß.
* ``codepoint_order(x)``: compare strings by Unicode code point, as RFC 7644 §3.4.2.3 asks for sorting ("no specific
  locale implied"). SQLite's default collation already does; PostgreSQL needs ``COLLATE "C"``.
* ``instant(x)``: the UTC instant an xsd:dateTime text names, at millisecond precision, or NULL for text that is
  not one (``scimgate.instants``): ``scimgate_instant`` on both, a Python function registered on every SQLite
  connection, a PL/pgSQL one on PostgreSQL (migration 0015). Typed as a timestamp, so a bound datetime compares
  with it as with the ``created`` columns, and both are deterministic, so an index can hold it.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

Clause = sa.ColumnElement[bool]
"""A condition: what filters compile to and WHERE clauses are built from."""


class fold(FunctionElement[str]):
    type = sa.Text()
    name = "fold"
    inherit_cache = True


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: Any, **kw: Any) -> str:
    return f"scimgate_fold({compiler.process(element.clauses, **kw)})"


@compiles(fold, "postgresql")
def _fold_postgresql(element: fold, compiler: Any, **kw: Any) -> str:
    return f"lower(normalize({compiler.process(element.clauses, **kw)}, NFKC))"


class codepoint_order(FunctionElement[str]):
    type = sa.Text()
    name = "codepoint_order"
    inherit_cache = True


@compiles(codepoint_order, "sqlite")
def _codepoint_sqlite(element: codepoint_order, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(codepoint_order, "postgresql")
def _codepoint_postgresql(element: codepoint_order, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


class instant(FunctionElement[Any]):
    type = sa.DateTime(timezone=True)
    name = "scimgate_instant"
    inherit_cache = True


@compiles(instant)
def _instant(element: instant, compiler: Any, **kw: Any) -> str:
    return f"scimgate_instant({compiler.process(element.clauses, **kw)})"


class json_text(FunctionElement[str]):
    """The text at a fixed path of a JSON column, with the path written into the SQL rather than bound.

    An expression index only serves a query whose expression is the same text: ``json_extract(attributes,
    '$."urn"."attr"')`` on SQLite, ``(attributes #>> '{urn,attr}')`` on PostgreSQL. Bound, the path would be a
    ``?`` the index does not match. The path is held as the function's second clause, so it is part of
    SQLAlchemy's cache key.
    """

    type = sa.Text()
    name = "json_text"
    inherit_cache = True

    def __init__(self, document: sa.ColumnElement[Any], path: tuple[str, ...]) -> None:
        if any(not part or set(part) & {"'", '"', "\\", "{", "}", ","} for part in path):
            raise ValueError(f"not a JSON path this server writes into SQL: {path!r}")
        super().__init__(document, sa.literal_column("\x1f".join(path)))


def _json_parts(element: json_text, compiler: Any, **kw: Any) -> tuple[str, list[str]]:
    document, path = list(element.clauses)
    return compiler.process(document, **kw), str(path.name).split("\x1f")


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: Any, **kw: Any) -> str:
    document, parts = _json_parts(element, compiler, **kw)
    return "json_extract({}, '$.{}')".format(document, ".".join(f'"{part}"' for part in parts))


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: Any, **kw: Any) -> str:
    document, parts = _json_parts(element, compiler, **kw)
    return "({} #>> '{{{}}}')".format(document, ",".join(f'"{part}"' for part in parts))
