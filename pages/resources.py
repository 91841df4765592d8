"""Resources: CPU, memory and disk node by node, disk I/O, network, compaction and tablets, the FE
JVM heap and GC, the capacity forecast and the node table."""

import math
import time

import streamlit as st

from starmon import forecast
from starmon.columns import NODE_USAGE_COLUMNS
from starmon.coverage import why_empty
from starmon.read import TimeRange
from starmon.ui import charts, frame, loaders, nodes
from starmon.ui.text import plain

cluster = frame.page("Resources").cluster


@frame.live
def resources() -> None:
    tr = frame.live_range()
    newest = loaders.newest_id(cluster["id"])
    zone = frame.zone()
    why = why_empty(tr, loaders.held(cluster["id"], tr.start, tr.end, newest), frame.local_time)
    series = loaders.node_series(
        cluster["id"],
        tr.start,
        tr.end,
        NODE_USAGE_COLUMNS,
        None,
        newest,
    )
    workers = series[series["role"] != "FE"].copy()
    workers["disk_pct"] = 100 * workers["disk_used_bytes"] / workers["disk_total_bytes"]
    marks = frame.marks(cluster["id"], tr, newest)
    mark = lambda fig: charts.spanning(charts.with_events(fig, marks, zone), tr.start, tr.end, zone)  # noqa: E731
    st.caption(f"{tr.title}, {tr.bucket} s buckets, times in {zone}; dashed lines are the cluster average.")
    left, right = st.columns(2)
    left.plotly_chart(mark(charts.per_node(workers, "cpu_pct", "CPU per node", zone, why=why)), key="cpu")
    right.plotly_chart(mark(charts.per_node(workers, "disk_pct", "Disk used per node", zone, why=why)), key="disk")
    left.plotly_chart(mark(charts.per_node(workers, "mem_pct", "Memory per node", zone, why=why)), key="mem")
    right.plotly_chart(
        mark(charts.per_node(workers, "mem_used_bytes", "Memory used per node, bytes", zone, why=why)),
        key="mem_bytes",
    )
    left.plotly_chart(
        mark(charts.per_node(workers, "disk_io_util_pct", "Disk I/O utilisation (busiest disk)", zone, why=why)),
        key="disk_io",
    )
    right.plotly_chart(
        mark(charts.per_node(workers, "compaction_score", "Compaction score", zone, average=False, why=why)),
        key="compaction",
    )
    left.plotly_chart(
        mark(charts.per_node(workers, "net_receive_bytes_per_second", "Network received per node", zone, why=why)),
        key="net_in",
    )
    right.plotly_chart(
        mark(charts.per_node(workers, "net_send_bytes_per_second", "Network sent per node", zone, why=why)),
        key="net_out",
    )
    left.plotly_chart(
        mark(charts.per_node(workers, "tablet_count", "Tablets per node", zone, average=False, why=why)),
        key="tablets",
    )

    st.subheader("FE JVM")
    fes = loaders.node_series(
        cluster["id"],
        tr.start,
        tr.end,
        ("jvm_heap_used_bytes", "jvm_heap_max_bytes", "jvm_gc_ms_per_second"),
        "FE",
        newest,
    )
    fes["heap_pct"] = 100 * fes["jvm_heap_used_bytes"] / fes["jvm_heap_max_bytes"]
    left, right = st.columns(2)
    left.plotly_chart(
        mark(charts.per_node(fes, "heap_pct", "FE JVM heap used", zone, average=False, why=why)), key="heap"
    )
    right.plotly_chart(
        mark(charts.per_node(fes, "jvm_heap_used_bytes", "FE JVM heap used, bytes", zone, average=False, why=why)),
        key="heap_bytes",
    )
    left.plotly_chart(
        mark(charts.per_node(fes, "jvm_gc_ms_per_second", "FE JVM GC time", zone, average=False, why=why)),
        key="gc",
    )

    st.subheader("Capacity")
    window = loaders.config().forecast_window_days
    capacity = loaders.forecast(cluster["id"], window, newest)
    widest = max((charts.band_pct(f) for f in capacity.fits if f.capacity and f.residual_sd is not None), default=None)
    band = f" (± {widest:.2f} % at most: narrower than the lines)" if widest is not None and widest < 0.5 else ""
    st.caption(
        f"{plain(forecast.describe(capacity.headline))}. Solid lines: the 10-minute averages of the last "
        f"{window:g} days each trend is fitted on; dotted: the trend, carried on to 100 %; shaded: its 95 % "
        f"prediction band{band}."
    )
    now = math.ceil(time.time() / 60) * 60  # to the minute, so reruns share the cached look-up
    fitted = TimeRange(now - window * 86400, now, "")
    st.plotly_chart(
        charts.capacity(
            capacity.history,
            capacity.fits,
            zone,
            why=why_empty(fitted, loaders.held(cluster["id"], fitted.start, fitted.end, newest), frame.local_time),
        ),
        key="capacity",
    )

    snapshot = loaders.reader().latest(cluster["id"])
    table = nodes.table(loaders.reader().nodes(snapshot["id"]), snapshot["ts"], zone)
    st.subheader("Nodes")
    st.caption(f"As collected {frame.local_time(snapshot['ts'])}.")
    st.dataframe(table.rows, hide_index=True, key="nodes", column_config=table.columns)


resources()
