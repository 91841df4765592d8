"""A BE's (or CN's) `GET /metrics` of realistic size, as StarRocks prints it (REFERENCE.md §2.1).

A real BE sends well over a thousand lines: per storage path, per disk device, per network
device, per thread pool, and a long tail of counters nobody graphs. The collector reads a few
names and skips the rest (starmon/aggregate.py BE_METRICS), so the emulator sends the whole
answer to keep that skipping honest and its cost measured (docs/BENCHMARKS.md). Names, types
and labels come from be/src/util/starrocks_metrics.{h,cpp} and system_metrics.cpp; the families
the official dashboard and alert rules read are listed in families.py.

Format: `# TYPE` lines only (no HELP), `,` between labels, families in name order. Every value
is a pure function of (node, t): counters are rates times the process's uptime, so they only
grow and reset on a restart.
"""

from __future__ import annotations

from functools import lru_cache

from .families import release
from .model import ClusterModel, Node, unit_hash

_PATHS = {"/data1/starrocks/storage": 0.97, "/data2/starrocks/storage": 1.03}
_DEVICES = {"vda": 0.15, "vdb": 0.95, "vdc": 1.05}  # root disk, then one disk per storage path
_NETWORK = {"eth0": 1.0, "lo": 0.04}

# (type, status) of engine_requests_total -> seconds between requests per BE; failures per day.
_ENGINE = {
    "base_compaction": (700, 0),
    "clone": (7200, 0.3),
    "create_rollup": (86400, 0),
    "create_tablet": (600, 0),
    "cumulative_compaction": (30, 1),
    "delete": (3600, 0),
    "finish_task": (2, 0),
    "publish": (0.8, 2),
    "report_all_tablets": (60, 0),
    "report_disk": (60, 0),
    "report_tablet": (10, 0),
    "report_task": (10, 0),
    "schema_change": (43200, 0),
    "update_compaction": (120, 0),
}
_ENGINE_TOTAL_ONLY = {"drop_tablet": 900, "storage_migrate": 86400}

# BE thread pools with METRICS_DEFINE_THREAD_POOL (starrocks_metrics.h), from 3.x releases.
_THREAD_POOLS = (
    "publish_version",
    "async_delta_writer",
    "memtable_flush",
    "segment_replicate",
    "segment_flush",
    "update_apply",
    "pk_index_compaction",
    "compact_pool",
    "drop",
    "create_tablet",
    "alter_tablet",
    "clear_transaction",
    "storage_medium_migrate",
    "check_consistency",
    "manual_compaction",
    "compaction_control",
    "update_schema",
    "upload",
    "download",
    "make_snapshot",
    "release_snapshot",
    "move_dir",
    "update_tablet_meta_info",
    "drop_auto_increment_map_dir",
    "clone",
    "remote_snapshot",
    "replicate_snapshot",
)
_POOL_GAUGES = (
    "threadpool_size",
    "executed_tasks_total",
    "pending_time_ns_total",
    "execute_time_ns_total",
    "queue_count",
    "running_threads",
    "active_threads",
)
_POOL_NAMES = frozenset(f"starrocks_be_{pool}_{suffix}" for pool in _THREAD_POOLS for suffix in _POOL_GAUGES)

