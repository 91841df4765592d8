"""Prometheus text exactly as StarRocks FEs and BEs print it (REFERENCE.md §1.2, §2.1).

FE quirks reproduced on purpose: unprefixed `jvm_*` and `node_info` with two spaces
after `# HELP`/`# TYPE`, `", "` between labels, series ordered like the FE's
PriorityQueue array (so one name can appear in two places), leader-only metrics that
read 0 on followers, and `Double.toString` number formatting.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from . import catalog, proc
from .exposition_be import be_metrics
from .families import release
from .model import ClusterModel, Node, unit_hash

__all__ = ["be_metrics", "fe_metrics", "java_double"]

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
    "txn_reject": "counter of rejected transactions",
    "image_write": "counter of image generated",
    "image_push": "counter of image succeeded in pushing to other frontends",
    "report_queue_size": "report queue size",
    "thread_pool": "thread_pool statistics",
    "routine_load_max_lag_of_partition": "routine load kafka lag",
    "txn_running": "number of running transactions",
    "query_internal_err": "total internal error query",
}
# MetricRepo: a load-job gauge per EtlJobType but MINI and UNKNOWN, per loadv2 JobState.
_LOAD_TYPES = ("HADOOP", "INSERT", "BROKER", "DELETE", "SPARK", "ROUTINE_LOAD", "STREAM_LOAD")
_LOAD_STATES = ("UNKNOWN", "PENDING", "ETL", "LOADING", "COMMITTED", "FINISHED", "CANCELLED")
_ROUTINE_LOAD_JOBS = (  # name, database, table, state: one paused, as the alert rules look for
    ("orders_kafka", "sales", "orders_fact", "RUNNING"),
    ("clicks_kafka", "web_analytics", "page_views", "PAUSED"),
)
# FE ThreadPoolManager pools (a sample of a 3.x leader's names).
_FE_POOLS = (
    "starrocks-mysql-nio-pool",
    "thrift-server-pool",
    "load-etl-pool",
    "export-exporting-job-pool",
    "query-queue-pool",
)
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
    "txn_reject",
    "image_write",
    "image_push",
    "query_internal_err",
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


def gc_time_ms(model: ClusterModel, fe: Node, t: float) -> dict[str, int]:
    """The FE JVM's cumulative GC time in ms, by generation, since it started: young collections
    take 0.5 ms a second, an old one 850 ms once a day."""
    span = t - fe.started_at
    return {"young": int(span / 2), "old": int(span / 86400) * 850}


def txn_rejected(model: ClusterModel, fe: Node, t: float) -> int:
    """The leader's txn_reject counter: a transaction refused (too many running) twice a day."""
    return int((t - fe.started_at) / 43200) if fe is model.leader else 0


