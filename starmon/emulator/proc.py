"""Rows for `/api/show_proc` and the matching SHOW statements, per version profile.

Each function returns `(columns, rows)` with every value a string, formatted as the FE
formats it (REFERENCE.md §3, §5): sizes like `1.800 TB`, percents like `19.83 %`,
MemLimit like `57.012GB`, the `Status` column as JSON inside a string.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

from . import catalog
from .model import ClusterModel, Node
from .profiles import FRONTEND_COLUMNS

# FEs render times in the cluster's time_zone; Asia/Shanghai is the FE default (UTC+8, no DST).
CLUSTER_TZ = timezone(timedelta(hours=8))
_UNITS = ("B", "KB", "MB", "GB", "TB")
SCHEMA_CHANGE_SECONDS = 4 * 3600.0  # how long a switched-on schema change's progress takes to near 100 %

Rows = tuple[tuple[str, ...], list[list[str]]]


def fe_time(t: float) -> str:
    """`yyyy-MM-dd HH:mm:ss` in the cluster's zone, as TimeUtils.longToTimeString prints."""
    return datetime.fromtimestamp(t, CLUSTER_TZ).strftime("%Y-%m-%d %H:%M:%S")


def size_string(n: float, *, space: bool = True) -> str:
    """DebugUtil.getByteUint style: `0.000 B`, `13.255 KB`, `1.800 TB` (MemLimit has no space)."""
    value, unit = float(n), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.3f}{' ' if space else ''}{_UNITS[unit]}"


def _pct(x: float, decimals: int = 2) -> str:
    return f"{x:.{decimals}f} %"


def _heartbeat(model: ClusterModel, node: Node, t: float) -> str:
    return fe_time(node.down_since if node.down_since is not None else t - 3)


def _backend_values(model: ClusterModel, be: Node, t: float) -> dict[str, str]:
    alive = model.alive(be)
    disk = model.be_disk(be, t)
    used = disk["total"] - disk["avail"]
    data_total = disk["data_used"] + disk["avail"]
    busy = model.be_cpu_busy(be, t) * 100 if alive else 0.0
    err = "" if alive else "java.net.ConnectException: Connection refused (Connection refused)"
    report = fe_time(t - 40) if alive else fe_time(be.down_since)
    return {
        "BackendId": str(be.node_id),
        "ComputeNodeId": str(be.node_id),
        "IP": be.host,
        "HeartbeatPort": "9050",
        "BePort": "9060",
        "HttpPort": str(model.be_http_port),
        "BrpcPort": "8060",
        "LastStartTime": fe_time(be.started_at),
        "LastHeartbeat": _heartbeat(model, be, t),
        "Alive": str(alive).lower(),
        "SystemDecommissioned": str(be.decommissioned).lower(),
        "ClusterDecommissioned": "false",
        "TabletNum": str(be.tablets),
        "DataUsedCapacity": size_string(disk["data_used"]),
        "AvailCapacity": size_string(disk["avail"]),
        "TotalCapacity": size_string(disk["total"]),
        "UsedPct": _pct(100 * used / disk["total"]),
        "MaxDiskUsedPct": _pct(100 * used / disk["total"] * 1.03),
        "ErrMsg": err,
        "Version": model.node_version(be),
        "Status": json.dumps({"lastSuccessReportTabletsTime": report}, separators=(",", ":")),
        "DataTotalCapacity": size_string(data_total),
        "DataUsedPct": _pct(100 * disk["data_used"] / data_total),
        "CpuCores": str(be.cores),
        "MemLimit": size_string(be.mem_limit, space=False),
        "NumRunningQueries": str(model.be_running_queries(be, t)),
        "MemUsedPct": _pct(model.be_mem_pct(be, t) if alive else 0.0),
        "CpuUsedPct": _pct(busy, 1),
        "DataCacheMetrics": "Status: Disabled"
        if not model.profile.shared_data
        else "Status: Normal, DiskUsage: 0B/0B, MemUsage: 0B/0B",
        "Location": "",
        "location": "",
        "StatusCode": "OK" if alive else "CONNECTING",
        "HasStoragePath": "true" if model.profile.shared_data else "false",
        "StarletPort": "9070",
        "WorkerId": str(be.index + 1),
        "WarehouseName": "default_warehouse",
    }