# Counters no panel reads (starrocks_metrics.h), served so an answer has a real BE's length.
_TAIL_COUNTERS = (
    "http_requests_total",
    "http_request_send_bytes",
    "load_channel_add_chunks_total",
    "load_channel_add_chunks_eos_total",
    "load_channel_add_chunks_duration_us",
    "load_channel_add_chunks_wait_memtable_duration_us",
    "load_channel_add_chunks_wait_writer_duration_us",
    "load_channel_add_chunks_wait_replica_duration_us",
    "async_delta_writer_execute_total",
    "async_delta_writer_task_total",
    "async_delta_writer_task_execute_duration_us",
    "async_delta_writer_task_pending_duration_us",
    "delta_writer_commit_task_total",
    "delta_writer_wait_flush_task_total",
    "delta_writer_wait_flush_duration_us",
    "delta_writer_pk_preload_duration_us",
    "delta_writer_wait_replica_duration_us",
    "delta_writer_txn_commit_duration_us",
    "memtable_flush_total",
    "memtable_finalize_duration_us",
    "memtable_flush_duration_us",
    "memtable_flush_io_time_us",
    "memtable_flush_memory_bytes_total",
    "memtable_flush_disk_bytes_total",
    "segment_flush_total",
    "segment_flush_duration_us",
    "segment_flush_io_time_us",
    "segment_flush_bytes_total",
    "update_rowset_commit_request_total",
    "update_rowset_commit_request_failed",
    "update_rowset_commit_apply_total",
    "update_rowset_commit_apply_duration_us",
    "update_del_vector_deletes_total",
    "update_del_vector_deletes_new",
    "column_partial_update_apply_total",
    "column_partial_update_apply_duration_us",
    "delta_column_group_get_total",
    "delta_column_group_get_hit_cache",
    "delta_column_group_get_non_pk_total",
    "delta_column_group_get_non_pk_hit_cache",
    "primary_key_table_error_state_total",
    "load_rows",
    "load_bytes",
    "readable_blocks_total",
    "writable_blocks_total",
    "blocks_created_total",
    "blocks_deleted_total",
    "bytes_read_total",
    "bytes_written_total",
    "disk_sync_total",
)
_TAIL_GAUGES = (
    "pipe_scan_executor_queuing",
    "pipe_driver_schedule_count",
    "pipe_driver_execution_time",
    "pipe_driver_queue_len",
    "pipe_poller_block_queue_len",
    "memory_pool_bytes_total",
    "process_fd_num_limit_hard",
    "tablet_update_max_compaction_score",
    "wait_cumulative_compaction_task_num",
    "wait_base_compaction_task_num",
    "running_cumulative_compaction_task_num",
    "running_base_compaction_task_num",
    "running_update_compaction_task_num",
    "cumulative_compaction_task_cost_time_ms",
    "base_compaction_task_cost_time_ms",
    "update_compaction_task_cost_time_ns",
    "base_compaction_task_byte_per_second",
    "cumulative_compaction_task_byte_per_second",
    "update_compaction_task_byte_per_second",
    "push_request_write_bytes_per_second",
    "query_scan_bytes_per_second",
    "max_network_send_bytes_rate",
    "max_network_receive_bytes_rate",
    "blocks_open_reading",
    "blocks_open_writing",
    "update_primary_index_num",
    "update_primary_index_bytes_total",
    "update_del_vector_num",
    "update_del_vector_dels_num",
    "update_del_vector_bytes_total",
    "rowset_count_generated_and_in_use",
    "unused_rowsets_count",
    "broker_count",
    "data_stream_receiver_count",
    "fragment_endpoint_count",
    "active_scan_context_count",
    "load_channel_count",
    "result_buffer_block_count",
    "result_block_queue_count",
    "routine_load_task_count",
    "small_file_cache_count",
    "stream_load_pipe_count",
    "brpc_endpoint_stub_count",
    "tablet_writer_count",
)
_MEM_SHARES = {  # memory trackers, as a share of process memory
    "query_mem_bytes": 1 / 5,
    "load_mem_bytes": 1 / 12,
    "metadata_mem_bytes": 1 / 20,
    "tablet_metadata_mem_bytes": 1 / 60,
    "rowset_metadata_mem_bytes": 1 / 80,
    "segment_metadata_mem_bytes": 1 / 90,
    "column_metadata_mem_bytes": 1 / 120,
    "tablet_schema_mem_bytes": 1 / 400,
    "column_zonemap_index_mem_bytes": 1 / 300,
    "ordinal_index_mem_bytes": 1 / 350,
    "bitmap_index_mem_bytes": 1 / 900,
    "bloom_filter_index_mem_bytes": 1 / 700,
    "segment_zonemap_mem_bytes": 1 / 500,
    "short_key_index_mem_bytes": 1 / 800,
    "compaction_mem_bytes": 1 / 30,
    "schema_change_mem_bytes": 1 / 1000,
    "storage_page_cache_mem_bytes": 1 / 3,
    "update_mem_bytes": 1 / 40,
    "clone_mem_bytes": 1 / 2000,
    "consistency_mem_bytes": 1 / 5000,
    "jemalloc_allocated_bytes": 0.9,
    "jemalloc_active_bytes": 0.93,
    "jemalloc_resident_bytes": 0.97,
    "jemalloc_mapped_bytes": 1.05,
    "jemalloc_retained_bytes": 0.3,
    "jemalloc_metadata_bytes": 1 / 50,
}

Rows = list[tuple[str, object]]  # (label block as printed, value)


@lru_cache(maxsize=8192)
def _share(*key: object) -> float:
    """unit_hash, remembered: the tail's per-node constants are asked for on every answer."""
    return unit_hash(*key)