def fe_metrics(model: ClusterModel, fe: Node, t: float, only: frozenset[str] | None = None) -> str:
    """The body of one FE's `GET /metrics` at time t; with `only`, just those families (as be_metrics)."""

    def keep(full: str) -> bool:
        return only is None or full in only

    leader = fe is model.leader
    lead = 1 if leader else 0
    out: list[str] = []
    used, heap_max = model.fe_heap(fe, t)
    # Eden fills between young GCs (every 40 s); it never holds more than the young maximum,
    # and young plus old is the heap's used total.
    young_max = heap_max // 4
    young_used = min(used, int(young_max * (((t - fe.started_at) % 40) / 40)))
    gc = gc_time_ms(model, fe, t)
    jvm = {
        "jvm_heap_size_bytes": (("max", heap_max), ("committed", heap_max), ("used", used)),
        "jvm_non_heap_size_bytes": (("committed", 262733824), ("used", 251870312)),
        "jvm_young_size_bytes": (
            ("committed", young_max),
            ("used", young_used),
            ("peak_used", young_max),
            ("max", young_max),
        ),
        "jvm_old_size_bytes": (
            ("committed", heap_max - young_max),
            ("used", used - young_used),
            ("peak_used", heap_max - young_max),
            ("max", heap_max - young_max),
        ),
        "jvm_direct_buffer_pool_size_bytes": (("count", 41), ("used", 3424513), ("capacity", 3424512)),
        "jvm_young_gc": (("count", int((t - fe.started_at) / 40)), ("time", gc["young"])),
        "jvm_old_gc": (("count", int((t - fe.started_at) / 86400)), ("time", gc["old"])),
        "jvm_thread": (("count", 431 + fe.index), ("peak_count", 468)),
    }
    for name, help_text in (h for h in _JVM_HELP if keep(h[0])):
        out.append(f"# HELP  {name} {help_text}")
        out.append(f"# TYPE  {name} gauge")
        out.extend(f'{name}{{type="{k}"}} {v}' for k, v in jvm[name])

    counters = model.fe_counters(fe, t)
    txn = model.txn_counters(t)
    latency = model.fe_latency(fe, t)
    series: list[tuple[str, tuple, object]] = [("connection_total", (), model.fe_connections(fe, t))]
    for etl in _LOAD_TYPES:
        for state in _LOAD_STATES:
            value = _load_jobs(model, txn, etl, state, t)
            series.append(("job", (("job", "load"), ("type", etl), ("state", state)), value * lead))
    running_sc = sum(1 for sc in proc.schema_changes(model, t) if sc.state == "RUNNING")
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
        ("report_queue_size", (), int(3 * unit_hash(model.workload.seed, model.name, "rq", int(t // 15))) * lead),
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
    series += [
        ("txn_reject", (), txn_rejected(model, fe, t)),
        ("image_write", (), int((t - fe.started_at) / 3600) * lead),
        ("image_push", (), int((t - fe.started_at) / 3600) * (len(model.frontends) - 1) * lead),
    ]
    if release(model.profile) >= (3, 3, 3):
        series.append(("query_internal_err", (), counters["query_err"] // 20))
    for pool in _FE_POOLS:
        size = 4 + int(60 * unit_hash(model.workload.seed, fe.index, pool))
        busy = int(size * unit_hash(model.workload.seed, fe.index, pool, int(t // 15)))
        kinds = {"pool_size": size, "active_thread_num": busy, "task_in_queue": 0}
        series += [("thread_pool", (("name", pool), ("type", k)), v) for k, v in kinds.items()]
    series += [("snmp", (("name", "tcp_retrans_segs"),), 1212), ("snmp", (("name", "tcp_in_errs"),), 0)]

    # The FE keeps its metrics in a PriorityQueue and prints its backing array as is.
    heap: list[tuple[str, int, tuple, object]] = []
    for seq, (name, labels, value) in enumerate(series):
        heapq.heappush(heap, (name, seq, labels, value))
    seen: set[str] = set()
    for name, _seq, labels, value in heap:
        full = f"starrocks_fe_{name}"
        if not keep(full):  # after the heap is built: which are kept must not change the order
            continue
        if name not in seen:
            seen.add(name)
            out.append(f"# HELP {full} {_HELP[name]}")
            out.append(f"# TYPE {full} {'counter' if name in _COUNTERS else 'gauge'}")
        text = java_double(value) if isinstance(value, float) else str(value)
        out.append(f"{full}{_labels(labels, ', ')} {text}")

    if model.profile.name != "2.5" and keep("starrocks_fe_table_num"):
        out += ["# HELP starrocks_fe_table_num count of table", "# TYPE starrocks_fe_table_num gauge"]
        for db in catalog.DATABASES:
            n = sum(1 for tb in catalog.TABLES if tb.db == db)
            out.append(f'starrocks_fe_table_num{{db_name="{db}"}} {n}')
        out += [
            "# HELP starrocks_fe_database_num count of database",
            "# TYPE starrocks_fe_database_num gauge",
            f"starrocks_fe_database_num {len(catalog.DATABASES)}",
        ]

    # Codahale histograms, in name order: editlog.write.latency.ms, then query.latency.ms.
    writes = 2_380_000 + int(t - model.origin)
    editlog = {"0.75": 1.0, "0.95": 2.0, "0.98": 3.0, "0.99": 4.0, "0.999": 9.0}
    if keep("starrocks_fe_editlog_write_latency_ms"):
        out += _summary("editlog_write_latency_ms", editlog, writes * 1.2, writes)
    p95, p99 = latency["95_quantile"], latency["99_quantile"]
    query = {
        "0.75": latency["75_quantile"],
        "0.95": p95,
        "0.98": round(p95 + 0.75 * (p99 - p95), 2),  # between p95 and p99, as a histogram's is
        "0.99": p99,
        "0.999": latency["999_quantile"],
    }
    total = counters["query_total"]
    if keep("starrocks_fe_query_latency_ms"):
        out += _summary("query_latency_ms", query, total * latency["mean"], total)
    out += _routine_load_and_txns(model, fe, t, txn, keep)

    if keep("node_info"):
        out += _node_info(model, leader)
    return "\n".join(out) + "\n"


def _node_info(model: ClusterModel, leader: bool) -> list[str]:
    """The FE's node counts, printed last and unprefixed like the JVM gauges."""
    out = ["# TYPE  node_info gauge"]
    alive_fes = sum(model.alive(f) for f in model.frontends)
    bes = [b for b in model.backends if b.role == "BE"]
    cns = [b for b in model.backends if b.role == "CN"]

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
    return out


def _summary(name: str, quantiles: dict[str, float], total: float, count: int) -> list[str]:
    """One Codahale histogram as the FE's visitHistogram prints it (an empty HELP text)."""
    full = f"starrocks_fe_{name}"
    out = [f"# HELP {full} ", f"# TYPE {full} summary"]
    out += [f'{full}{{quantile="{q}"}} {java_double(v)}' for q, v in quantiles.items()]
    return [*out, f"{full}_sum {java_double(total)}", f"{full}_count {count}"]


def _load_jobs(model: ClusterModel, txn: dict[str, int], etl: str, state: str, t: float) -> int:
    """Load jobs of one type in one state, as the leader's LoadManager counts them."""
    if etl == "INSERT" and state in ("FINISHED", "CANCELLED"):
        return txn["load_finished" if state == "FINISHED" else "load_cancelled"]  # failed loads cancel INSERTs
    if etl == "BROKER" and state == "LOADING":
        return txn["txn_running"]
    if state in ("FINISHED", "CANCELLED") and etl in ("BROKER", "STREAM_LOAD", "ROUTINE_LOAD"):
        span = t - model.leader.started_at
        return int(span / (600 if state == "FINISHED" else 86400))
    if state in ("PENDING", "LOADING") and etl in ("STREAM_LOAD", "ROUTINE_LOAD"):
        return int(3 * unit_hash(model.workload.seed, model.name, etl, state, int(t // 60)))
    return 0


# The emulated FEs' min_routine_load_lag_for_metrics (StarRocks' default is 10,000): a job lagging
# less is left out of the lag series. 0 here, so every job's lag is reported and charted.
MIN_ROUTINE_LOAD_LAG = 0


def routine_load_lags(model: ClusterModel, t: float) -> dict[str, int]:
    """Each running routine-load job's largest partition lag (Kafka messages) at time t, as the FEs
    report it with enable_routine_load_lag_metrics on: the jobs lagging at least MIN_ROUTINE_LOAD_LAG.
    A job falls behind as the load rises (12,000 messages at the mean), give or take a fifth from
    minute to minute. A paused job is left out, as 2.5 does (newer releases list it too)."""
    lags = {}
    for job, _db, _table, state in _ROUTINE_LOAD_JOBS:
        if state == "PAUSED":
            continue
        jitter = 0.8 + 0.4 * unit_hash(model.workload.seed, model.name, job, int(t // 60))
        lag = int(12_000 * model.workload.daily(t) * jitter)
        if lag >= MIN_ROUTINE_LOAD_LAG:
            lags[job] = lag
    return lags


def _routine_load_and_txns(
    model: ClusterModel, fe: Node, t: float, txn: dict[str, int], keep: Callable[[str], bool]
) -> list[str]:
    """What MetricRepo visits after the histograms: routine-load lag and states, running txns.

    The lag series exist with enable_routine_load_lag_metrics on (the alert rules assume it);
    job states and running transactions come from the leader only.
    """
    out = []
    lags = routine_load_lags(model, t) if keep("starrocks_fe_routine_load_max_lag_of_partition") else {}
    if lags:  # the visitor prints a family's HELP and TYPE with its first series
        out += ["# HELP starrocks_fe_routine_load_max_lag_of_partition routine load kafka lag"]
        out.append("# TYPE starrocks_fe_routine_load_max_lag_of_partition gauge")
        out += [f'starrocks_fe_routine_load_max_lag_of_partition{{job_name="{j}"}} {v}' for j, v in lags.items()]
    if fe is not model.leader:
        return out
    if keep("starrocks_fe_routine_load_jobs"):
        out += ["# HELP starrocks_fe_routine_load_jobs routine load jobs"]
        out.append("# TYPE starrocks_fe_routine_load_jobs gauge")
        for job, db, table, state in _ROUTINE_LOAD_JOBS:
            labels = f'name="{job}", table="{table}", database="{db}", state="{state}"'
            out.append(f"starrocks_fe_routine_load_jobs{{{labels}}} 1")
    if release(model.profile) >= (3, 3) and keep("starrocks_fe_txn_running"):
        out += ["# HELP starrocks_fe_txn_running number of running transactions"]
        out.append("# TYPE starrocks_fe_txn_running gauge")
        for i, db in enumerate(catalog.DATABASES):
            out.append(f'starrocks_fe_txn_running{{db="{db}"}} {txn["txn_running"] if i == 0 else 0}')
    return out
