"""Queries: what the cluster ran, from its audit log (tables by access, slow queries, users, the mix)."""

import pandas as pd
import streamlit as st

from starmon import clusters as registry
from starmon import queries, running
from starmon.fetch import FetchError
from starmon.health import format_value
from starmon.ui import charts, frame, grids, loaders
from starmon.ui.text import plain

selection = frame.page("Queries")
cluster, tr = selection.cluster, selection.range
data = queries.summary(loaders.reader(), cluster, tr, tr.end)

st.subheader("Running now")
config = loaders.config()
target = registry.config_of(cluster, config.clusters, loaders.secrets())
try:
    running_rows = running.running_now(target, config.timeout_seconds) if target else None
except FetchError as exc:
    st.caption(plain(f"The running queries could not be read: {exc}"))
else:
    if running_rows is None:
        st.caption("Not asked: the cluster is disabled, or its stored password cannot be decrypted.")
    elif not running_rows:
        st.caption(f"No query is running on {plain(target.fe_host)} now.")
    else:
        st.dataframe(
            pd.DataFrame(running_rows).drop(columns=["fe"]),
            hide_index=True,
            column_config=grids.config(
                "user",
                "database",
                "cpu_seconds",
                "scan_bytes",
                "scan_rows",
                "memory_bytes",
                query_id="Query ID",
                exec_seconds=st.column_config.NumberColumn("Running (s)", format="%.1f"),
                start_time=st.column_config.TextColumn("Started", help="As the FE reports it, in its time zone."),
            ),
        )
        st.caption(f"Queries sent to {plain(target.fe_host)}, as its SHOW PROC '/current_queries' lists them.")

if data["audit"] != "ok":
    st.info(plain(data["audit_message"]), icon=":material/info:")
    if data["audit"] != "error" or not data["top_users"]:
        st.stop()

with st.container(horizontal=True):
    st.metric("Active users, last hour", data["active_users_1h"], border=True)
    st.metric("Active users, last 24 h", data["active_users_24h"], border=True)
    total = sum(r["queries"] for r in data["query_mix"])
    failed = sum(r["failed"] for r in data["query_mix"])
    st.metric("Statements in range", format_value(total, "count"), border=True)
    st.metric("Failed", format_value(failed, "count"), border=True)

zone = frame.zone()
WHEN = st.column_config.DatetimeColumn  # audit times are stored in UTC; shown in the viewer's zone


def _local(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """The ISO UTC times of a column as datetimes in the viewer's zone, as every page shows times."""
    return df.assign(**{column: pd.to_datetime(df[column], utc=True).dt.tz_convert(zone)})


st.subheader("Top tables by access")
st.dataframe(
    _local(
        pd.DataFrame(
            data["top_tables_by_access"],
            columns=["database", "table", "access_count", "unique_users", "last_access", "catalog"],
        ),
        "last_access",
    ),
    hide_index=True,
    column_config=grids.config(
        "database",
        "table",
        access_count=st.column_config.NumberColumn("Accesses", format="localized"),
        unique_users=st.column_config.NumberColumn("Distinct users"),
        last_access=WHEN("Last access", format="MMM DD HH:mm", help=f"In {zone}."),
        catalog="Catalog",
    ),
)

st.subheader("Slow queries")
slow = pd.DataFrame(
    data["slow_queries"],
    columns=[
        "ts",
        "user_name",
        "db_name",
        "query_ms",
        "scan_bytes",
        "scan_rows",
        "cpu_ns",
        "mem_bytes",
        "state",
        "error_code",
        "stmt",
    ],
)
slow["cpu_seconds"] = slow.pop("cpu_ns") / 1e9
slow = slow.rename(columns={"mem_bytes": "memory_bytes"})
slow["stmt"] = slow["stmt"].str.slice(0, queries.STMT_SHOWN)
st.dataframe(
    _local(slow, "ts"),
    hide_index=True,
    column_config=grids.config(
        "user_name",
        "db_name",
        "query_ms",
        "scan_bytes",
        "scan_rows",
        "cpu_seconds",
        "memory_bytes",
        ts=WHEN("Started", format="MMM DD HH:mm:ss", help=f"In {zone}."),
        state="State",
        error_code="Error code",
        stmt=st.column_config.TextColumn("Statement (first 200 characters)", width="large"),
    ),
)

left, right = st.columns(2)
with left:
    st.subheader("Top users")
    users = pd.DataFrame(
        data["top_users"], columns=["user", "queries", "failed", "cpu_seconds", "scan_bytes", "query_ms"]
    )
    st.dataframe(
        users,
        hide_index=True,
        column_config=grids.config(
            "user",
            "queries",
            "failed",
            "cpu_seconds",
            "scan_bytes",
            query_ms=st.column_config.NumberColumn("Time (ms)", format="compact"),
        ),
    )
with right:
    st.subheader("Query mix")
    mix = pd.DataFrame(data["query_mix"], columns=["kind", "queries", "failed"])
    st.dataframe(
        mix,
        hide_index=True,
        column_config=grids.config("queries", "failed", kind="Kind"),
    )

st.subheader("Failed statements by error code")
fails = pd.DataFrame(data["failures"], columns=["ts", "error_code", "queries"])
if fails.empty:
    st.caption("No failed statements in this range.")
else:
    st.plotly_chart(charts.failures(fails, zone), key="failures")
if data["unparsed_statements"]:
    st.caption(f"{data['unparsed_statements']:,} statements so far could not be parsed; their tables are not counted.")
