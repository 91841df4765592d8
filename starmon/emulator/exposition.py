"""Prometheus text exactly as StarRocks FEs and BEs print it (REFERENCE.md §1.2, §2.1).

FE quirks reproduced on purpose: unprefixed `jvm_*` and `node_info` with two spaces
after `# HELP`/`# TYPE`, `", "` between labels, series ordered like the FE's
PriorityQueue array (so one name can appear in two places), leader-only metrics that
read 0 on followers, and `Double.toString` number formatting.
"""

from __future__ import annotations

import heapq

from . import catalog
from .model import ClusterModel, Node

_JVM_HELP = (
    ("jvm_heap_size_bytes", "jvm heap stat"),
    ("jvm_non_heap_size_bytes", "jvm non heap stat"),
    ("jvm_young_size_bytes", "jvm young mem pool stat"),
    ("jvm_old_size_bytes", "jvm old mem pool stat"),
    ("jvm_direct_buffer_pool_size_bytes", "jvm direct buffer pool stat"),
    ("jvm_young_gc", "jvm young gc stat"),
    ("jvm_old_gc", "jvm old gc stat"),
    ("jvm_thread", "jvm thread stat"),
)

_HELP = {
    "connection_total": "total connections",
    "job": "job statistics",
    "tablet_num": "tablet number",
    "tablet_max_compaction_score": "tablet max compaction score",
    "max_journal_id": "max journal id of this frontends",
    "meta_log_count": "meta log total count",
    "scheduled_tablet_num": "number of tablets being scheduled",
    "routine_load_jobs": "routine load jobs",
    "qps": "query per second",
    "rps": "request per second",
    "query_err_rate": "query error rate",
    "max_tablet_compaction_score": "max tablet compaction score of all backends",
    "query_latency": "mean of query latency",
    "request_total": "total request",
    "query_total": "total query",
    "query_err": "total error query",
    "query_timeout": "total timeout query",
    "query_success": "total success query",
    "slow_query": "total slow query",
    "load_add": "total load submit",
    "load_finished": "total load finished",
    "edit_log_write": "counter of edit log write into bdbje",
    "txn_begin": "counter of begining transactions",
    "txn_success": "counter of success transactions",
    "txn_failed": "counter of failed transactions",
    "snmp": "All TCP packets retransmitted",
    "table_num": "count of table",
    "database_num": "count of database",
}
_COUNTERS = {
    "request_total",
    "query_total",
    "query_err",
    "query_timeout",
    "query_success",
    "slow_query",
    "load_add",
    "load_finished",
    "edit_log_write",
    "txn_begin",
    "txn_success",
    "txn_failed",
}


def java_double(x: float) -> str:
    """Format like Java's Double.toString: `0.0`, `3.4375`, `1.2E7`."""
    x = float(x)
    if x != 0 and not 1e-3 <= abs(x) < 1e7:
        mantissa, exp = f"{x:.15e}".split("e")
        mantissa = mantissa.rstrip("0")
        return f"{mantissa}0E{int(exp)}" if mantissa.endswith(".") else f"{mantissa}E{int(exp)}"
    return repr(x)


def _labels(pairs: tuple[tuple[str, str], ...], sep: str) -> str:
    if not pairs:
        return ""
    return "{" + sep.join(f'{k}="{v}"' for k, v in pairs) + "}"


