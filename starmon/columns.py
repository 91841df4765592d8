"""Every stored metric, described once: column name, type, unit and meaning.

These descriptions build the snapshot tables (`starmon.schema`, with the unit and meaning
as column comments) and say how each column rolls up: into chart buckets (`starmon.read`)
and the hourly tier (`starmon.rollup`). Health cards carry their own units (`starmon.health`);
chart units are still given by the pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INT64_MAX = 2**63 - 1  # the largest value a BIGINT column holds, on both engines


@dataclass(frozen=True)
class Metric:
    name: str
    kind: type  # int or float: the column type
    unit: str  # "queries/s", "ms", "%", "bytes", "count", ...
    description: str
    rollup: str = "avg"  # how chart buckets combine values: avg for rates, max where spikes matter
    high: float | None = None  # the largest meaningful value (100 for most percentages); none below 0 is
    missing: str | None = None  # why a cluster may send no value at all, for a chart with nothing to draw

    def unusable(self, value: float | int | None) -> str | None:
        """Why `value` cannot be this metric (not finite, negative, too large), or None if it can.

        Whatever a cluster sends ends up here before it is stored: a NaN counter, a negative
        disk size or a counter of 1e30 is unknown, not a number to chart or to fail a write on.
        """
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return "not a finite number"
        if value < 0:
            return "negative"
        if self.high is not None and value > self.high:
            return f"above {self.high:g}"
        if self.kind is int and value > INT64_MAX:
            return "too large to store"
        return None


# Text the cluster sends, with the most characters each column keeps (schema.py sizes the columns by these).
NODE_TEXT = {"host": 255, "name": 255, "version": 64, "last_heartbeat": 32, "last_start_time": 32, "error": 1000}
SNAPSHOT_TEXT = {"version": 64, "error": 4000}

_MAX = {
    "query_latency_p95",
    "query_latency_p99",
    "disk_used_bytes",
    "disk_total_bytes",
    "disk_usage_pct",
    "max_compaction_score",
    "max_disk_used_pct",
    "compaction_score",
    "routine_load_lag",
    "disk_io_util_pct",
}


# Percentages that can pass 100: a process may use more memory than its limit for a while.
_OVERSHOOT = {"mem_pct", "avg_memory_usage"}


def _m(name: str, kind: type, unit: str, description: str, missing: str | None = None) -> Metric:
    high = 100.0 if unit == "%" and name not in _OVERSHOOT else None
    return Metric(name, kind, unit, description, "max" if name in _MAX else "avg", high, missing)


# Why some clusters send no value for a metric (charts say it instead of the generic "n/a").
_NO_RUNNING_QUERIES = (
    "StarRocks reports running queries per BE and CN from 3.1 on (NumRunningQueries in SHOW BACKENDS); "
    "this cluster's release does not."
)
_NO_LAG = (
    "No FE reported routine-load lag in this range. StarRocks reports it only with the FE setting "
    "enable_routine_load_lag_metrics on, and only for Kafka jobs lagging by at least "
    "min_routine_load_lag_for_metrics messages (10,000 by default)."
)


SNAPSHOT_METRICS: tuple[Metric, ...] = (
    _m("qps", float, "queries/s", "Queries per second over all FEs, from counter deltas between rounds."),
    _m("rps", float, "requests/s", "Requests (all statements) per second over all FEs."),
    _m("query_latency_p50", float, "ms", "Median query latency: the highest FE's 15 s p50 gauge."),
    _m("query_latency_p95", float, "ms", "95th percentile query latency: the highest FE's value."),
    _m("query_latency_p99", float, "ms", "99th percentile query latency: the highest FE's value."),
    _m("query_total", int, "queries", "Queries since each FE started, summed over FEs."),
    _m("query_success", int, "queries", "Successful queries since each FE started, summed over FEs."),
    _m("query_error", int, "queries", "Failed queries since each FE started, summed over FEs."),
    _m("query_timeout", int, "queries", "Timed-out queries since each FE started, summed over FEs."),
    _m("query_error_rate", float, "%", "Share of the queries since the last round that failed."),
    _m("query_timeout_rate", float, "%", "Share of the queries since the last round that timed out."),
    _m("connections", int, "connections", "Open MySQL connections, summed over FEs."),
    _m("frontend_total", int, "nodes", "FEs in the cluster."),
    _m("frontend_alive", int, "nodes", "FEs the leader reports alive."),
    _m("backend_total", int, "nodes", "BEs in the cluster."),
    _m("backend_alive", int, "nodes", "BEs the leader reports alive."),
    _m("compute_total", int, "nodes", "Compute nodes (shared-data) in the cluster."),
    _m("compute_alive", int, "nodes", "Compute nodes the leader reports alive."),
    _m("total_cpu_usage", float, "%", "CPU busy over all BE/CN hosts, weighted by cores."),
    _m("avg_cpu_usage", float, "%", "Mean CPU busy of the BE/CN hosts that reported it."),
    _m("total_memory_usage", int, "bytes", "BE/CN process memory, summed."),
    _m("avg_memory_usage", float, "%", "Mean memory use of the BE/CN processes against their limit."),
    _m("disk_total_bytes", int, "bytes", "Sum of TotalCapacity over BEs."),
    _m("disk_used_bytes", int, "bytes", "Sum of TotalCapacity - AvailCapacity over BEs."),
    _m("disk_usage_pct", float, "%", "100 x disk_used_bytes / disk_total_bytes."),
    _m("tablet_count", int, "tablets", "Tablets over all BEs (TabletNum)."),
    _m("max_compaction_score", float, "score", "Highest tablet compaction score (leader FE's view)."),
    _m("txn_running", int, "transactions", "Transactions begun but not yet finished (leader)."),
    _m("txn_success_total", int, "transactions", "Successful transactions since the leader started."),
    _m("txn_failed_total", int, "transactions", "Failed transactions since the leader started."),
    _m("load_running", int, "jobs", "Load jobs pending, loading or committing (leader)."),
    _m("load_finished_total", int, "jobs", "Load jobs finished since the leader started."),
    _m("fe_jvm_heap_used_bytes", int, "bytes", "JVM heap used on the FE with the fullest heap."),
    _m("fe_jvm_heap_max_bytes", int, "bytes", "JVM heap limit of that FE."),
    _m("fe_thread_count", int, "threads", "JVM threads of that FE."),
    # issue 18: what the official StarRocks dashboard shows next to QPS and latency
    _m(
        "running_queries",
        int,
        "queries",
        "Queries running on the busiest BE/CN (NumRunningQueries): a query spanning every node counts "
        "once on each, so the busiest node's count, not the sum, is the cluster's.",
        _NO_RUNNING_QUERIES,
    ),
    _m("txn_begin_per_second", float, "transactions/s", "Transactions begun per second (FEs' txn_begin deltas)."),
    _m(
        "txn_success_per_second",
        float,
        "transactions/s",
        "Transactions committed per second (txn_success deltas: counted once visible).",
    ),
    _m("txn_failed_per_second", float, "transactions/s", "Transactions aborted per second (txn_failed deltas)."),
    _m("load_finished_per_second", float, "loads/s", "Loads finished per second (FEs' load_finished deltas)."),
    _m(
        "load_failed_per_second",
        float,
        "loads/s",
        "Load transactions aborted or rejected per second (txn_failed + txn_reject deltas; StarRocks' "
        "alert rules read txn_failed as failed loads).",
    ),
    _m(
        "routine_load_lag",
        int,
        "messages",
        "Largest Kafka lag of a routine-load job's partition, in messages (routine_load_max_lag_of_partition).",
        _NO_LAG,
    ),
)

NODE_METRICS: tuple[Metric, ...] = (
    _m("cpu_pct", float, "%", "Host CPU busy: from /metrics jiffy deltas, else the FE's CpuUsedPct."),
    _m("mem_pct", float, "%", "Process memory against its limit (MemUsedPct)."),
    _m("mem_used_bytes", int, "bytes", "BE process memory (process_mem_bytes)."),
    _m("disk_total_bytes", int, "bytes", "TotalCapacity of the node."),
    _m("disk_used_bytes", int, "bytes", "TotalCapacity - AvailCapacity of the node."),
    _m("max_disk_used_pct", float, "%", "Fullest storage path of the node (MaxDiskUsedPct)."),
    _m("tablet_count", int, "tablets", "Tablets on the node (TabletNum)."),
    _m("compaction_score", float, "score", "Highest tablet compaction score on the node."),
    _m("running_queries", int, "queries", "Queries running on the node (NumRunningQueries).", _NO_RUNNING_QUERIES),
    _m("connections", int, "connections", "FE: open MySQL connections."),
    _m("qps", float, "queries/s", "FE: queries per second it coordinated."),
    _m("query_latency_p99", float, "ms", "FE: its p99 query latency gauge."),
    _m("query_total", int, "queries", "FE: query counter since it started."),
    _m("query_error", int, "queries", "FE: failed-query counter since it started."),
    _m("query_timeout", int, "queries", "FE: timed-out-query counter since it started."),
    _m("request_total", int, "requests", "FE: request counter since it started."),
    _m("jvm_heap_used_bytes", int, "bytes", "FE: JVM heap used."),
    _m("jvm_heap_max_bytes", int, "bytes", "FE: JVM heap limit."),
    _m("cpu_busy_jiffies", int, "jiffies", "BE/CN: cumulative busy CPU jiffies, kept to compute cpu_pct."),
    _m("cpu_total_jiffies", int, "jiffies", "BE/CN: cumulative CPU jiffies, kept to compute cpu_pct."),
    # issue 18: counters kept to compute rates (only where a rate needs them), and the per-node panels
    _m("txn_begin_total", int, "transactions", "FE: txn_begin counter since it started (the leader's grows)."),
    _m("txn_success_total", int, "transactions", "FE: txn_success counter since it started."),
    _m("txn_failed_total", int, "transactions", "FE: txn_failed counter since it started."),
    _m("txn_reject_total", int, "transactions", "FE: txn_reject counter since it started."),
    _m("load_finished_total", int, "loads", "FE: load_finished counter since it started."),
    _m("jvm_gc_time_ms", int, "ms", "FE: JVM young plus old GC time since it started, kept to compute the rate."),
    _m("jvm_gc_ms_per_second", float, "ms/s", "FE: JVM GC time per second, young plus old generation."),
    _m(
        "disk_io_util_pct",
        float,
        "%",
        "BE/CN: I/O time share of its busiest disk over the node's last 15 s (max_disk_io_util_percent).",
    ),
    _m("net_receive_bytes_per_second", int, "bytes/s", "BE/CN: network bytes received per second, lo excluded."),
    _m("net_send_bytes_per_second", int, "bytes/s", "BE/CN: network bytes sent per second, lo excluded."),
    _m("net_receive_bytes_total", int, "bytes", "BE/CN: received-bytes counter, lo excluded, kept for the rate."),
    _m("net_send_bytes_total", int, "bytes", "BE/CN: sent-bytes counter, lo excluded, kept for the rate."),
)


# What the Performance page charts per cluster and the Resources page per node; the API's
# performance and resources answers read the same columns.
PERFORMANCE_COLUMNS = (
    "qps",
    "rps",
    "query_latency_p50",
    "query_latency_p95",
    "query_latency_p99",
    "query_error_rate",
    "query_timeout_rate",
    "connections",
    "running_queries",
    "txn_begin_per_second",
    "txn_success_per_second",
    "txn_failed_per_second",
    "load_finished_per_second",
    "load_failed_per_second",
    "routine_load_lag",
)
NODE_USAGE_COLUMNS = (
    "cpu_pct",
    "mem_pct",
    "mem_used_bytes",
    "disk_used_bytes",
    "disk_total_bytes",
    "disk_io_util_pct",
    "net_receive_bytes_per_second",
    "net_send_bytes_per_second",
    "compaction_score",
    "tablet_count",
)

# Values derived from stored columns, described like them (never stored): per node on the
# pages, per cluster in Reader.series (the Overview's sparklines).
DERIVED_METRICS: tuple[Metric, ...] = (
    _m("disk_pct", float, "%", "Disk used: disk_used_bytes / disk_total_bytes of the node."),
    _m("heap_pct", float, "%", "FE JVM heap used: jvm_heap_used_bytes / jvm_heap_max_bytes."),
    _m("fe_jvm_heap_pct", float, "%", "Cluster: fe_jvm_heap_used_bytes / fe_jvm_heap_max_bytes, per bucket."),
    _m("down_pct", float, "%", "Cluster: share of the bucket's rounds that found the cluster down."),
)

SNAPSHOT_BY_NAME = {m.name: m for m in SNAPSHOT_METRICS}
NODE_BY_NAME = {m.name: m for m in NODE_METRICS}


def metric(name: str) -> Metric:
    """The description of a snapshot, node or derived metric (a name may be both a snapshot and a
    node metric, `qps`; their units agree)."""
    for metrics in (SNAPSHOT_BY_NAME, NODE_BY_NAME, {m.name: m for m in DERIVED_METRICS}):
        if name in metrics:
            return metrics[name]
    raise KeyError(f"no metric {name!r} is described")


def unit_of(name: str) -> str:
    """The unit of a snapshot, node or derived metric, as described above (charts label by it)."""
    return metric(name).unit
