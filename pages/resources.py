"""Resources: CPU, memory and disk node by node, the node table and FE JVM heap."""

import streamlit as st

from starmon import forecast
from starmon.ui import charts, frame, loaders
from starmon.ui.text import plain

cluster = frame.page("Resources").cluster


@frame.live
def resources() -> None:
    tr = frame.live_range()
    newest = loaders.newest_id(cluster["id"])
    zone = frame.zone()
    nodes = loaders.node_series(
        cluster["id"], tr.start, tr.end, ("cpu_pct", "mem_pct", "disk_used_bytes", "disk_total_bytes"), None, newest
    )
    workers = nodes[nodes["role"] != "FE"].copy()
    workers["disk_pct"] = 100 * workers["disk_used_bytes"] / workers["disk_total_bytes"]
    st.caption(f"{tr.title}, {tr.bucket} s buckets, times in {zone}; dashed lines are the cluster average.")
    left, right = st.columns(2)
    left.plotly_chart(charts.per_node(workers, "cpu_pct", "CPU per node", zone), key="cpu")
    right.plotly_chart(charts.per_node(workers, "mem_pct", "Memory per node", zone), key="mem")
    left.plotly_chart(charts.per_node(workers, "disk_pct", "Disk used per node", zone), key="disk")
    fes = loaders.node_series(
        cluster["id"], tr.start, tr.end, ("jvm_heap_used_bytes", "jvm_heap_max_bytes"), "FE", newest
    )
    fes["heap_pct"] = 100 * fes["jvm_heap_used_bytes"] / fes["jvm_heap_max_bytes"]
    right.plotly_chart(charts.per_node(fes, "heap_pct", "FE JVM heap used", zone, average=False), key="heap")

    st.subheader("Capacity")
    window = loaders.config().forecast_window_days
    capacity = loaders.forecast(cluster["id"], window, newest)
    st.caption(
        f"{plain(forecast.describe(capacity.headline))}. Trends are fitted on the last {window:g} days "
        "of 10-minute averages, drawn as the solid lines; the band is the 95 % prediction interval."
    )
    st.plotly_chart(charts.capacity(capacity.history, capacity.fits, zone), key="capacity")

    snapshot = loaders.reader().latest(cluster["id"])
    table = loaders.reader().nodes(snapshot["id"])
    table["disk_pct"] = 100 * table["disk_used_bytes"] / table["disk_total_bytes"]
    st.subheader("Nodes")
    st.caption(f"As collected {frame.local_time(snapshot['ts'])}; last heartbeat is in the cluster's time zone.")
    st.dataframe(
        table[
            [
                "role",
                "host",
                "version",
                "alive",
                "is_leader",
                "last_heartbeat",
                "cpu_pct",
                "mem_pct",
                "disk_pct",
                "tablet_count",
                "running_queries",
                "error",
            ]
        ],
        hide_index=True,
        key="nodes",
        column_config={
            "role": "Role",
            "host": "Host",
            "version": "Version",
            "alive": "Alive",
            "is_leader": "Leader",
            "last_heartbeat": "Last heartbeat",
            "tablet_count": st.column_config.NumberColumn("Tablets"),
            "running_queries": "Running queries",
            "error": "Error",
            "cpu_pct": st.column_config.ProgressColumn("CPU", min_value=0, max_value=100, format="%.1f %%"),
            "mem_pct": st.column_config.ProgressColumn("Memory", min_value=0, max_value=100, format="%.1f %%"),
            "disk_pct": st.column_config.ProgressColumn("Disk", min_value=0, max_value=100, format="%.1f %%"),
        },
    )


resources()