def _one(value) -> Rows:
    return [("", value)]


def _by(label: str, values: dict) -> Rows:
    return [(f'{{{label}="{k}"}}', v) for k, v in values.items()]


# Network bytes per busy core-second (received, sent): traffic follows the node's work, its daily
# shape and its differences from the other nodes, as the CPU does.
_NET_PER_BUSY_CORE_SECOND = (520_000, 450_000)


def network_bytes(model: ClusterModel, be: Node, t: float) -> dict[str, dict[str, int]]:
    """The host's network counters by direction ("receive", "send") and device, since it booted:
    eth0 carries the node's traffic, lo a little of its own."""
    jiffies = model.be_cpu_jiffies(be, t)
    busy_core_seconds = (sum(jiffies.values()) - jiffies["idle"]) / 100
    return {
        direction: {d: int(busy_core_seconds * per * f) for d, f in _NETWORK.items()}
        for direction, per in zip(("receive", "send"), _NET_PER_BUSY_CORE_SECOND)
    }


def disk_io_util(model: ClusterModel, be: Node, t: float) -> int:
    """max_disk_io_util_percent: the busiest device's I/O time share over the BE's last 15 s window."""
    return min(99, int(100 * model.be_cpu_busy(be, t) * 1.2 * max(_DEVICES.values())))


