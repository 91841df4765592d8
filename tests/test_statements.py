"""Tables from statements (issue 17): recorded statements with known answers."""

from __future__ import annotations

import pytest

from starmon.statements import UNPARSED, ShapeCache, fingerprint, parse_shape, resolve

D = "default_catalog"

# (statement, session db, session catalog, kind, every table it reads or writes)
RECORDED = [
    (
        """-- revenue by segment, 5 tables and a CTE
        WITH recent AS (
            SELECT o.customer_id, SUM(i.amount) AS amt
            FROM sales.orders_fact o JOIN `sales`.`order_items` i ON o.order_id = i.order_id
            WHERE o.order_ts > now() - INTERVAL 7 DAY GROUP BY o.customer_id)
        SELECT c.segment, p.category, SUM(r.amt)
        FROM recent r
        JOIN customers c ON c.customer_id = r.customer_id
        JOIN products p ON p.product_id = c.fav_product
        LEFT JOIN finance.fx_rates fx ON fx.ccy = c.ccy
        JOIN recent r2 ON r2.customer_id = r.customer_id
        GROUP BY 1, 2""",
        "sales",
        None,
        "SELECT",
        [
            (D, "sales", "orders_fact"),
            (D, "sales", "order_items"),
            (D, "sales", "customers"),
            (D, "sales", "products"),
            (D, "finance", "fx_rates"),
        ],
    ),
    (
        "INSERT INTO finance.ledger SELECT * FROM sales.orders_fact WHERE order_id IN "
        "(SELECT order_id FROM sales.order_items WHERE qty > 3)",
        "finance",
        None,
        "INSERT",
        [(D, "finance", "ledger"), (D, "sales", "orders_fact"), (D, "sales", "order_items")],
    ),
    (
        "select count(*) from hive_prod.logs.`web``hits` /* heavy */ where dt = '2026-11-30'",
        "web_analytics",
        None,
        "SELECT",
        [("hive_prod", "logs", "web`hits")],
    ),
    (
        "SELECT * FROM page_views LIMIT 10",
        "web_analytics",
        "iceberg_cat",
        "SELECT",
        [("iceberg_cat", "web_analytics", "page_views")],
    ),
    ("SELECT 1", None, None, "SELECT", []),
    ("USE sales", None, None, "OTHER", []),
    ("DELETE FROM ops_logs.app_logs WHERE log_ts < '2026-01-01'", None, None, "DELETE", [(D, "ops_logs", "app_logs")]),
    (
        "SELECT * FROM (SELECT a FROM t1 UNION ALL SELECT a FROM t2) x",
        "sandbox",
        None,
        "SELECT",
        [(D, "sandbox", "t1"), (D, "sandbox", "t2")],
    ),
]


@pytest.mark.parametrize("stmt,db,catalog,kind,tables", RECORDED)
def test_every_table_once(stmt, db, catalog, kind, tables):
    shape = parse_shape(stmt)
    assert shape.kind == kind
    assert sorted(resolve(shape, db, catalog)) == sorted(tables)


@pytest.mark.parametrize("stmt", ["select * from", "SELEC 1", "\x00\x01'", "SELECT ((((((" * 50, ""])
def test_unparseable_is_counted_never_fatal(stmt):
    shape = parse_shape(stmt)
    assert shape.kind == UNPARSED and shape.tables == () and not shape.parsed


def test_fingerprint_ignores_literals_comments_and_spacing():
    assert fingerprint("SELECT * FROM t WHERE id = 1") == fingerprint("/* x */ select *  from t\nwhere id = 22")
    assert fingerprint("SELECT * FROM t") != fingerprint("SELECT * FROM u")


def test_cache_parses_once_per_digest_and_stays_bounded():
    cache = ShapeCache(size=2)
    for _ in range(3):
        cache.shape("SELECT * FROM a.b WHERE x = 1", "d1")
    assert (cache.hits, cache.misses) == (2, 1)
    cache.shape("SELECT * FROM a.b WHERE x = 2")  # no digest: the fingerprint
    cache.shape("SELECT * FROM a.b WHERE x = 3")  # same fingerprint: a hit
    cache.shape("SELECT * FROM c.d")
    cache.shape("SELECT * FROM e.f")
    assert len(cache._shapes) == 2 and cache.misses == 4
