"""Data: what is in the cluster and what is changing (from the statistics passes)."""

import time

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from starmon import read, size_history
from starmon.datastats import SYSTEM_DATABASES
from starmon.health import format_value
from starmon.readings import Status
from starmon.ui import charts, frame, grids, loaders, widgets
from starmon.ui.text import plain

MISSING = "n/a"  # what a table shows for a value the cluster did not give (the README's promise)


def sizes_as_text(tables: pd.DataFrame) -> Styler:
    """The tables with sizes shown as the cards show them ("5.9 TB"), growth signed ("+59.1 GB"),
    shares as "42.0 %": only the text on screen changes, so the columns still sort as numbers and
    the CSV keeps bytes."""
    return tables.style.format(
        {
            "size_bytes": lambda v: format_value(v, "bytes"),
            "growth_bytes": lambda v: ("+" if v > 0 else "") + format_value(v, "bytes"),
            "share": lambda v: f"{v:.1f} %",
        },
        na_rep=MISSING,
    )


def growth_header(tr: read.TimeRange, first: float | None, last: float | None) -> str:
    """What the growth column measures: over the range when its first pass came near the range's
    start (within two statistics intervals or a tenth of the range: the demo's past has hourly
    passes), else since that pass (history began later)."""
    if first is None or first == last:
        return "Growth"
    near = max(2 * loaders.config().statistics_interval_seconds, (tr.end - tr.start) / 10)
    if tr.label in read.RANGES and first - tr.start <= near:
        return f"Growth over {tr.label}"
    return f"Growth since {frame.local_time(first)}"


selection = frame.page("Data")
cluster, tr = selection.cluster, selection.range

