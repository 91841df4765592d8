"""StarRocks version profiles: which columns and shapes each release serves.

The emulator picks one profile per cluster. Column lists follow REFERENCE.md §3.2-§3.4
and §7, so the collector meets the same differences it meets in the field: show_proc
as a list of lists before 3.1, `MemLimit` inserted mid-row in 3.4, `location` spelled
lower-case in 3.2.0, compute nodes in shared-data clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

_BACKEND_BASE = (
    "BackendId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "TabletNum",
    "DataUsedCapacity",
    "AvailCapacity",
    "TotalCapacity",
    "UsedPct",
    "MaxDiskUsedPct",
    "ErrMsg",
    "Version",
    "Status",
    "DataTotalCapacity",
    "DataUsedPct",
    "CpuCores",
)
_USAGE = ("NumRunningQueries", "MemUsedPct", "CpuUsedPct")

FRONTEND_COLUMNS = (
    "Name",
    "IP",
    "EditLogPort",
    "HttpPort",
    "QueryPort",
    "RpcPort",
    "Role",
    "ClusterId",
    "Join",
    "Alive",
    "ReplayedJournalId",
    "LastHeartbeat",
    "IsHelper",
    "ErrMsg",
    "StartTime",
    "Version",
)

_CN_34 = (
    "ComputeNodeId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "ErrMsg",
    "Version",
    "CpuCores",
    "MemLimit",
    "NumRunningQueries",
    "MemUsedPct",
    "CpuUsedPct",
    "DataCacheMetrics",
    "HasStoragePath",
    "StatusCode",
)
_CN_OLD = (
    "ComputeNodeId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "ErrMsg",
    "Version",
    "CpuCores",
    "NumRunningQueries",
    "MemUsedPct",
    "CpuUsedPct",
    "HasStoragePath",
)

CURRENT_QUERIES_OLD = (
    "QueryId",
    "ConnectionId",
    "Database",
    "User",
    "ScanBytes",
    "ProcessRows",
    "CPUCostSeconds",
    "MemoryUsageBytes",
    "ExecTime",
)
CURRENT_QUERIES_NEW = (
    "StartTime",
    "feIp",
    "QueryId",
    "ConnectionId",
    "Database",
    "User",
    "ScanBytes",
    "ScanRows",
    "MemoryUsage",
    "DiskSpillSize",
    "CPUTime",
    "ExecTime",
    "Warehouse",
    "CustomQueryId",
    "ResourceGroup",
)

PROCESSLIST_OLD = ("Id", "User", "Host", "Db", "Command", "ConnectionStartTime", "Time", "State", "Info")
PROCESSLIST_3X = PROCESSLIST_OLD + ("IsPending",)

_MV_COLUMNS = (
    "MATERIALIZED_VIEW_ID",
    "TABLE_SCHEMA",
    "TABLE_NAME",
    "REFRESH_TYPE",
    "IS_ACTIVE",
    "INACTIVE_REASON",
    "PARTITION_TYPE",
    "TASK_ID",
    "TASK_NAME",
    "LAST_REFRESH_START_TIME",
    "LAST_REFRESH_FINISHED_TIME",
    "LAST_REFRESH_DURATION",
    "LAST_REFRESH_STATE",
    "LAST_REFRESH_FORCE_REFRESH",
    "LAST_REFRESH_START_PARTITION",
    "LAST_REFRESH_END_PARTITION",
    "LAST_REFRESH_BASE_REFRESH_PARTITIONS",
    "LAST_REFRESH_MV_REFRESH_PARTITIONS",
    "LAST_REFRESH_ERROR_CODE",
    "LAST_REFRESH_ERROR_MESSAGE",
    "TABLE_ROWS",
    "MATERIALIZED_VIEW_DEFINITION",
    "EXTRA_MESSAGE",
    "QUERY_REWRITE_STATUS",
    "CREATOR",
)


# The AuditLoader plugin's table (fe-plugins-auditloader's CREATE TABLE): the newest, and the
# older plugin's for StarRocks 2.4-3.1, before catalog, digest and the planner's costs were logged.
AUDIT_COLUMNS_NEW = (
    "queryId",
    "timestamp",
    "queryType",
    "clientIp",
    "user",
    "authorizedUser",
    "resourceGroup",
    "catalog",
    "db",
    "state",
    "errorCode",
    "queryTime",
    "scanBytes",
    "scanRows",
    "returnRows",
    "cpuCostNs",
    "memCostBytes",
    "stmtId",
    "isQuery",
    "feIp",
    "stmt",
    "digest",
    "planCpuCosts",
    "planMemCosts",
    "candidateMvs",
    "hitMVs",
)
AUDIT_COLUMNS_OLD = tuple(
    c
    for c in AUDIT_COLUMNS_NEW
    if c not in ("catalog", "digest", "planCpuCosts", "planMemCosts", "candidateMvs", "hitMVs")
)


@dataclass(frozen=True)
class Profile:
    """Everything that differs between the StarRocks releases the emulator can play."""

    name: str
    version: str  # as `SELECT current_version()` prints it
    proc_as_lists: bool  # show_proc body: list of lists (<= 3.0) or objects
    backend_columns: tuple[str, ...]
    compute_node_columns: tuple[str, ...]
    current_queries_columns: tuple[str, ...]
    processlist_columns: tuple[str, ...]
    mv_columns: tuple[str, ...]
    has_partitions_meta: bool
    shared_data: bool = False
    audit_columns: tuple[str, ...] | None = AUDIT_COLUMNS_NEW  # None: the AuditLoader plugin is not installed

    @property
    def node_version(self) -> str:
        """The hyphenated form nodes report in their `Version` column (`3.3.5-6d81f75`)."""
        return self.version.replace(" ", "-")


PROFILES: dict[str, Profile] = {
    "2.5": Profile(
        name="2.5",
        version="2.5.22 a6e4e1b",
        proc_as_lists=True,
        backend_columns=_BACKEND_BASE,
        compute_node_columns=_CN_OLD,
        current_queries_columns=CURRENT_QUERIES_OLD,
        processlist_columns=PROCESSLIST_OLD,
        mv_columns=_MV_COLUMNS[:21],
        has_partitions_meta=False,
        audit_columns=None,
    ),
    "3.1": Profile(
        name="3.1",
        version="3.1.11 34ef0a1",
        proc_as_lists=False,
        backend_columns=_BACKEND_BASE + _USAGE,
        compute_node_columns=_CN_OLD,
        current_queries_columns=CURRENT_QUERIES_OLD,
        processlist_columns=PROCESSLIST_3X,
        mv_columns=_MV_COLUMNS[:22],
        has_partitions_meta=True,
        audit_columns=AUDIT_COLUMNS_OLD,
    ),
    "3.3": Profile(
        name="3.3",
        version="3.3.5 6d81f75",
        proc_as_lists=False,
        backend_columns=_BACKEND_BASE + _USAGE + ("DataCacheMetrics", "Location"),
        compute_node_columns=_CN_OLD,
        current_queries_columns=CURRENT_QUERIES_NEW[:12],
        processlist_columns=PROCESSLIST_3X,
        mv_columns=_MV_COLUMNS,
        has_partitions_meta=True,
    ),
    "3.4": Profile(
        name="3.4",
        version="3.4.1 abcdef0",
        proc_as_lists=False,
        backend_columns=_BACKEND_BASE + ("MemLimit",) + _USAGE + ("DataCacheMetrics", "Location", "StatusCode"),
        compute_node_columns=_CN_34,
        current_queries_columns=CURRENT_QUERIES_NEW,
        processlist_columns=PROCESSLIST_3X,
        mv_columns=_MV_COLUMNS,
        has_partitions_meta=True,
    ),
}
PROFILES["shared-data"] = Profile(
    **{
        **PROFILES["3.4"].__dict__,
        "name": "shared-data",
        "shared_data": True,
        "compute_node_columns": _CN_34 + ("StarletPort", "WorkerId", "WarehouseName", "TabletNum"),
    },
)
