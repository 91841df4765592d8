"""The tables a SQL statement reads or writes, parsed with sqlglot's StarRocks dialect.

A regular expression sees the first name after FROM; a DBA asking "who uses this table"
needs every table of a join, a subquery, a CTE body and both sides of INSERT INTO ... SELECT,
each counted once, and never a CTE's own name. Parsing costs about a millisecond a statement,
so it happens once per statement shape (the audit log's digest, else a normalised hash) and
is kept in a bounded cache: a busy cluster repeats a few hundred shapes millions of times.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

DEFAULT_CATALOG = "default_catalog"
CACHE_SIZE = 20_000  # statement shapes kept parsed; a shape is about 1 KB

# Query mix: the kind of each statement, from the parsed tree's root.
_KINDS: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Query, "SELECT"),
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Create, "DDL"),
    (exp.Drop, "DDL"),
    (exp.Alter, "DDL"),
    (exp.TruncateTable, "DDL"),
    (exp.Show, "SHOW"),
    (exp.Describe, "SHOW"),
)
UNPARSED = "UNPARSED"
# Statements naming no table that matters: USE db names a database, SET a variable.
_NO_TABLES = (exp.Use, exp.Set, exp.Command, exp.Show)

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*|#[^\n]*", re.S)
_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|\b\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Shape:
    """What one statement shape comes to: its kind and the (catalog, db, table) names it uses,
    as written (empty where the statement leaves it to the session)."""

    kind: str
    tables: tuple[tuple[str, str, str], ...]

    @property
    def parsed(self) -> bool:
        return self.kind != UNPARSED


def fingerprint(stmt: str) -> str:
    """A digest for a statement the audit log gave none: comments, literals, case and spacing
    do not count, so `WHERE id = 1` and `where id=2` share one."""
    text = _SPACE.sub(" ", _LITERAL.sub("?", _COMMENT.sub(" ", stmt))).strip().lower()
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _kind(tree: exp.Expression) -> str:
    return next((kind for cls, kind in _KINDS if isinstance(tree, cls)), "OTHER")


def parse_shape(stmt: str) -> Shape:
    """Parse one statement (or several, `;`-separated); never raises: what sqlglot cannot read
    is UNPARSED with no tables."""
    try:
        trees = [t for t in sqlglot.parse(stmt, read="starrocks") if t is not None]
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
        return Shape(UNPARSED, ())
    if not trees:
        return Shape(UNPARSED, ())
    names: dict[tuple[str, str, str], None] = {}
    for tree in trees:
        if isinstance(tree, _NO_TABLES):
            continue
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name = table.name
            if not name or not isinstance(table.this, exp.Identifier):
                continue  # a table function (FILES(...), unnest) reads no catalogued table
            if not table.db and name in ctes:
                continue  # a CTE's name: its body's tables are found on their own
            names[(table.catalog, table.db, name)] = None
    return Shape(_kind(trees[-1]), tuple(names))


def resolve(shape: Shape, db: str | None, catalog: str | None) -> list[tuple[str, str, str]]:
    """The shape's tables as (catalog, db, table), unqualified parts taken from the session's
    `db` and `catalog` as StarRocks does; each table once."""
    out: dict[tuple[str, str, str], None] = {}
    for cat, schema, name in shape.tables:
        out[(cat or catalog or DEFAULT_CATALOG, schema or db or "", name)] = None
    return list(out)


class ShapeCache:
    """Parsed shapes by digest, the least recently used dropped past `size`; counts its hits so a
    benchmark can say what the cache saves."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size, self.hits, self.misses = size, 0, 0
        self._shapes: OrderedDict[str, Shape] = OrderedDict()

    def shape(self, stmt: str, digest: str | None = None) -> Shape:
        """The shape of `stmt`, parsed only the first time its digest is seen."""
        key = digest or fingerprint(stmt)
        found = self._shapes.get(key)
        if found is not None:
            self.hits += 1
            self._shapes.move_to_end(key)
            return found
        self.misses += 1
        found = self._shapes[key] = parse_shape(stmt)
        if len(self._shapes) > self.size:
            self._shapes.popitem(last=False)
        return found
