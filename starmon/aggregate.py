"""Turn one round of fetched cluster data into a snapshot row and node rows (pure).

Rules an operator relies on, kept here in one place:
- A value starmon could not read is None (NULL), never 0.
- QPS and error rates come from counter deltas against the previous stored round, per
  FE, so an FE restart (counter drop or new StartTime) gives no negative rate and no
  spike. The FE's own `qps` gauge is used only when there is no usable previous round.
- Leader-only metrics (running transactions and loads, per-BE compaction scores) come from
  the leader FE, because followers report 0 for them; tablet counts come from TabletNum
  in the node lists. Transaction and load rates are counter deltas per FE, summed (followers'
  counters stay 0, and a new leader's count on from its own), unknown while the leader's is and
  in the round a new leader takes over.
- Rates of host counters (network bytes) need two rounds; a counter that went back (the host
  rebooted) gives no rate for that round rather than a negative one.
- Disk: total = sum of TotalCapacity over BEs, used = sum of TotalCapacity - AvailCapacity.
- Whatever a cluster sends, a value its metric cannot hold (NaN, negative, a counter past
  64 bits, a percentage past 100) is unknown, and the round says which and why: nothing a
  cluster sends may fail the round or its write.
"""

from __future__ import annotations

import math
import re

from .columns import NODE_BY_NAME, NODE_TEXT, SNAPSHOT_BY_NAME, SNAPSHOT_TEXT, Metric
from .parse import MetricSet, column, parse_bool, parse_int, parse_percent, parse_size
from .readings import NodeReading, PreviousRound, RawRound, Snapshot, Status, node_key

# A previous round older than this gives an average over too long a span to call a rate.
MAX_DELTA_GAP_SECONDS = 600.0
_LOAD_ACTIVE_STATES = {"PENDING", "ETL", "LOADING", "COMMITTED"}

# Every /metrics name build_round reads. The collector parses only these lines: a BE sends
# ~1,500 lines and an FE with per-table metrics ~50,000, of which a few dozen are used here.
FE_METRICS = frozenset(
    {
        "starrocks_fe_query_total",
        "starrocks_fe_query_err",
        "starrocks_fe_query_timeout",
        "starrocks_fe_request_total",
        "starrocks_fe_qps",
        "starrocks_fe_rps",
        "starrocks_fe_connection_total",
        "starrocks_fe_query_latency",
        "starrocks_fe_query_latency_ms",
        "jvm_heap_size_bytes",
        "jvm_thread",
        "node_info",
        "starrocks_fe_tablet_max_compaction_score",
        "starrocks_fe_max_tablet_compaction_score",
        "starrocks_fe_txn_begin",
        "starrocks_fe_txn_success",
        "starrocks_fe_txn_failed",
        "starrocks_fe_txn_reject",
        "starrocks_fe_job",
        "starrocks_fe_load_finished",
        "starrocks_fe_routine_load_max_lag_of_partition",
        "jvm_young_gc",
        "jvm_old_gc",
    }
)
BE_METRICS = frozenset(
    {
        "starrocks_be_cpu",
        "starrocks_be_process_mem_bytes",
        "starrocks_be_tablet_base_max_compaction_score",
        "starrocks_be_tablet_cumulative_max_compaction_score",
        "starrocks_be_max_disk_io_util_percent",
        "starrocks_be_network_receive_bytes",
        "starrocks_be_network_send_bytes",
    }
)
# FE counters whose growth per round the cluster's rates are made of (see _per_second).
_TXN_COUNTERS = {
    "txn_begin_total": "starrocks_fe_txn_begin",
    "txn_success_total": "starrocks_fe_txn_success",
    "txn_failed_total": "starrocks_fe_txn_failed",
    "txn_reject_total": "starrocks_fe_txn_reject",
    "load_finished_total": "starrocks_fe_load_finished",
}