stats = loaders.reader().statistics(cluster["id"])
if stats is None:
    st.info(
        "No data-statistics pass yet. The collector reads information_schema every "
        f"{loaders.config().statistics_interval_seconds // 60} minutes; `python collector.py --once "
        "--statistics` runs one now.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

st.caption(f"Statistics collected {frame.local_time(stats['ts'])} ({frame.ago(time.time() - stats['ts'])}).")
if stats["status"] != Status.OK:
    st.warning(f"The last pass was {stats['status']}: {plain(stats['error'])}")
own = ", ".join(sorted(SYSTEM_DATABASES))
with st.container(horizontal=True):
    st.metric(
        "Databases",
        format_value(stats["database_count"], "count"),
        border=True,
        help=f"StarRocks' own databases ({own}) are not counted.",
    )
    st.metric(
        "Tables",
        format_value(stats["table_count"], "count"),
        border=True,
        help=f"Tables outside StarRocks' own databases ({own}).",
    )
    st.metric(
        "Total size",
        format_value(stats["total_data_bytes"], "bytes"),
        border=True,
        help="DATA_LENGTH summed over those tables; includes every replica. Decimal units: 1 TB = 10^12 bytes.",
    )
    st.metric("Rows", format_value(stats["total_rows"], "count"), border=True)

st.subheader("Size over time")
zone = frame.zone()
sizes = loaders.data_size(cluster["id"], tr.start, tr.end, loaders.newest_id(cluster["id"]))
every = loaders.config().statistics_interval_seconds // 60
why = (
    f"No statistics pass read the data size in {tr.phrase}. The collector runs one every {every} minutes; "
    f"the newest was {frame.local_time(stats['ts'])}."
)
st.plotly_chart(charts.data_size(sizes, zone, why), key="data-size")

first, last = size_history.growth_span(loaders.reader(), cluster["id"], tr)
st.subheader("Databases")
if last is None:
    st.caption(f"No statistics pass with table sizes in {tr.phrase}.")
else:
    databases = loaders.database_sizes(cluster["id"], last)
    whole = databases["size_bytes"].sum()
    databases["share"] = 100 * databases["size_bytes"] / whole if whole else None
    st.caption(
        f"Sizes as of {frame.local_time(last)}, summed over each database's tables, largest first "
        f"(StarRocks' own databases, {plain(own)}, left out)."
    )
    widgets.table(
        sizes_as_text(databases),
        "databases",
        column_config=grids.config(
            "database",
            "size_bytes",
            "rows",
            tables=st.column_config.NumberColumn("Tables", format="localized"),
            share=st.column_config.NumberColumn("Share", help="Of the sizes summed here."),
        ),
        placeholder=MISSING,
    )

st.subheader("Tables")
tables = loaders.table_growth(cluster["id"], tr.start, tr.end, loaders.newest_id(cluster["id"]))
listed = f"the {len(tables):,} largest tables" if len(tables) == size_history.TABLES_SHOWN else "every table"
if last is None:
    st.caption(f"No statistics pass with table sizes in {tr.phrase}.")
elif first == last:
    st.caption(
        f"Sizes as of {frame.local_time(last)}, {listed}, largest first. Growth needs two statistics "
        f"passes inside the range; {tr.phrase} has one."
    )
else:
    st.caption(
        f"Sizes as of {frame.local_time(last)}, {listed}, largest first; click a header to sort. Growth is "
        f"the change in size since the range's first statistics pass ({frame.local_time(first)}); n/a for "
        "a table that appeared in between."
    )
widgets.table(
    sizes_as_text(tables),
    "tables",
    column_config=grids.config(
        "database",
        "table",
        "size_bytes",
        "rows",
        growth_bytes=st.column_config.NumberColumn(growth_header(tr, first, last)),
    ),
    placeholder=MISSING,
)

st.subheader("Materialized views")
views = pd.DataFrame(
    stats["materialized_views"] or [], columns=["db", "name", "active", "inactive_reason", "state", "error"]
).rename(columns={"db": "database", "state": "last_refresh"})
VIEW_COLUMNS = {
    "database": "Database",
    "name": "Materialized view",
    "active": "Active",
    "inactive_reason": st.column_config.TextColumn("Why inactive", width="medium"),
    "last_refresh": "Last refresh",
    "error": st.column_config.TextColumn("Refresh error", width="large"),
}
with st.container(horizontal=True):
    st.metric("Total", format_value(stats["mv_total"], "count"), border=True)
    st.metric("Active", format_value(stats["mv_active"], "count"), border=True)
    st.metric("Inactive", format_value(stats["mv_inactive"], "count"), border=True)
    st.metric("Last refresh failed", format_value(stats["mv_failed"], "count"), border=True)
failing = views[(views["last_refresh"] == "FAILED") | (views["active"] == False)]  # noqa: E712
if len(failing):
    st.markdown("**Failing or inactive**")
    widgets.table(failing, "failing-materialized-views", column_config=VIEW_COLUMNS, placeholder=MISSING)
    with st.expander("Full messages", icon=":material/subject:"):  # the table cuts long ones
        for mv in failing.itertuples():
            for label, text in (("why inactive", mv.inactive_reason), ("refresh error", mv.error)):
                if isinstance(text, str):
                    st.caption(plain(f"{mv.database}.{mv.name}, {label}:"))
                    st.code(text, language=None, wrap_lines=True)
with st.expander("All materialized views"):
    widgets.table(views, "materialized-views", column_config=VIEW_COLUMNS, placeholder=MISSING)

st.subheader("Schema changes")
changes = pd.DataFrame(
    stats["schema_changes"] or [], columns=["db", "table", "state", "progress", "created", "message"]
).rename(columns={"db": "database"})
st.caption(f"{stats['schema_change_running'] or 0} running, {stats['schema_change_pending'] or 0} pending.")
if len(changes):
    widgets.table(
        changes,
        "schema-changes",
        column_config={
            "database": "Database",
            "table": "Table",
            "state": "State",
            "progress": "Progress",
            "created": st.column_config.TextColumn("Created", help="As the cluster reports it, in its time zone."),
            "message": st.column_config.TextColumn("Message", width="large"),
        },
        placeholder=MISSING,
    )
else:
    st.success("No schema change is running or pending.")
