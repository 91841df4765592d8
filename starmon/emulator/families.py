"""The /metrics families the official StarRocks dashboard and alert rules read, per release.

Issue 18 asks the emulator to serve every family that StarRocks' "StarRocks Overview"
Grafana dashboard (extra/grafana) and the alert rules of its monitoring docs
(docs/en/administration/management/monitoring/alert.md) read, with the label values real
nodes emit, and only from the releases that have them. This table is that list, so a test can
check it against every profile and docs/EMULATOR_METRICS.md can say where each name comes
from. `since` is the first release that serves the family: (2, 5) means every profile here.

Read by the dashboard or the rules but deliberately not served, because no StarRocks release
emits them: `starrocks_fe_job{type="MINI"}` (MetricRepo skips MINI and UNKNOWN),
`node_info{type="be_node_num", state="dead"}` (the FE prints broker_node_num dead),
`starrocks_be_txn_request{group="be"}` (`group` is a scrape-config label), and the
node_exporter families (`node_memory_*`, `node_disk_*`, `node_filesystem_*`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .profiles import Profile

DASHBOARD = "extra/grafana StarRocks-Overview"
ALERTS = "docs monitoring/alert.md"
METRIC_REPO = "fe MetricRepo.java"
BE_METRICS = "be starrocks_metrics.cpp"
SYSTEM_METRICS = "be system_metrics.cpp"


@dataclass(frozen=True)
class Family:
    """One metric family a reader of the official dashboard or alert rules expects."""

    name: str
    role: str  # "FE" or "BE" (a CN answers like a BE)
    readers: str  # who reads it: the dashboard, the alert rules or both
    source: str  # where the name and its labels are defined
    since: tuple[int, ...] = (2, 5)
    labels: tuple[tuple[str, str], ...] = ()  # label values a panel or rule selects


def _f(name, role, readers, source, since=(2, 5), **labels) -> Family:
    return Family(name, role, readers, source, since, tuple(labels.items()))


_ENGINE_TYPES = (
    "publish",
    "report_all_tablets",
    "report_tablet",
    "finish_task",
    "delete",
    "base_compaction",
    "cumulative_compaction",
    "clone",
    "create_rollup",
    "schema_change",
    "create_tablet",
)

FAMILIES: tuple[Family, ...] = (
    # -- FE: JVM (JvmStats visited first by MetricRepo.getMetric) -----------------------------
    _f("jvm_heap_size_bytes", "FE", "dashboard, alerts", "fe PrometheusMetricVisitor.visitJvm", type="used"),
    _f("jvm_non_heap_size_bytes", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="committed"),
    _f("jvm_young_size_bytes", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="max"),
    _f("jvm_old_size_bytes", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="max"),
    _f("jvm_direct_buffer_pool_size_bytes", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="capacity"),
    _f("jvm_young_gc", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="time"),
    _f("jvm_old_gc", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="time"),
    _f("jvm_thread", "FE", "dashboard", "fe PrometheusMetricVisitor.visitJvm", type="count"),
    _f("node_info", "FE", "dashboard", "fe PrometheusMetricVisitor.getNodeInfo", type="is_master"),
    # -- FE: MetricRepo ------------------------------------------------------------------------
    _f("starrocks_fe_query_total", "FE", "dashboard, alerts", METRIC_REPO),
    _f("starrocks_fe_query_err", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_query_err_rate", "FE", "alerts", METRIC_REPO),
    _f("starrocks_fe_query_internal_err", "FE", "alerts", ALERTS + " (from 3.1.15, 3.2.11, 3.3.3)", (3, 3, 3)),
    _f("starrocks_fe_request_total", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_query_latency_ms", "FE", "dashboard, alerts", "fe visitHistogram", quantile="0.95"),
    _f("starrocks_fe_connection_total", "FE", "dashboard, alerts", METRIC_REPO),
    _f("starrocks_fe_max_journal_id", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_meta_log_count", "FE", "alerts", METRIC_REPO),
    _f("starrocks_fe_image_write", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_image_push", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_editlog_write_latency_ms", "FE", "dashboard", "fe visitHistogram", quantile="0.99"),
    _f("starrocks_fe_edit_log_write", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_scheduled_tablet_num", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_tablet_max_compaction_score", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_max_tablet_compaction_score", "FE", "alerts", METRIC_REPO),
    _f("starrocks_fe_tablet_num", "FE", "dashboard", METRIC_REPO + " (not on shared-data)"),
    _f("starrocks_fe_job", "FE", "dashboard", METRIC_REPO, job="load", type="BROKER", state="LOADING"),
    _f("starrocks_fe_job", "FE", "dashboard", METRIC_REPO, job="load", type="HADOOP", state="PENDING"),
    _f("starrocks_fe_job", "FE", "dashboard", METRIC_REPO, job="load", type="INSERT", state="ETL"),
    _f("starrocks_fe_job", "FE", "dashboard", METRIC_REPO, type="SCHEMA_CHANGE"),
    _f("starrocks_fe_job", "FE", "dashboard", METRIC_REPO, type="ROLLUP"),
    _f("starrocks_fe_load_add", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_load_finished", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_report_queue_size", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_txn_begin", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_txn_success", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_txn_failed", "FE", "dashboard, alerts", METRIC_REPO),
    _f("starrocks_fe_txn_reject", "FE", "dashboard", METRIC_REPO),
    _f("starrocks_fe_txn_running", "FE", "alerts", METRIC_REPO + " collectDbRunningTxnMetrics", (3, 3)),
    _f("starrocks_fe_thread_pool", "FE", "alerts", "fe ThreadPoolManager", type="pool_size"),
    _f("starrocks_fe_routine_load_jobs", "FE", "alerts", METRIC_REPO, state="PAUSED"),
    _f("starrocks_fe_routine_load_max_lag_of_partition", "FE", "alerts", METRIC_REPO + " (lag metrics on)"),
    # -- BE / CN -------------------------------------------------------------------------------
    _f("starrocks_be_cpu", "BE", "dashboard, alerts", SYSTEM_METRICS, mode="idle"),
    _f("starrocks_be_process_mem_bytes", "BE", "dashboard", "be mem tracker metrics"),
    _f("starrocks_be_disks_state", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_disks_data_used_capacity", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_disks_total_capacity", "BE", "dashboard, alerts", BE_METRICS),
    _f("starrocks_be_disks_avail_capacity", "BE", "dashboard, alerts", BE_METRICS),
    _f("starrocks_be_max_disk_io_util_percent", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_disk_io_time_ms", "BE", "dashboard", SYSTEM_METRICS),
    _f("starrocks_be_network_send_bytes", "BE", "dashboard", SYSTEM_METRICS),
    _f("starrocks_be_network_receive_bytes", "BE", "dashboard", SYSTEM_METRICS),
    _f("starrocks_be_process_fd_num_used", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_process_fd_num_limit_soft", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_process_thread_num", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_compaction_bytes_total", "BE", "dashboard", BE_METRICS, type="base"),
    _f("starrocks_be_compaction_bytes_total", "BE", "dashboard", BE_METRICS, type="cumulative"),
    _f("starrocks_be_push_request_write_bytes", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_push_request_write_rows", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_push_requests_total", "BE", "dashboard", BE_METRICS, status="SUCCESS"),
    _f("starrocks_be_push_requests_total", "BE", "dashboard", BE_METRICS, status="FAIL"),
    _f("starrocks_be_push_request_duration_us", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_query_scan_bytes", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_query_scan_rows", "BE", "dashboard", BE_METRICS),
    _f("starrocks_be_meta_request_total", "BE", "dashboard", BE_METRICS, type="write"),
    _f("starrocks_be_meta_request_total", "BE", "dashboard", BE_METRICS, type="read"),
    _f("starrocks_be_meta_request_duration", "BE", "dashboard", BE_METRICS, type="write"),
    _f("starrocks_be_meta_request_duration", "BE", "dashboard", BE_METRICS, type="read"),
    _f("starrocks_be_txn_request", "BE", "dashboard", BE_METRICS, type="begin"),
    _f("starrocks_be_txn_request", "BE", "dashboard", BE_METRICS, type="exec"),
    _f("starrocks_be_txn_request", "BE", "dashboard", BE_METRICS, type="commit"),
    _f("starrocks_be_txn_request", "BE", "dashboard", BE_METRICS, type="rollback"),
    _f("starrocks_be_stream_load", "BE", "dashboard", BE_METRICS, type="receive_bytes"),
    _f("starrocks_be_stream_load", "BE", "dashboard", BE_METRICS, type="load_rows"),
    _f("starrocks_be_max_tablet_rowset_num", "BE", "alerts", BE_METRICS),
    *(
        _f("starrocks_be_engine_requests_total", "BE", "dashboard, alerts", BE_METRICS, type=t, status=s)
        for t in _ENGINE_TYPES
        for s in ("total", "failed")
    ),
)


def release(profile: Profile) -> tuple[int, ...]:
    """The profile's release as numbers, `3.3.5 6d81f75` -> (3, 3, 5)."""
    return tuple(int(part) for part in profile.version.split()[0].split("."))


def serves(profile: Profile, family: Family) -> bool:
    """Whether a node of this profile's release emits the family."""
    if family.name == "starrocks_fe_tablet_num" and profile.shared_data:
        return False
    return release(profile) >= family.since