def _sum(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def _max(values) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _is_leader(row: dict) -> bool:
    return (column(row, "Role") or "").upper() in ("LEADER", "MASTER") or parse_bool(column(row, "IsMaster")) is True


def _counter_delta(current: int | None, previous: NodeReading | None, key: str, restarted: bool) -> int | None:
    """Growth of a counter since the previous round; a reset counts from zero."""
    before = getattr(previous, key) if previous is not None else None
    if current is None or before is None:
        return None
    if restarted or current < before:
        return current
    return current - before


def _fe_node(
    row: dict,
    metrics: MetricSet | None,
    prev: NodeReading | None,
    elapsed: float | None,
    runtime_info: dict | None,
    problems: list[tuple[str, str]],
) -> tuple[dict, dict, dict[str, int | None]]:
    """Node values of one FE; its parts of cluster values that are no node column, by snapshot
    column (rps, p50, p95, threads); and its counter deltas for the cluster's rates."""
    m = metrics
    get = (lambda name, **labels: m.get(name, **labels)) if m else (lambda name, **labels: None)
    gc = [get("jvm_young_gc", type="time"), get("jvm_old_gc", type="time")]  # ms since the JVM started
    counters = {
        "query_total": get("starrocks_fe_query_total"),
        "query_error": get("starrocks_fe_query_err"),
        "query_timeout": get("starrocks_fe_query_timeout"),
        "request_total": get("starrocks_fe_request_total"),
        **{key: get(name) for key, name in _TXN_COUNTERS.items()},
        "jvm_gc_time_ms": _sum(gc),
    }
    counters = {k: _int(v) for k, v in counters.items()}
    what = f"FE {column(row, 'IP', 'Host') or '?'}"
    _keep_usable(counters, NODE_BY_NAME, what, problems)  # before a counter of 1e30 becomes a rate
    start = column(row, "StartTime")
    restarted = prev is not None and start is not None and prev.last_start_time not in (None, start)
    # Started before the previous round last heard from it: no restart inside the window, but
    # another FE under the same name (the cluster's address changed): its counters start a new series.
    another = restarted and _FE_TIME.fullmatch(start) and _FE_TIME.fullmatch(prev.last_heartbeat or "")
    usable = prev if (elapsed and elapsed > 0 and not (another and start < prev.last_heartbeat)) else None
    deltas = {k: _counter_delta(v, usable, k, restarted) for k, v in counters.items()}
    qps = deltas["query_total"] / elapsed if deltas["query_total"] is not None else get("starrocks_fe_qps")
    gc_ms = deltas["jvm_gc_time_ms"]
    heap_used = get("jvm_heap_size_bytes", type="used")
    heap_max = get("jvm_heap_size_bytes", type="max")
    if heap_used is None and runtime_info:
        total, free = parse_int(runtime_info.get("total_mem")), parse_int(runtime_info.get("free_mem"))
        heap_used = total - free if total is not None and free is not None else None
        heap_max = parse_int(runtime_info.get("max_mem"))
    p99 = get("starrocks_fe_query_latency", type="99_quantile")
    node = {
        "role": "FE",
        "host": column(row, "IP", "Host") or "?",
        "name": column(row, "Name"),
        "alive": parse_bool(column(row, "Alive")),
        "is_leader": _is_leader(row),
        "version": column(row, "Version"),
        "last_heartbeat": column(row, "LastHeartbeat"),
        "last_start_time": start,
        "error": column(row, "ErrMsg") or None,
        "connections": _int(get("starrocks_fe_connection_total")),
        "qps": qps,
        "query_latency_p99": p99 if p99 is not None else get("starrocks_fe_query_latency_ms", quantile="0.99"),
        **counters,
        "jvm_heap_used_bytes": _int(heap_used),
        "jvm_heap_max_bytes": _int(heap_max),
        "jvm_gc_ms_per_second": gc_ms / elapsed if gc_ms is not None else None,
    }
    rps_delta = deltas["request_total"]
    p95 = get("starrocks_fe_query_latency", type="95_quantile")
    parts = {
        "rps": rps_delta / elapsed if rps_delta is not None else get("starrocks_fe_rps"),
        "fe_thread_count": _int(get("jvm_thread", type="count")),
        "query_latency_p50": get("starrocks_fe_query_latency", type="50_quantile"),
        "query_latency_p95": p95 if p95 is not None else get("starrocks_fe_query_latency_ms", quantile="0.95"),
    }
    _keep_usable(node, NODE_BY_NAME, what, problems)
    _keep_usable(parts, SNAPSHOT_BY_NAME, what, problems)
    return node, parts, deltas


def _int(value: float | None) -> int | None:
    return int(value) if value is not None and math.isfinite(value) else None


def _host_counter(metrics: MetricSet | None, name: str) -> int | None:
    """A host counter summed over its devices, loopback left out (traffic that never left the host)."""
    values = [v for labels, v in metrics.series(name) if labels.get("device") != "lo"] if metrics else []
    return _int(sum(values)) if values else None


def _rate(current: int | None, before: int | None, elapsed: float | None) -> int | None:
    """Growth per second of a host counter; none when it went back (the host rebooted) or is new."""
    if current is None or before is None or not elapsed or current < before:
        return None
    return round((current - before) / elapsed)


def _be_node(
    row: dict,
    role: str,
    metrics: MetricSet | None,
    prev: NodeReading | None,
    leader: MetricSet | None,
    elapsed: float | None,
    problems: list[tuple[str, str]],
) -> tuple[dict, int | None]:
    """Node values of one BE or CN, and its CPU cores (which weigh its CPU in the cluster's)."""
    host = column(row, "IP", "Host") or "?"
    what = f"{role} {host}"
    read = lambda name, parse: _read(row, name, parse, what, problems)  # noqa: E731
    total, avail = read("TotalCapacity", parse_size), read("AvailCapacity", parse_size)
    cpu_busy = cpu_total = None
    if metrics is not None:
        modes = {labels.get("mode"): v for labels, v in metrics.series("starrocks_be_cpu")}
        if modes and "idle" in modes and math.isfinite(sum(modes.values())):
            cpu_total = int(sum(modes.values()))
            cpu_busy = cpu_total - int(modes["idle"])
    cpu_pct = None
    if cpu_busy is not None and prev and prev.cpu_total_jiffies is not None and prev.cpu_busy_jiffies is not None:
        d_total = cpu_total - prev.cpu_total_jiffies
        d_busy = cpu_busy - prev.cpu_busy_jiffies
        if d_total > 0 and 0 <= d_busy <= d_total:
            cpu_pct = 100.0 * d_busy / d_total
    alive = parse_bool(column(row, "Alive"))
    if cpu_pct is None and alive is not False:
        cpu_pct = read("CpuUsedPct", parse_percent)
    score = None
    heartbeat_port = column(row, "HeartbeatPort")
    if leader is not None and heartbeat_port:
        score = leader.get("starrocks_fe_tablet_max_compaction_score", backend=f"{host}:{heartbeat_port}")
    if score is None and metrics is not None:
        score = _max(
            [
                metrics.get("starrocks_be_tablet_base_max_compaction_score"),
                metrics.get("starrocks_be_tablet_cumulative_max_compaction_score"),
            ]
        )
    mem_used = metrics.get("starrocks_be_process_mem_bytes") if metrics is not None else None
    io_util = metrics.get("starrocks_be_max_disk_io_util_percent") if metrics is not None else None
    received = _host_counter(metrics, "starrocks_be_network_receive_bytes")
    sent = _host_counter(metrics, "starrocks_be_network_send_bytes")
    node = {
        "role": role,
        "host": host,
        "name": column(row, "BackendId", "ComputeNodeId"),
        "alive": alive,
        "is_leader": None,
        "version": column(row, "Version"),
        "last_heartbeat": column(row, "LastHeartbeat"),
        "last_start_time": column(row, "LastStartTime"),
        "error": column(row, "ErrMsg") or None,
        "decommissioned": parse_bool(column(row, "SystemDecommissioned")),
        "cpu_pct": cpu_pct,
        "mem_used_bytes": _int(mem_used),
        # A dead node's usage columns are stale or zeroed by the FE: unknown, not 0.
        "mem_pct": read("MemUsedPct", parse_percent) if alive is not False else None,
        "disk_total_bytes": total,
        "disk_used_bytes": total - avail if total is not None and avail is not None else None,
        "max_disk_used_pct": read("MaxDiskUsedPct", parse_percent),
        "tablet_count": read("TabletNum", parse_int),
        "compaction_score": score,
        "running_queries": read("NumRunningQueries", parse_int),
        "cpu_busy_jiffies": cpu_busy,
        "cpu_total_jiffies": cpu_total,
        # the BE's own 15 s figure, an integer percentage; a sleep longer than its 15 s nominal
        # interval can push it past 100, which is still a saturated disk
        "disk_io_util_pct": min(float(io_util), 100.0) if io_util is not None else None,
        "net_receive_bytes_per_second": _rate(received, prev.net_receive_bytes_total if prev else None, elapsed),
        "net_send_bytes_per_second": _rate(sent, prev.net_send_bytes_total if prev else None, elapsed),
        "net_receive_bytes_total": received,
        "net_send_bytes_total": sent,
    }
    _keep_usable(node, NODE_BY_NAME, what, problems)
    cores = {"cpu_cores": read("CpuCores", parse_int)}
    _keep_usable(cores, {"cpu_cores": _CORES}, what, problems)
    return node, cores["cpu_cores"]


_CORES = Metric("cpu_cores", int, "cores", "CPU cores of the host (CpuCores).")


_NO_VALUE = {"", "N/A", "NULL", "\\N"}  # how node lists say "unknown"
_FE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")  # how FEs print times (cluster's zone)


def _read(row: dict, name: str, parse, what: str, problems: list[tuple[str, str]]):
    """A node-list column parsed; text that is there but unreadable (`1e309 B`) is said, not just None."""
    text = column(row, name)
    value = parse(text)
    if value is None and text is not None and text.strip().upper() not in _NO_VALUE:
        problems.append((what, f"unreadable {name} {text[:40]!r}, read as unknown"))
    return value


def _keep_usable(row: dict, metrics: dict[str, Metric], what: str, problems: list[tuple[str, str]]) -> None:
    """Set the values of `row` that their metric cannot hold to None, and say which and why."""
    bad = []
    for key, value in row.items():
        metric = metrics.get(key)
        why = metric.unusable(value) if metric is not None else None
        if why:
            bad.append(f"{key} {value:.6g} ({why})")
            row[key] = None
    if bad:
        problems.append((what, f"unusable values read as unknown: {', '.join(bad)}"))


def _finite(metrics: MetricSet | None, what: str, problems: list[tuple[str, str]]) -> MetricSet | None:
    """The samples that are numbers: NaN and infinities are valid exposition, but no value to use."""
    if metrics is None or all(math.isfinite(s.value) for s in metrics.samples):
        return metrics
    bad = sorted({s.name for s in metrics.samples if not math.isfinite(s.value)})
    problems.append((f"{what} /metrics", f"not a finite number, read as unknown: {', '.join(bad)}"))
    return MetricSet([s for s in metrics.samples if math.isfinite(s.value)], metrics.bad_lines, metrics.skipped)


def _clip_text(row: dict, limits: dict[str, int]) -> None:
    """Cut text the cluster sent to what its column keeps (PostgreSQL refuses longer)."""
    for key, limit in limits.items():
        value = row.get(key)
        if isinstance(value, str) and len(value) > limit:
            row[key] = value[: limit - 1] + "…"


def _node_problems(node: dict, scrape_error: str | None) -> list[tuple[str, str]]:
    """A dead node, or an alive one whose /metrics failed (recorded on the node too)."""
    what = f"{node['role']} {node['host']}"
    if node["alive"] is False:
        return [(what, f"not alive{' (' + node['error'] + ')' if node['error'] else ''}")]
    if scrape_error:
        node["error"] = scrape_error
        return [(f"{what} /metrics", scrape_error)]
    return []


def build_round(raw: RawRound, previous: PreviousRound | None) -> tuple[Snapshot, tuple[NodeReading, ...]]:
    """The snapshot (without cluster id or collect time) and the node readings of one round."""
    elapsed = raw.ts - previous.ts if previous and 0 < raw.ts - previous.ts <= MAX_DELTA_GAP_SECONDS else None
    prev_nodes = {n.key: n for n in previous.nodes} if elapsed else {}
    problems = list(raw.problems)
    fe_metrics = {ip: _finite(m, f"FE {ip}", problems) for ip, m in raw.fe_metrics.items()}
    roles = {column(r, "IP"): role for role, rows in (("BE", raw.backends), ("CN", raw.compute_nodes)) for r in rows}
    be_metrics = {ip: _finite(m, f"{roles.get(ip, 'BE')} {ip}", problems) for ip, m in raw.be_metrics.items()}

    fe_rows = raw.frontends
    leader_row = next((r for r in fe_rows if _is_leader(r)), None)
    leader_ip = column(leader_row, "IP") if leader_row else None
    leader_metrics = fe_metrics.get(leader_ip) if leader_ip else None
    if leader_metrics is None:
        leader_metrics = next((m for m in fe_metrics.values() if m.get("node_info", type="is_master") == 1), None)

    fes = []  # (node values, parts of cluster values, counter deltas) per FE
    leader_deltas = None  # of the FE whose /metrics is the leader's, unless it has just become leader
    was_leader = next((n.key for n in prev_nodes.values() if n.role == "FE" and n.is_leader), None)
    for row in fe_rows:
        ip = column(row, "IP") or "?"
        key = node_key("FE", column(row, "Name"), column(row, "IP", "Host") or "?")
        prev = prev_nodes.get(key)
        info = raw.runtime_info if ip == raw.configured_ip else None
        node, parts, delta = _fe_node(row, fe_metrics.get(ip), prev, elapsed, info, problems)
        problems += _node_problems(node, raw.node_errors.get((True, ip)))
        fes.append((node, parts, delta))
        # A new leader's leader-only counters may hold growth from before it was last read (an FE
        # that led before, or one printing 0 while it followed): no rate from them this round.
        if leader_metrics is not None and fe_metrics.get(ip) is leader_metrics and was_leader in (None, key):
            leader_deltas = delta

    bes = []  # (node values, CPU cores) per BE and CN
    for role, rows in (("BE", raw.backends), ("CN", raw.compute_nodes)):
        for row in rows:
            ip = column(row, "IP") or "?"
            prev = prev_nodes.get(
                node_key(role, column(row, "BackendId", "ComputeNodeId"), column(row, "IP", "Host") or "?")
            )
            node, cores = _be_node(row, role, be_metrics.get(ip), prev, leader_metrics, elapsed, problems)
            problems += _node_problems(node, raw.node_errors.get((False, ip)))
            bes.append((node, cores))

    values = _cluster_values(raw, fes, bes, leader_metrics, (elapsed, leader_deltas))
    values["routine_load_lag"] = _int(
        _max(m.max("starrocks_fe_routine_load_max_lag_of_partition") for m in fe_metrics.values() if m)
    )
    _keep_usable(values, SNAPSHOT_BY_NAME, "cluster", problems)
    status = Status.DOWN if not raw.reachable else Status.PARTIAL if problems else Status.OK
    values.update(ts=raw.ts, status=status, error=describe_problems(problems), source=raw.source, version=raw.version)
    _clip_text(values, SNAPSHOT_TEXT)
    nodes = [node for node, *_ in fes] + [node for node, _ in bes]
    for node in nodes:
        _clip_text(node, NODE_TEXT)
    return Snapshot(**values), tuple(NodeReading(**node) for node in nodes)


def unread_round(ts: float, error: str) -> Snapshot:
    """The snapshot of a round that could not be read at all: down, every value unknown."""
    return Snapshot(ts=ts, status=Status.DOWN, error=error)


def describe_problems(problems: list[tuple[str, str]]) -> str | None:
    """One readable line: what failed, grouped by why ("FE a, FE b /metrics: HTTP 500").

    A reason shared by many nodes names the first few and counts the rest, so the line
    stays readable and other reasons are not cut off behind a list of a thousand nodes.
    """
    by_reason: dict[str, list[str]] = {}
    for what, why in problems:
        by_reason.setdefault(why, []).append(what)
    parts = []
    for why, whats in by_reason.items():
        named = ", ".join(whats[:_NAMED]) + (f" and {len(whats) - _NAMED:,} more" if len(whats) > _NAMED else "")
        parts.append(f"{named}: {why}")
    return "; ".join(parts) or None


_NAMED = 5  # things named per reason before the rest are counted


def _rate_pct(deltas: list[dict], key: str) -> float | None:
    pairs = [(d[key], d["query_total"]) for d in deltas if d[key] is not None and d["query_total"] is not None]
    total = sum(t for _, t in pairs)
    return 100.0 * sum(k for k, _ in pairs) / total if pairs and total > 0 else None


def _per_second(deltas: list[dict], keys: tuple[str, ...], over: tuple[float | None, dict | None]) -> float | None:
    """Growth per second of FE counters, summed over FEs and `keys`, `over` being (elapsed seconds, the
    leader's deltas); unknown while the leader's is (these counters grow on the leader: the followers'
    zeros alone would read as "none happened")."""
    elapsed, leader = over
    if not elapsed or leader is None or any(leader[k] is None for k in keys):
        return None
    return sum(d[k] for d in deltas for k in keys if d[k] is not None) / elapsed


def _cluster_values(
    raw: RawRound,
    fe_parts: list[tuple],
    be_parts: list[tuple],
    leader: MetricSet | None,
    over: tuple[float | None, dict | None],
) -> dict:
    """The snapshot's metric values, from the nodes' values and parts (see build_round)."""
    fes = [node for node, _, _ in fe_parts]
    parts = [p for _, p, _ in fe_parts]
    deltas = [d for _, _, d in fe_parts]
    bes = [node for node, _ in be_parts]
    backends = [n for n in bes if n["role"] == "BE"]
    computes = [n for n in bes if n["role"] == "CN"]
    disk_total = _sum(n["disk_total_bytes"] for n in backends)
    disk_used = _sum(n["disk_used_bytes"] for n in backends)
    weighted = [(n["cpu_pct"], cores) for n, cores in be_parts if n["cpu_pct"] is not None and cores]
    lget = (lambda name, **labels: leader.get(name, **labels)) if leader else (lambda name, **labels: None)
    begin, success, failed = (
        lget("starrocks_fe_txn_begin"),
        lget("starrocks_fe_txn_success"),
        lget("starrocks_fe_txn_failed"),
    )
    load_running = None
    if leader is not None and leader.series("starrocks_fe_job"):
        load_running = int(
            sum(
                v
                for labels, v in leader.series("starrocks_fe_job")
                if labels.get("job") == "load" and labels.get("state") in _LOAD_ACTIVE_STATES
            )
        )
    heaps = [(n, p) for n, p in zip(fes, parts) if n["jvm_heap_used_bytes"] is not None and n["jvm_heap_max_bytes"]]
    fullest, its = max(
        heaps, key=lambda h: h[0]["jvm_heap_used_bytes"] / h[0]["jvm_heap_max_bytes"], default=(None, None)
    )
    max_score = lget("starrocks_fe_max_tablet_compaction_score")
    return {
        "qps": _sum(n["qps"] for n in fes),
        "rps": _sum(p["rps"] for p in parts),
        "query_latency_p50": _max(p["query_latency_p50"] for p in parts),
        "query_latency_p95": _max(p["query_latency_p95"] for p in parts),
        "query_latency_p99": _max(n["query_latency_p99"] for n in fes),
        "query_total": _int(_sum(n["query_total"] for n in fes)),
        "query_success": _int(
            _sum(
                (n["query_total"] - n["query_error"])
                if n["query_total"] is not None and n["query_error"] is not None
                else None
                for n in fes
            )
        ),
        "query_error": _int(_sum(n["query_error"] for n in fes)),
        "query_timeout": _int(_sum(n["query_timeout"] for n in fes)),
        "query_error_rate": _rate_pct(deltas, "query_error"),
        "query_timeout_rate": _rate_pct(deltas, "query_timeout"),
        "connections": _int(_sum(n["connections"] for n in fes)),
        "frontend_total": len(fes) if raw.frontends else None,
        "frontend_alive": sum(n["alive"] is True for n in fes) if raw.frontends else None,
        "backend_total": len(backends) if raw.source else None,
        "backend_alive": sum(n["alive"] is True for n in backends) if raw.source else None,
        "compute_total": len(computes) if raw.source else None,
        "compute_alive": sum(n["alive"] is True for n in computes) if raw.source else None,
        "total_cpu_usage": sum(p * c for p, c in weighted) / sum(c for _, c in weighted) if weighted else None,
        "avg_cpu_usage": _mean(n["cpu_pct"] for n in bes),
        "total_memory_usage": _int(_sum(n["mem_used_bytes"] for n in bes)),
        "avg_memory_usage": _mean(n["mem_pct"] for n in bes),
        "disk_total_bytes": _int(disk_total),
        "disk_used_bytes": _int(disk_used),
        "disk_usage_pct": 100.0 * disk_used / disk_total if disk_total and disk_used is not None else None,
        "tablet_count": _int(_sum(n["tablet_count"] for n in bes)),
        "max_compaction_score": max_score if max_score is not None else _max(n["compaction_score"] for n in bes),
        "txn_running": max(0, int(begin - success - failed)) if None not in (begin, success, failed) else None,
        "txn_success_total": _int(success),
        "txn_failed_total": _int(failed),
        "load_running": load_running,
        "load_finished_total": _int(lget("starrocks_fe_load_finished")),
        "fe_jvm_heap_used_bytes": fullest["jvm_heap_used_bytes"] if fullest else None,
        "fe_jvm_heap_max_bytes": fullest["jvm_heap_max_bytes"] if fullest else None,
        "fe_thread_count": its["fe_thread_count"] if its else None,
        "running_queries": _int(_max(n["running_queries"] for n in bes if n["alive"] is not False)),
        "txn_begin_per_second": _per_second(deltas, ("txn_begin_total",), over),
        "txn_success_per_second": _per_second(deltas, ("txn_success_total",), over),
        "txn_failed_per_second": _per_second(deltas, ("txn_failed_total",), over),
        "load_finished_per_second": _per_second(deltas, ("load_finished_total",), over),
        "load_failed_per_second": _per_second(deltas, ("txn_failed_total", "txn_reject_total"), over),
    }
