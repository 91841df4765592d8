"""Performance: queries, latency and errors over the selected range, per FE too; then what an SRE
reads next to them on StarRocks' own dashboard: connections, running queries, transactions, loads
and routine-load lag."""

import streamlit as st

from starmon.columns import PERFORMANCE_COLUMNS
from starmon.coverage import why_empty
from starmon.ui import charts, frame, loaders

cluster = frame.page("Performance").cluster


@frame.live
def performance() -> None:
    tr = frame.live_range()
    newest = loaders.newest_id(cluster["id"])
    zone = frame.zone()
    why = why_empty(tr, loaders.held(cluster["id"], tr.start, tr.end, newest), frame.local_time)
    df = loaders.series(
        cluster["id"],
        tr.start,
        tr.end,
        PERFORMANCE_COLUMNS,
        newest,
    )
    marks = frame.marks(cluster["id"], tr, newest)
    mark = lambda fig: charts.spanning(charts.with_events(fig, marks, zone), tr.start, tr.end, zone)  # noqa: E731
    st.caption(f"{tr.title}, {tr.bucket} s buckets, times in {zone}.")
    left, right = st.columns(2)
    left.plotly_chart(
        mark(charts.lines(df, {"qps": "QPS", "rps": "RPS"}, "Queries and requests per second", zone, why)), key="qps"
    )
    right.plotly_chart(
        mark(
            charts.lines(
                df,
                {"query_latency_p50": "p50", "query_latency_p95": "p95", "query_latency_p99": "p99"},
                "Query latency",
                zone,
                why,
            )
        ),
        key="latency",
    )
    left.plotly_chart(
        mark(
            charts.lines(
                df, {"query_error_rate": "errors", "query_timeout_rate": "timeouts"}, "Failed queries", zone, why
            )
        ),
        key="errors",
    )
    fes = loaders.node_series(cluster["id"], tr.start, tr.end, ("qps", "query_latency_p99"), "FE", newest)
    right.plotly_chart(mark(charts.per_node(fes, "qps", "QPS per FE", zone, average=False, why=why)), key="fe_qps")
    st.plotly_chart(
        mark(charts.per_node(fes, "query_latency_p99", "p99 latency per FE", zone, average=False, why=why)),
        key="fe_p99",
    )

    st.subheader("Connections, transactions and loads")
    left, right = st.columns(2)
    left.plotly_chart(mark(charts.lines(df, {"connections": "open"}, "Open connections", zone, why)), key="connections")
    right.plotly_chart(
        mark(charts.lines(df, {"running_queries": "running"}, "Running queries (busiest BE/CN)", zone, why)),
        key="running",
    )
    left.plotly_chart(
        mark(
            charts.lines(
                df,
                {
                    "txn_begin_per_second": "begun",
                    "txn_success_per_second": "committed",
                    "txn_failed_per_second": "failed",
                },
                "Transactions per second",
                zone,
                why,
            )
        ),
        key="transactions",
    )
    right.plotly_chart(
        mark(
            charts.lines(
                df,
                {"load_finished_per_second": "finished", "load_failed_per_second": "failed or rejected"},
                "Loads per second",
                zone,
                why,
            )
        ),
        key="loads",
    )
    left.plotly_chart(
        mark(charts.lines(df, {"routine_load_lag": "largest lag"}, "Routine-load lag", zone, why)),
        key="routine_lag",
    )


performance()
