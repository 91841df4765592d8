"""SQL: identifiers from a cluster are quoted, values are bound, and no SQL in starmon is built from values."""

from __future__ import annotations

import ast
import asyncio
import re

from starmon.config import ClusterConfig
from starmon.emulator import ClusterSpec, catalog, sqlviews
from starmon.fetch import ClusterClient
from starmon.round import fetch_statistics
from starmon.store import Store

from .fixtures import ROOT, cluster_configs, exact_workload

WEIRD = "we`ird; DROP"


def test_database_names_are_quoted_in_show_alter(emulator, monkeypatch):
    monkeypatch.setattr(catalog, "DATABASES", catalog.DATABASES + (WEIRD,))
    monkeypatch.setattr(
        catalog,
        "SCHEMA_CHANGES",
        catalog.SCHEMA_CHANGES + (catalog.SchemaChange(WEIRD, "t1", 13001, "RUNNING", "10%", "2026-11-25 10:00:00"),),
    )
    asked: list[str] = []
    real = sqlviews.show_alter_column

    def show_alter_column(model, db, t):
        asked.append(db)
        return real(model, db, t)

    monkeypatch.setattr(sqlviews, "show_alter_column", show_alter_column)
    sent: list[str] = []  # every statement the emulated FE received, as starmon sent it
    answer = sqlviews.answer

    def spy(model, fe, sql, now, database):
        sent.append(sql)
        return answer(model, fe, sql, now, database)

    monkeypatch.setattr(sqlviews, "answer", spy)
    emu = emulator(ClusterSpec("weird", workload=exact_workload()))
    [cluster] = cluster_configs(emu)
    stats, _tables = asyncio.run(fetch_statistics(ClusterClient(cluster, None, 5.0)))
    assert "SHOW ALTER TABLE COLUMN FROM `we``ird; DROP`" in sent
    assert WEIRD in asked and "we" not in asked
    assert stats["status"] == "ok", stats["error"]
    assert {"db": WEIRD, "table": "t1"}.items() <= next(c for c in stats["schema_changes"] if c["db"] == WEIRD).items()
    assert stats["schema_change_running"] == 2  # sales.order_items and the weird one: nothing was cut


def test_cluster_text_is_stored_through_bound_parameters(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'bound.db'}")
    try:
        store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
        cid = store.cluster_ids()["prod"]
        nasty = "x'); DROP TABLE clusters; --"
        store.write_statistics(
            cid,
            {"ts": 1.0, "status": "partial", "error": nasty, "collect_ms": 1},
            [{"db_name": nasty, "table_name": '"; DELETE FROM clusters; --', "data_bytes": 1, "row_count": 1}],
        )
        store.write_round(
            cid,
            {"ts": 2.0, "status": "down", "error": nasty, "collect_ms": 1},
            [{"role": "BE", "host": nasty, "alive": False, "error": nasty}],
        )
        assert store.cluster_ids() == {"prod": cid}
        with store.reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT db_name, table_name FROM table_size_history").fetchall() == [
                (nasty, '"; DELETE FROM clusters; --')
            ]
            assert conn.exec_driver_sql("SELECT host, error FROM node_snapshots").fetchall() == [(nasty, nasty)]
    finally:
        store.close()


_SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SHOW|PRAGMA|BEGIN|WITH|SET|"
    r"EXPLAIN|ADMIN|KILL|GRANT|USE|TRUNCATE)\b",
    re.I,
)
_SQL_INSIDE = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET"
    r"|WHERE\s+\w+\s*(=|IN\b|LIKE)|VALUES\s*\()",
    re.S,
)


def _literal_text(node: ast.AST) -> str | None:
    """The constant text of a string-building expression, '{}' where a value goes in; None if no string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


def _is_identifier_quoting(node: ast.AST) -> bool:
    """`name.replace("`", "``")`: the documented quoting of a database name inside backquotes."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "replace"
        and [getattr(a, "value", None) for a in node.args] == ["`", "``"]
    )


def sql_built_from_values(source: str) -> list[tuple[int, str]]:
    """String-built SQL in a module: f-strings, `+`, `%` and .format() whose text reads as a statement."""
    found = []
    for node in ast.walk(ast.parse(source)):
        pieces: list[ast.AST] = []
        text = None
        if isinstance(node, ast.JoinedStr):
            text = _literal_text(node)
            pieces = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            text = _literal_text(node)
            pieces = [n for n in (node.left, node.right) if _literal_text(n) is None]
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            text, pieces = node.left.value, [node.right]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
        ):
            text, pieces = node.func.value.value, list(node.args) + [k.value for k in node.keywords]
        if text is None or not pieces or not (_SQL_START.search(text) or _SQL_INSIDE.search(text)):
            continue
        if all(_is_identifier_quoting(p) for p in pieces):
            continue
        found.append((node.lineno, text))
    return found


def test_the_detector_finds_sql_built_from_values():
    bad = (
        "q = f\"SELECT * FROM clusters WHERE name = '{name}'\"\n"
        'q = "DELETE FROM t WHERE id = %s" % ident\n'
        'q = "SHOW ALTER TABLE COLUMN FROM " + db\n'
        "q = \"UPDATE clusters SET user = '{}'\".format(user)\n"
    )
    assert [line for line, _ in sql_built_from_values(bad)] == [1, 2, 3, 4]
    good = (
        'q = "SHOW ALTER TABLE COLUMN FROM `" + d.replace("`", "``") + "`"\n'
        'msg = f"cluster {name}: refused"\nsql = "SELECT 1"\n'
    )
    assert sql_built_from_values(good) == []


# Statements whose interpolated parts are constants of the code itself, not values.
ALLOWED = {
    ("starmon/store.py", "PRAGMA {}"),
    # the audit log's incremental read: quoted column names, and values checked against fixed
    # patterns (DATETIME, queryId) first; starmon's MySQL calls take no bound parameters
    ("starmon/audit.py", "SELECT {} FROM {} WHERE {} ORDER BY `timestamp`, `queryId` LIMIT {}"),
}


def test_no_sql_is_built_from_values():
    found = []
    for path in sorted((ROOT / "starmon").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, text in sql_built_from_values(path.read_text(encoding="utf-8")):
            if (rel, text) not in ALLOWED:
                found.append(f"{rel}:{line}: {text!r}")
    assert not found, "SQL built from values (use bound parameters):\n" + "\n".join(found)
    pragma = (ROOT / "starmon" / "store.py").read_text()
    assert re.search(r'for pragma in \((\s*"[a-z_]+=[A-Z0-9]+",?)+\s*\):', pragma), (
        "the PRAGMA f-string must only ever see the constant tuple it loops over"
    )