def fe_metrics(model: ClusterModel, fe: Node, t: float) -> str:
    """The body of one FE's `GET /metrics` at time t."""
    leader = fe is model.leader
    lead = 1 if leader else 0
    out: list[str] = []
    used, heap_max = model.fe_heap(fe, t)
    jvm = {
        "jvm_heap_size_bytes": (("max", heap_max), ("committed", heap_max), ("used", used)),
        "jvm_non_heap_size_bytes": (("committed", 262733824), ("used", 251870312)),
        "jvm_young_size_bytes": (("committed", 1 << 30), ("used", used // 3), ("peak_used", 1 << 30), ("max", 1 << 30)),
        "jvm_old_size_bytes": (
            ("committed", heap_max // 2),
            ("used", used // 2),
            ("peak_used", heap_max // 2),
            ("max", heap_max),
        ),
        "jvm_direct_buffer_pool_size_bytes": (("count", 41), ("used", 3424513), ("capacity", 3424512)),
        "jvm_young_gc": (("count", int((t - fe.started_at) / 40)), ("time", int((t - fe.started_at) / 2))),
        "jvm_old_gc": (("count", 0), ("time", 0)),
        "jvm_thread": (("count", 431 + fe.index), ("peak_count", 468)),
    }
    for name, help_text in _JVM_HELP:
        out.append(f"# HELP  {name} {help_text}")
        out.append(f"# TYPE  {name} gauge")
        out.extend(f'{name}{{type="{k}"}} {v}' for k, v in jvm[name])

    counters = model.fe_counters(fe, t)
    txn = model.txn_counters(t)
    latency = model.fe_latency(fe, t)
    series: list[tuple[str, tuple, object]] = [("connection_total", (), model.fe_connections(fe, t))]
    for etl, state, value in (
        ("BROKER", "PENDING", 0),
        ("BROKER", "LOADING", txn["txn_running"]),
        ("INSERT", "FINISHED", txn["load_finished"]),
        ("STREAM_LOAD", "LOADING", 1),
    ):
        series.append(("job", (("job", "load"), ("type", etl), ("state", state)), value * lead))
    running_sc = sum(1 for sc in catalog.SCHEMA_CHANGES if sc.state == "RUNNING")
    series.append(("job", (("job", "alter"), ("type", "SCHEMA_CHANGE"), ("state", "running")), running_sc * lead))
    series.append(("job", (("job", "alter"), ("type", "ROLLUP"), ("state", "running")), 0))
    for be in model.backends:
        if not model.profile.shared_data:
            series.append(("tablet_num", (("backend", f"{be.host}:9050"),), be.tablets * lead))
        series.append(
            ("tablet_max_compaction_score", (("backend", f"{be.host}:9050"),), model.be_compaction_score(be, t) * lead)
        )
    series += [
        ("max_journal_id", (), 2_380_000 + int(t - model.origin)),
        ("meta_log_count", (), 31_944),
        ("scheduled_tablet_num", (), 0),
        ("routine_load_jobs", (("state", "RUNNING"),), 2 * lead),
        ("routine_load_jobs", (("state", "PAUSED"),), 0),
        ("qps", (), model.fe_qps_gauge(fe, t)),
        ("rps", (), model.fe_qps_gauge(fe, t) * 1.4),
        ("query_err_rate", (), model.fe_qps_gauge(fe, t) * model.workload.error_fraction),
        (
            "max_tablet_compaction_score",
            (),
            max((model.be_compaction_score(be, t) for be in model.backends), default=0) * lead,
        ),
    ]
    series += [("query_latency", (("type", k),), v) for k, v in latency.items()]
    series += [
        (name, (), counters[name])
        for name in ("request_total", "query_total", "query_err", "query_timeout", "query_success", "slow_query")
    ]
    series += [
        ("load_add", (), txn["load_add"] * lead),
        ("load_finished", (), txn["load_finished"] * lead),
        ("edit_log_write", (), 2_380_000 + int(t - model.origin)),
    ]
    series += [(k, (), txn[k] * lead) for k in ("txn_begin", "txn_success", "txn_failed")]
    series += [("snmp", (("name", "tcp_retrans_segs"),), 1212), ("snmp", (("name", "tcp_in_errs"),), 0)]

    # The FE keeps its metrics in a PriorityQueue and prints its backing array as is.
    heap: list[tuple[str, int, tuple, object]] = []
    for seq, (name, labels, value) in enumerate(series):
        heapq.heappush(heap, (name, seq, labels, value))
    seen: set[str] = set()
    for name, _seq, labels, value in heap:
        full = f"starrocks_fe_{name}"
        if name not in seen:
            seen.add(name)
            out.append(f"# HELP {full} {_HELP[name]}")
            out.append(f"# TYPE {full} {'counter' if name in _COUNTERS else 'gauge'}")
        text = java_double(value) if isinstance(value, float) else str(value)
        out.append(f"{full}{_labels(labels, ', ')} {text}")

    if model.profile.name != "2.5":
        out += ["# HELP starrocks_fe_table_num count of table", "# TYPE starrocks_fe_table_num gauge"]
        for db in catalog.DATABASES:
            n = sum(1 for tb in catalog.TABLES if tb.db == db)
            out.append(f'starrocks_fe_table_num{{db_name="{db}"}} {n}')
        out += [
            "# HELP starrocks_fe_database_num count of database",
            "# TYPE starrocks_fe_database_num gauge",
            f"starrocks_fe_database_num {len(catalog.DATABASES)}",
        ]

    total = counters["query_total"]
    out += ["# HELP starrocks_fe_query_latency_ms ", "# TYPE starrocks_fe_query_latency_ms summary"]
    for q, key in (
        ("0.75", "75_quantile"),
        ("0.95", "95_quantile"),
        ("0.98", "99_quantile"),
        ("0.99", "99_quantile"),
        ("0.999", "999_quantile"),
    ):
        out.append(f'starrocks_fe_query_latency_ms{{quantile="{q}"}} {java_double(latency[key])}')
    out.append(f"starrocks_fe_query_latency_ms_sum {java_double(total * latency['mean'])}")
    out.append(f"starrocks_fe_query_latency_ms_count {total}")

    alive_fes = sum(model.alive(f) for f in model.frontends)
    bes = [b for b in model.backends if b.role == "BE"]
    cns = [b for b in model.backends if b.role == "CN"]
    out.append("# TYPE  node_info gauge")
    node_info = [
        ("fe_node_num", "total", len(model.frontends)),
        ("fe_node_num", "alive", alive_fes),
        ("be_node_num", "total", len(bes)),
        ("be_node_num", "alive", sum(map(model.alive, bes))),
        ("be_node_num", "decommissioned", 0),
        ("broker_node_num", "dead", 0),
        ("cn_node_num", "total", len(cns)),
        ("cn_node_num", "alive", sum(map(model.alive, cns))),
    ]
    out += [f'node_info{{type="{k}", state="{s}"}} {v}' for k, s, v in node_info]
    if leader:
        out.append('node_info{type="is_master"} 1')
    return "\n".join(out) + "\n"


def be_metrics(model: ClusterModel, be: Node, t: float) -> str:
    """The body of one BE's (or CN's) `GET /metrics`: TYPE lines only, `,` between labels."""
    disk = model.be_disk(be, t)
    half_total = disk["total"] // 2
    paths = {"/data1/starrocks/storage": 0.97, "/data2/starrocks/storage": 1.03}
    mem_bytes = int(be.mem_limit * model.be_mem_pct(be, t) / 100)
    score = model.be_compaction_score(be, t)
    span = t - be.started_at
    families: dict[str, tuple[str, list[tuple[tuple, object]]]] = {
        "cpu": ("counter", [((("mode", k),), v) for k, v in sorted(model.be_cpu_jiffies(be, t).items())]),
        "disks_total_capacity": ("gauge", [((("path", p),), half_total) for p in paths]),
        "disks_avail_capacity": (
            "gauge",
            [((("path", p),), int(disk["avail"] / 2 * (2 - f))) for p, f in paths.items()],
        ),
        "disks_data_used_capacity": (
            "gauge",
            [((("path", p),), int(disk["data_used"] / 2 * f)) for p, f in paths.items()],
        ),
        "disks_state": ("gauge", [((("path", p),), 1) for p in paths]),
        "process_mem_bytes": ("gauge", [((), mem_bytes)]),
        "query_mem_bytes": ("gauge", [((), mem_bytes // 5)]),
        "load_mem_bytes": ("gauge", [((), mem_bytes // 12)]),
        "metadata_mem_bytes": ("gauge", [((), mem_bytes // 20)]),
        "compaction_mem_bytes": ("gauge", [((), mem_bytes // 30)]),
        "storage_page_cache_mem_bytes": ("gauge", [((), mem_bytes // 3)]),
        "jemalloc_allocated_bytes": ("gauge", [((), int(mem_bytes * 0.9))]),
        "tablet_base_max_compaction_score": ("gauge", [((), max(1, score // 4))]),
        "tablet_cumulative_max_compaction_score": ("gauge", [((), score)]),
        "max_tablet_rowset_num": ("gauge", [((), 12 + score)]),
        "query_scan_bytes": ("counter", [((), int(span * 52_000_000))]),
        "query_scan_rows": ("counter", [((), int(span * 410_000))]),
        "fragment_requests_total": ("counter", [((), int(span * 3.1))]),
        "fragment_request_duration_us": ("counter", [((), int(span * 3.1 * 8200))]),
        "plan_fragment_count": ("gauge", [((), model.be_running_queries(be, t))]),
        "network_receive_bytes": ("counter", [((("device", "eth0"),), int(span * 2_100_000))]),
        "network_send_bytes": ("counter", [((("device", "eth0"),), int(span * 1_800_000))]),
        "engine_requests_total": (
            "counter",
            [
                ((("type", "base_compaction"), ("status", "failed")), 0),
                ((("type", "base_compaction"), ("status", "total")), int(span / 700)),
                ((("type", "cumulative_compaction"), ("status", "failed")), int(span / 90000)),
                ((("type", "cumulative_compaction"), ("status", "total")), int(span / 30)),
            ],
        ),
        "process_fd_num_used": ("gauge", [((), 1024 + be.index)]),
        "process_thread_num": ("gauge", [((), 812)]),
    }
    out = []
    for name in sorted(families):
        kind, rows = families[name]
        full = f"starrocks_be_{name}"
        out.append(f"# TYPE {full} {kind}")
        out.extend(f"{full}{_labels(labels, ',')} {value}" for labels, value in rows)
    return "\n".join(out) + "\n"