def be_metrics(model: ClusterModel, be: Node, t: float, only: frozenset[str] | None = None) -> str:
    """The body of one BE's (or CN's) `GET /metrics` at time t.

    With `only` (full names), just those families: the demo's replay renders thousands of past
    answers in-process and would otherwise spend most of its time printing lines the collector
    skips unread (docs/BENCHMARKS.md). Served answers are always whole.
    """

    def want(name: str) -> bool:
        return only is None or f"starrocks_be_{name}" in only

    span = t - be.started_at
    disk = model.be_disk(be, t)
    mem_bytes = int(be.mem_limit * model.be_mem_pct(be, t) / 100)
    score = model.be_compaction_score(be, t)
    jiffies = model.be_cpu_jiffies(be, t)
    busy_ms = (jiffies["user"] + jiffies["system"]) * 10 / be.cores  # one core's busy time
    io_util = disk_io_util(model, be, t)
    net = network_bytes(model, be, t)
    key = (model.workload.seed, model.name, be.index)

    def grows(name: str, per_second: float) -> int:
        """A counter at a stable per-node rate: the same node always says the same."""
        return int(span * per_second * (0.5 + _share(*key, name)))

    counters: dict[str, Rows] = {
        "cpu": _by("mode", dict(sorted(jiffies.items()))),
        "engine_requests_total": _engine_requests(span),
        "push_requests_total": [('{status="SUCCESS"}', int(span / 50)), ('{status="FAIL"}', int(span / 86400))],
        "push_request_duration_us": _one(int(span / 50) * 182_000),
        "push_request_write_bytes": _one(int(span / 50) * 9_400_000),
        "push_request_write_rows": _one(int(span / 50) * 61_000),
        "compaction_bytes_total": _by(
            "type", {"base": int(span * 310_000), "cumulative": int(span * 1_900_000), "update": int(span * 90_000)}
        ),
        "compaction_deltas_total": _by(
            "type", {"base": int(span / 700) * 40, "cumulative": int(span / 30) * 6, "update": int(span / 120) * 4}
        ),
        "meta_request_total": _by("type", {"write": int(span * 3.2), "read": int(span * 0.4)}),
        "meta_request_duration": _by("type", {"write": int(span * 3.2) * 410, "read": int(span * 0.4) * 95}),
        "txn_request": _by(
            "type",
            {
                "begin": int(span * 0.05),
                "commit": int(span * 0.05) - int(span / 20000),
                "rollback": int(span / 20000),
                "exec": int(span * 0.05),
            },
        ),
        "stream_load": _by("type", {"receive_bytes": int(span * 2_300_000), "load_rows": int(span * 15_500)}),
        "segment_read": _by(
            "type",
            {
                "segment_total_read_times": int(span * 95),
                "segment_total_row_num": int(span * 2_900_000),
                "segment_rows_by_short_key": int(span * 1_100_000),
                "segment_rows_read_by_zone_map": int(span * 700_000),
            },
        ),
        "query_scan_bytes": _one(int(span * 52_000_000)),
        "query_scan_rows": _one(int(span * 410_000)),
        "fragment_requests_total": _one(int(span * 3.1)),
        "fragment_request_duration_us": _one(int(span * 3.1 * 8200)),
        "network_receive_bytes": _by("device", net["receive"]),
        "network_send_bytes": _by("device", net["send"]),
        "network_receive_packets": _by("device", {d: v // 1400 for d, v in net["receive"].items()}),
        "network_send_packets": _by("device", {d: v // 1400 for d, v in net["send"].items()}),
        "snmp": _by(
            "name",
            {
                "tcp_in_errs": 0,
                "tcp_retrans_segs": grows("retrans", 0.02),
                "tcp_in_segs": int(span * 2_900),
                "tcp_out_segs": int(span * 2_700),
            },
        ),
        **{name: _one(grows(name, 50)) for name in _TAIL_COUNTERS if want(name)},
    }
    for metric, per_ms in (
        ("disk_io_time_ms", 1.2),
        ("disk_io_time_weigthed", 3.1),
        ("disk_read_time_ms", 0.5),
        ("disk_write_time_ms", 0.8),
    ):
        counters[metric] = _by("device", {d: int(busy_ms * per_ms * f) for d, f in _DEVICES.items()})
    for metric, per_s in (
        ("disk_reads_completed", 120),
        ("disk_writes_completed", 260),
        ("disk_bytes_read", 31_000_000),
        ("disk_bytes_written", 19_000_000),
    ):
        counters[metric] = _by("device", {d: int(span * per_s * f) for d, f in _DEVICES.items()})

    half = disk["total"] // 2
    gauges: dict[str, Rows] = {
        "disks_total_capacity": _by("path", {p: half for p in _PATHS}),
        "disks_avail_capacity": _by("path", {p: int(disk["avail"] / 2 * (2 - f)) for p, f in _PATHS.items()}),
        "disks_data_used_capacity": _by("path", {p: int(disk["data_used"] / 2 * f) for p, f in _PATHS.items()}),
        "disks_state": _by("path", {p: 1 for p in _PATHS}),
        "max_disk_io_util_percent": _one(io_util),
        "process_mem_bytes": _one(mem_bytes),
        "tablet_base_max_compaction_score": _one(max(1, score // 4)),
        "tablet_cumulative_max_compaction_score": _one(score),
        "max_tablet_rowset_num": _one(12 + score),
        "plan_fragment_count": _one(model.be_running_queries(be, t)),
        "process_fd_num_used": _one(1024 + be.index),
        "process_fd_num_limit_soft": _one(65535),
        "process_thread_num": _one(812),
        "fd_num_limit": _one(13_052_138),
        "fd_num_used": _one(19_520 + 7 * be.index),
        **{name: _one(int(mem_bytes * share)) for name, share in _MEM_SHARES.items() if want(name)},
        **{name: _one(int(1000 * _share(*key, name))) for name in _TAIL_GAUGES if want(name)},
    }
    if release(model.profile) >= (3, 1) and (only is None or not only.isdisjoint(_POOL_NAMES)):
        window = int(t // 15)
        for pool in _THREAD_POOLS:
            size = 1 + int(16 * _share(*key, pool))
            busy = int(size * unit_hash(*key, pool, window))
            for suffix in _POOL_GAUGES:
                if suffix == "threadpool_size":
                    value = size
                elif suffix in ("running_threads", "active_threads"):
                    value = busy
                elif suffix == "queue_count":
                    value = 0
                else:
                    value = grows(f"{pool}_{suffix}", 3)
                gauges[f"{pool}_{suffix}"] = _one(value)

    families = {**{n: ("counter", r) for n, r in counters.items()}, **{n: ("gauge", r) for n, r in gauges.items()}}
    out = []
    for name in sorted(filter(want, families)):
        kind, rows = families[name]
        full = f"starrocks_be_{name}"
        out.append(f"# TYPE {full} {kind}")
        out += [f"{full}{labels} {value}" for labels, value in rows]
    return "\n".join(out) + "\n"


def _engine_requests(span: float) -> Rows:
    """engine_requests_total by type and status, in the BE's registration pairs."""
    rows: Rows = []
    for kind, (every, failed_per_day) in _ENGINE.items():
        rows.append((f'{{type="{kind}",status="failed"}}', int(span / 86400 * failed_per_day)))
        rows.append((f'{{type="{kind}",status="total"}}', int(span / every)))
    rows += [(f'{{type="{kind}",status="total"}}', int(span / every)) for kind, every in _ENGINE_TOTAL_ONLY.items()]
    return rows