def backends(model: ClusterModel, t: float) -> Rows:
    """`/backends` / SHOW BACKENDS: sorted by IP then BePort, as BackendsProcDir does."""
    cols = model.profile.backend_columns
    nodes = [b for b in model.backends if b.role == "BE"]
    rows = [[values[c] for c in cols] for values in (_backend_values(model, b, t) for b in nodes)]
    return cols, sorted(rows, key=lambda r: tuple(int(p) for p in r[1].split(".")))


def compute_nodes(model: ClusterModel, t: float) -> Rows:
    """`/compute_nodes` / SHOW COMPUTE NODES (empty on shared-nothing clusters)."""
    cols = model.profile.compute_node_columns
    nodes = [b for b in model.backends if b.role == "CN"]
    return cols, [[values[c] for c in cols] for values in (_backend_values(model, b, t) for b in nodes)]


def frontends(model: ClusterModel, answering: Node, t: float) -> Rows:
    """`/frontends` / SHOW FRONTENDS. HttpPort is the answering FE's own port on every row."""
    rows = []
    for fe in model.frontends:
        alive = model.alive(fe)
        rows.append(
            [
                f"{fe.host}_9010_{fe.node_id}",
                fe.host,
                "9010",
                str(model.http_port),
                str(model.query_port),
                "9020",
                "LEADER" if fe is model.leader else "FOLLOWER",
                "1234567890",
                "true",
                str(alive).lower(),
                str(2_380_000 + int(t - model.origin) - fe.index),
                _heartbeat(model, fe, t),
                "true" if fe.index == 0 else "false",
                "" if alive else "java.net.ConnectException: Connection refused",
                fe_time(fe.started_at) if alive else "NULL",
                model.node_version(fe),
            ]
        )
    return FRONTEND_COLUMNS, rows


def current_queries(model: ClusterModel, answering: Node, t: float) -> Rows:
    """`/current_queries`: a few long-running queries coordinated by the answering FE."""
    cols = model.profile.current_queries_columns
    new_layout = cols[0] == "StartTime"
    rows = []
    for i in range(1 + answering.index % 2 + int(model.workload.daily(t))):
        secs = 1.5 + 3.7 * i
        values = {
            "StartTime": fe_time(t - secs),
            "feIp": answering.host,
            "QueryId": f"d8b2e5a4-5f0e-11ee-8c99-{answering.index:04d}{i:08d}",
            "ConnectionId": str(17 + i),
            "Database": catalog.DATABASES[i % len(catalog.DATABASES)],
            "User": "analyst",
            "ScanBytes": size_string(1.3e9 * (i + 1)),
            "ProcessRows": f"{1023445 * (i + 1)} rows",
            "ScanRows": f"{1023445 * (i + 1)} rows",
            "CPUCostSeconds": f"{secs * 0.8:.3f} s",
            "CPUTime": f"{secs * 0.8:.3f} s",
            "MemoryUsageBytes": size_string(512 * 1024**2),
            "MemoryUsage": size_string(512 * 1024**2),
            "DiskSpillSize": "0.000 B",
            "ExecTime": f"{secs:.3f} s" if new_layout else str(int(secs * 1000)),
            "Warehouse": "default_warehouse",
            "CustomQueryId": "",
            "ResourceGroup": "default_wg",
        }
        rows.append([values[c] for c in cols])
    return cols, rows


def statistic(model: ClusterModel, t: float) -> Rows:
    """`/statistic`: one row per database plus the `Total` row whose DbName is the DB count."""
    cols = (
        "DbId",
        "DbName",
        "TableNum",
        "PartitionNum",
        "IndexNum",
        "TabletNum",
        "ReplicaNum",
        "UnhealthyTabletNum",
        "InconsistentTabletNum",
        "CloningTabletNum",
        "ErrorStateTabletNum",
    )
    rows, totals = [], [0] * 9
    for db in sorted(catalog.DATABASES):
        tables = [tb for tb in catalog.TABLES if tb.db == db]
        parts = sum(tb.partitions for tb in tables)
        tablets = sum(tb.partitions * tb.buckets for tb in tables)
        replicas = 0 if model.profile.shared_data else tablets * 3
        nums = [len(tables), parts, parts, tablets, replicas, 0, 0, 0, 0]
        totals = [a + b for a, b in zip(totals, nums)]
        rows.append([str(catalog.db_id(db)), db, *map(str, nums)])
    rows.append(["Total", str(len(rows)), *map(str, totals)])
    return cols, rows


