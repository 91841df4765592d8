"""Reads of stored data sizes over a range: each table's size and growth, each database's size,
and the cluster's total, pass by pass (the Data page and the API's data-stats).

They read the statistics passes' history (table_size_history, data_statistics), which grows with
the catalogue rather than with rounds, so they live apart from the round reads in starmon.read.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from . import schema
from .datastats import SYSTEM_DATABASES
from .read import Reader, TimeRange, as_times

TABLES_SHOWN = 1000  # the Data page lists this many of the largest tables


def growth_span(reader: Reader, cluster_id: int, tr: TimeRange) -> tuple[float | None, float | None]:
    """When the range's first and last statistics passes with table sizes were taken: what
    table_growth measures growth between (the first may come well after the range starts)."""
    h = schema.table_size_history
    span = sa.select(sa.func.min(h.c.ts).label("first"), sa.func.max(h.c.ts).label("last")).where(
        h.c.cluster_id == cluster_id, h.c.ts >= tr.start, h.c.ts <= tr.end
    )
    row = reader.one(span)  # an aggregate: always one row, NULLs without a pass
    return row["first"], row["last"]


def table_growth(reader: Reader, cluster_id: int, tr: TimeRange, limit: int = TABLES_SHOWN) -> pd.DataFrame:
    """The `limit` largest user tables at the range's last pass (unknown sizes last), with their
    growth since the range's first pass; sizes in bytes.

    A table left out grew by at most the smallest size kept (growth never exceeds a size), so
    the fastest growers are in. StarRocks' own databases are left out here too, for passes
    stored before the collector stopped storing them: the list and the Tables count agree.
    """
    first_ts, last_ts = growth_span(reader, cluster_id, tr)
    columns = ["database", "table", "size_bytes", "rows", "growth_bytes"]
    if last_ts is None:
        return pd.DataFrame(columns=columns)
    h = schema.table_size_history
    user = sa.and_(h.c.cluster_id == cluster_id, h.c.db_name.not_in(sorted(SYSTEM_DATABASES)))
    now = reader.frame(
        sa.select(h.c.db_name, h.c.table_name, h.c.data_bytes, h.c.row_count)
        .where(user, h.c.ts == last_ts)
        .order_by(h.c.data_bytes.desc().nulls_last(), h.c.db_name, h.c.table_name)
        .limit(limit)
    )
    then = reader.frame(
        sa.select(h.c.db_name, h.c.table_name, h.c.data_bytes.label("before")).where(user, h.c.ts == first_ts)
    )
    df = now.merge(then, on=["db_name", "table_name"], how="left")
    df["growth_bytes"] = (df["data_bytes"] - df["before"]) if first_ts != last_ts else None
    names = {"db_name": "database", "table_name": "table", "data_bytes": "size_bytes", "row_count": "rows"}
    whole = {"size_bytes": "Int64", "rows": "Int64", "growth_bytes": "Int64"}  # a gap stays a gap, not 1.0e12
    return df.rename(columns=names)[columns].astype(whole)


def data_size(reader: Reader, cluster_id: int, tr: TimeRange) -> pd.DataFrame:
    """The total data size (`total_data_bytes`, user tables, every replica) at each statistics
    pass of the range that read it, oldest first: how fast the cluster's data grows, which the
    newest pass alone cannot say. A failed pass stored no size and is left out, not drawn as 0."""
    d = schema.data_statistics
    query = (
        sa.select(d.c.ts, d.c.total_data_bytes)
        .where(d.c.cluster_id == cluster_id, d.c.ts >= tr.start, d.c.ts <= tr.end, d.c.total_data_bytes.is_not(None))
        .order_by(d.c.ts)
    )
    return as_times(reader.frame(query)).astype({"total_data_bytes": "float64"})[["time", "total_data_bytes"]]


def database_sizes(reader: Reader, cluster_id: int, ts: float) -> pd.DataFrame:
    """Size, rows and tables per user database at the pass taken at `ts`, largest first: which
    databases hold the total. StarRocks' own databases are left out, as table_growth does."""
    h = schema.table_size_history
    size = sa.func.sum(h.c.data_bytes).label("size_bytes")
    query = (
        sa.select(
            h.c.db_name.label("database"),
            sa.func.count().label("tables"),
            size,
            sa.func.sum(h.c.row_count).label("rows"),
        )
        .where(h.c.cluster_id == cluster_id, h.c.ts == ts, h.c.db_name.not_in(sorted(SYSTEM_DATABASES)))
        .group_by(h.c.db_name)
        .order_by(size.desc().nulls_last(), h.c.db_name)
    )
    df = reader.frame(query)
    columns = ["database", "tables", "size_bytes", "rows"]
    return df.reindex(columns=columns).astype({"tables": "Int64", "size_bytes": "Int64", "rows": "Int64"})
