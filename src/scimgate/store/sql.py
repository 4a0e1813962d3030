"""SQL constructs that render differently per backend, so that queries are written once.

* ``fold(x)``: the comparison key of a case-insensitive string, for values held in the JSON document (indexed
  attributes have a ``*_key`` column instead). SQLite calls ``scimgate_fold``, the Python ``comparison_key``
  registered on every connection, so it agrees exactly with the key columns; PostgreSQL uses
  ``lower(normalize(x, NFKC))``, which differs from Python's case folding only for a few characters such as ß.
* ``codepoint_order(x)``: compare strings by Unicode code point, as RFC 7644 §3.4.2.3 asks for sorting ("no specific
  locale implied"). SQLite's default collation already does; PostgreSQL needs ``COLLATE "C"``.
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