def dbs(model: ClusterModel, t: float) -> Rows:
    cols = ("DbId", "DbName", "TableNum", "Quota", "LastConsistencyCheckTime", "ReplicaQuota")
    return cols, [
        [
            str(catalog.db_id(db)),
            db,
            str(sum(tb.db == db for tb in catalog.TABLES)),
            "8388608.000 TB",
            "\\N",
            "9223372036854775807",
        ]
        for db in catalog.DATABASES
    ]


def schema_changes(model: ClusterModel, t: float) -> tuple[catalog.SchemaChange, ...]:
    """Schema-change jobs as the FE lists them at time t: the catalogue's, then one per schema_change
    incident started by then (RUNNING with its progress, or how and when it ended)."""
    jobs = list(catalog.SCHEMA_CHANGES)
    for e in model.episodes:
        if e.kind != "schema_change" or e.start > t:
            continue
        db, table = str(e.value).split(".", 1)
        done = e.end is not None and e.end <= t
        progress = "N/A" if done else f"{min(99, int(100 * (t - e.start) / SCHEMA_CHANGE_SECONDS))}%"
        job = catalog.SchemaChange(db, table, 20_000 + int(e.start) % 10_000, "RUNNING", progress, fe_time(e.start))
        if done:
            msg = "" if e.outcome == "FINISHED" else "cancelled by user"
            job = dataclasses.replace(job, state=e.outcome or "FINISHED", finish_time=fe_time(e.end), msg=msg)
        jobs.append(job)
    return tuple(jobs)


def jobs(model: ClusterModel, path: str, t: float) -> Rows | None:
    """`/jobs` lists databases; `/jobs/<dbId>` counts jobs by type. None for an unknown id."""
    if path == "/jobs":
        return ("DbId", "DbName"), [[str(catalog.db_id(db)), db] for db in catalog.DATABASES]
    db_id = path.removeprefix("/jobs/")
    db = next((d for d in catalog.DATABASES if str(catalog.db_id(d)) == db_id), None)
    if db is None:
        return None
    sc = [s for s in schema_changes(model, t) if s.db == db]
    states = [sum(s.state == st for s in sc) for st in ("PENDING", "RUNNING", "FINISHED", "CANCELLED")]
    cols = ("JobType", "Pending", "Running", "Finished", "Cancelled", "Total")
    return cols, [
        ["load", "0", "0", "12", "1", "13"],
        ["rollup", "0", "0", "0", "0", "0"],
        ["schema_change", *map(str, states), str(len(sc))],
        ["export", "0", "0", "0", "0", "0"],
    ]


def show_proc(model: ClusterModel, answering: Node, path: str, t: float) -> Rows | None:
    """Dispatch a show_proc path; None means the FE would not know the path (answers `[]`)."""
    path = "/" + path.strip("/")
    if path == "/backends":
        return backends(model, t)
    if path == "/compute_nodes":
        return compute_nodes(model, t)
    if path == "/frontends":
        return frontends(model, answering, t)
    if path == "/current_queries":
        return current_queries(model, answering, t)
    if path == "/statistic":
        return statistic(model, t)
    if path == "/dbs":
        return dbs(model, t)
    if path.startswith("/jobs"):
        return jobs(model, path, t)
    return None


def proc_body(model: ClusterModel, answering: Node, path: str, t: float) -> bytes:
    """The JSON body an admin gets from `/api/show_proc?path=...`: lists before 3.1, objects after."""
    answer = show_proc(model, answering, path, t)
    if answer is None:
        return b"[]"
    columns, rows = answer
    data = rows if model.profile.proc_as_lists else [dict(zip(columns, r)) for r in rows]
    return json.dumps(data, separators=(",", ":")).encode()


def runtime_info(model: ClusterModel, fe: Node, t: float) -> dict[str, str]:
    """`/api/show_runtime_info`: JVM memory and threads, every value a string."""
    used, heap_max = model.fe_heap(fe, t)
    return {
        "free_mem": str(heap_max - used),
        "total_mem": str(heap_max),
        "thread_cnt": str(431 + fe.index),
        "max_mem": str(heap_max),
    }
