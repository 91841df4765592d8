"""Data: what is in the cluster and what is changing (from the statistics passes)."""

import time

import pandas as pd
import streamlit as st

from starmon import read
from starmon.health import format_value
from starmon.readings import Status
from starmon.ui import frame, loaders, widgets
from starmon.ui.text import plain

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
with st.container(horizontal=True):
    st.metric("Databases", format_value(stats["database_count"], "count"), border=True)
    st.metric("Tables", format_value(stats["table_count"], "count"), border=True)
    st.metric(
        "Total size",
        format_value(stats["total_data_bytes"], "bytes"),
        border=True,
        help="DATA_LENGTH summed over tables; includes every replica.",
    )
    st.metric("Rows", format_value(stats["total_rows"], "count"), border=True)

TABLE_COLUMNS = {
    "bytes": st.column_config.NumberColumn("Size", format="bytes"),
    "growth_bytes": st.column_config.NumberColumn("Growth", format="bytes"),
    "rows": st.column_config.NumberColumn("Rows", format="localized"),
}
tables = loaders.table_growth(cluster["id"], tr.start, tr.end, loaders.newest_id(cluster["id"]))

st.subheader("Largest tables")
st.caption(f"Growth is the change in size over {tr.phrase} (n/a until two passes fall in the range).")
widgets.table(read.top(tables, "bytes"), "largest-tables", column_config=TABLE_COLUMNS)

st.subheader("Fastest-growing tables")
st.caption(f"Which tables are filling the disk: growth over {tr.phrase}.")
fastest = read.top(tables, "growth_bytes")
if len(fastest):
    widgets.table(fastest, "fastest-growing-tables", column_config=TABLE_COLUMNS)
else:
    st.info("Growth needs two statistics passes inside the range.", icon=":material/hourglass_empty:")

st.subheader("Materialized views")
views = pd.DataFrame(
    stats["materialized_views"] or [], columns=["db", "name", "active", "inactive_reason", "state", "error"]
)
with st.container(horizontal=True):
    st.metric("Total", format_value(stats["mv_total"], "count"), border=True)
    st.metric("Active", format_value(stats["mv_active"], "count"), border=True)
    st.metric("Inactive", format_value(stats["mv_inactive"], "count"), border=True)
    st.metric("Last refresh failed", format_value(stats["mv_failed"], "count"), border=True)
failing = views[(views["state"] == "FAILED") | (views["active"] == False)]  # noqa: E712
if len(failing):
    st.markdown("**Failing or inactive**")
    widgets.table(failing, "failing-materialized-views")
with st.expander("All materialized views"):
    widgets.table(views, "materialized-views")

st.subheader("Schema changes")
changes = pd.DataFrame(
    stats["schema_changes"] or [], columns=["db", "table", "state", "progress", "created", "message"]
)
st.caption(f"{stats['schema_change_running'] or 0} running, {stats['schema_change_pending'] or 0} pending.")
if len(changes):
    widgets.table(changes, "schema-changes")
else:
    st.success("No schema change is running or pending.")
