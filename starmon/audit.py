"""Reading the AuditLoader plugin's table incrementally, and folding its rows into hourly aggregates.

StarRocks keeps its audit log in a file on each FE; the AuditLoader plugin stream-loads it into
a table (`starrocks_audit_db__.starrocks_audit_tbl__` unless configured otherwise), one row per
statement. Busy clusters write millions of rows a day, so a statistics pass reads only the rows
after its watermark (the last row's `timestamp`, then `queryId` within the same second), at most
MAX_ROWS_PER_PASS of them and at most the last FIRST_PASS_HOURS on the first pass, never the
whole table. The plugin's columns grew with its versions (`catalog`, `digest`, `planCpuCosts`,
`candidateMvs` and `hitMVs` came later), so a pass asks DESCRIBE first and selects only the
columns that exist.

Each FE's plugin loads its rows in batches (every 60 s by default), so the newest seconds are
not complete yet: a pass reads up to SETTLE_SECONDS before the FE's clock. `timestamp` is a
DATETIME in the FE's time zone; its offset from UTC is read from the FE's `NOW()`.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .fetch import FetchError
from .parse import parse_int
from .statements import UNPARSED, ShapeCache, fingerprint, resolve

DEFAULT_TABLE = "starrocks_audit_db__.starrocks_audit_tbl__"
MAX_ROWS_PER_PASS = 50_000
FIRST_PASS_HOURS = 24
SETTLE_SECONDS = 90  # the plugin's default batch interval is 60 s
SLOW_PER_PASS = 20  # the slowest queries of each pass kept whole: top N over any range of passes
STMT_CHARS = 1000  # of a statement, kept for samples and slow queries
HOUR = 3600

# Columns starmon uses, in the plugin's order; any that the table lacks are left out of the SELECT.
COLUMNS = (
    "queryId",
    "timestamp",
    "queryType",
    "user",
    "authorizedUser",
    "catalog",
    "db",
    "state",
    "errorCode",
    "queryTime",
    "scanBytes",
    "scanRows",
    "cpuCostNs",
    "memCostBytes",
    "stmt",
    "digest",
)
REQUIRED = ("queryId", "timestamp", "stmt")
_NOT_STATEMENTS = ("connection", "disconnection")  # newer plugins log sessions too

OK, NOT_INSTALLED, FORBIDDEN, ERROR = "ok", "not_installed", "forbidden", "error"


@dataclass(frozen=True)
class Watermark:
    """The last audit row counted: its timestamp text as the cluster wrote it, and its queryId."""

    audit_ts: str
    query_id: str


@dataclass
class Batch:
    """What one read of the audit table returned."""

    status: str
    message: str | None = None
    rows: list[dict] = field(default_factory=list)
    utc_offset: float = 0.0  # seconds the FE's clock is ahead of UTC


def classify(error: FetchError) -> str:
    """not_installed for a missing database or table, forbidden for a refused SELECT, else error."""
    text = str(error).lower()
    if any(s in text for s in ("1049", "1146", "unknown database", "unknown table", "does not exist", "not exist")):
        return NOT_INSTALLED
    if any(s in text for s in ("1142", "1044", "access denied", "privilege")):
        return FORBIDDEN
    return ERROR


def fe_time(value: object) -> str | None:
    """A DATETIME as `yyyy-MM-dd HH:mm:ss`, whether the driver gave a datetime or text."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)[:19] if value else None


def _naive_epoch(text: str) -> float:
    return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).timestamp()  # strptime costs 4x


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_QUERY_ID = re.compile(r"[0-9A-Za-z_.:-]{1,64}")


def select_sql(table: str, columns: list[str], lower: str, upper: str, after: Watermark | None, limit: int) -> str:
    """The incremental read: rows in [lower, upper] after the watermark, oldest first, at most `limit`.

    starmon's MySQL calls take no bound parameters, so the values go in as text, and only values
    of a fixed shape do: DATETIMEs as starmon formats them, and a queryId of UUID characters (a
    watermark whose queryId is anything else resumes after its whole second instead).
    """
    if not (_DATETIME.fullmatch(lower) and _DATETIME.fullmatch(upper)):
        raise ValueError(f"not a DATETIME: {lower!r}, {upper!r}")
    where = [f"`timestamp` >= '{lower}'", f"`timestamp` <= '{upper}'"]
    if after is not None and _DATETIME.fullmatch(after.audit_ts):
        if _QUERY_ID.fullmatch(after.query_id):
            ts, qid = after.audit_ts, after.query_id
            where.append(f"(`timestamp` > '{ts}' OR (`timestamp` = '{ts}' AND `queryId` > '{qid}'))")
        else:
            where.append(f"`timestamp` > '{after.audit_ts}'")
    quoted = ".".join(_quote(part) for part in table.split(".", 1))
    return (
        f"SELECT {', '.join(_quote(c) for c in columns)} FROM {quoted} WHERE {' AND '.join(where)} "
        f"ORDER BY `timestamp`, `queryId` LIMIT {int(limit)}"
    )


async def read_audit(client, table: str, after: Watermark | None, now: float, limit: int = MAX_ROWS_PER_PASS) -> Batch:
    """Read the rows after `after` (a ClusterSource's `sql`); never raises for the cluster's answers."""
    quoted = ".".join(_quote(part) for part in table.split(".", 1))
    try:
        described, clock = await client.sql([f"DESCRIBE {quoted}", "SELECT NOW()"])
    except FetchError as exc:
        return Batch(ERROR, str(exc))
    if isinstance(described, FetchError):
        return Batch(classify(described), str(described))
    if isinstance(clock, FetchError) or not clock:
        return Batch(ERROR, f"the FE's clock: {clock}")
    present = {str(next(iter(r.values()))) for r in described if r}
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        return Batch(ERROR, f"{table} has no column {missing[0]}: not an audit table starmon can read")
    fe_now = fe_time(next(iter(clock[0].values())))
    offset = round((_naive_epoch(fe_now) - now) / 900) * 900
    newest = datetime.strptime(fe_now, "%Y-%m-%d %H:%M:%S")
    upper = (newest - timedelta(seconds=SETTLE_SECONDS)).strftime("%Y-%m-%d %H:%M:%S")
    lower = (newest - timedelta(hours=FIRST_PASS_HOURS)).strftime("%Y-%m-%d %H:%M:%S")
    if after is not None:
        lower = after.audit_ts
    sql = select_sql(table, [c for c in COLUMNS if c in present], lower, upper, after, limit)
    try:
        (rows,) = await client.sql([sql])
    except FetchError as exc:
        return Batch(ERROR, str(exc))
    if isinstance(rows, FetchError):
        return Batch(classify(rows), str(rows))
    return Batch(OK, None, rows, offset)


@dataclass
class Aggregates:
    """One pass's rows, folded by hour: what the workload tables add up (starmon.workload)."""

    tables: dict[tuple, list] = field(default_factory=dict)  # (hour, catalog, db, table, user): [n, last]
    users: dict[tuple, list] = field(default_factory=dict)  # (hour, user): [queries, failed, ms, cpu, bytes, last]
    digests: dict[tuple, dict] = field(default_factory=dict)  # (hour, digest): stats
    mix: dict[tuple, int] = field(default_factory=dict)  # (hour, kind, error_code): queries
    slow: list[dict] = field(default_factory=list)  # the slowest SLOW_PER_PASS, slowest first
    rows: int = 0  # statements counted
    unparsed: int = 0
    last: Watermark | None = None  # the last row read, statements or not


def _number(row: dict, key: str) -> int:
    value = row.get(key)
    if type(value) is int:  # what the driver gives for BIGINT: skip the text parser
        return value if value >= 0 else 0
    value = parse_int(value)
    return value if value is not None and value >= 0 else 0


def aggregate(rows: list[dict], cache: ShapeCache, utc_offset: float = 0.0) -> Aggregates:
    """Fold audit rows (oldest first) into hourly aggregates; pure, so tests and benchmarks need no cluster."""
    out = Aggregates()
    slow: list[tuple[int, int, dict]] = []
    for i, row in enumerate(rows):
        ts_text, query_id = fe_time(row.get("timestamp")), str(row.get("queryId") or "")
        if ts_text is None:
            continue
        out.last = Watermark(ts_text, query_id)
        if str(row.get("queryType") or "").lower() in _NOT_STATEMENTS:
            continue
        out.rows += 1
        ts = _naive_epoch(ts_text) - utc_offset
        hour = ts // HOUR * HOUR
        stmt = str(row.get("stmt") or "")
        digest = str(row.get("digest") or "") or fingerprint(stmt)
        shape = cache.shape(stmt, digest)
        user = str(row.get("user") or row.get("authorizedUser") or "")
        failed = str(row.get("state") or "").upper() == "ERR"
        code = str(row.get("errorCode") or "") if failed else ""
        ms, cpu, scanned = _number(row, "queryTime"), _number(row, "cpuCostNs"), _number(row, "scanBytes")
        if shape.kind == UNPARSED:
            out.unparsed += 1
        for cat, db, name in resolve(shape, row.get("db") or None, row.get("catalog") or None):
            entry = out.tables.setdefault((hour, cat, db, name, user), [0, ts])
            entry[0] += 1
            entry[1] = max(entry[1], ts)
        u = out.users.setdefault((hour, user), [0, 0, 0, 0, 0, ts])
        u[0] += 1
        u[1] += failed
        u[2] += ms
        u[3] += cpu
        u[4] += scanned
        u[5] = max(u[5], ts)
        d = out.digests.get((hour, digest))
        if d is None:
            d = out.digests[(hour, digest)] = dict(
                kind=shape.kind,
                queries=0,
                failed=0,
                query_ms=0,
                max_ms=0,
                cpu_ns=0,
                scan_bytes=0,
                sample=stmt[:STMT_CHARS],
            )
        d["queries"] += 1
        d["failed"] += failed
        d["query_ms"] += ms
        d["max_ms"] = max(d["max_ms"], ms)
        d["cpu_ns"] += cpu
        d["scan_bytes"] += scanned
        key = (hour, shape.kind, (code or "unknown") if failed else "")
        out.mix[key] = out.mix.get(key, 0) + 1
        entry = (ms, i, row)
        if len(slow) < SLOW_PER_PASS:
            heapq.heappush(slow, entry)
        elif entry > slow[0]:
            heapq.heapreplace(slow, entry)
    out.slow = [_slow_row(row, utc_offset) for _, _, row in sorted(slow, key=lambda e: (-e[0], e[1]))]
    return out


def _slow_row(row: dict, utc_offset: float) -> dict:
    return {
        "query_id": str(row.get("queryId") or ""),
        "ts": _naive_epoch(fe_time(row["timestamp"])) - utc_offset,
        "user_name": str(row.get("user") or row.get("authorizedUser") or ""),
        "db_name": str(row.get("db") or ""),
        "query_ms": _number(row, "queryTime"),
        "scan_bytes": _number(row, "scanBytes"),
        "scan_rows": _number(row, "scanRows"),
        "cpu_ns": _number(row, "cpuCostNs"),
        "mem_bytes": _number(row, "memCostBytes"),
        "state": str(row.get("state") or ""),
        "error_code": str(row.get("errorCode") or ""),
        "stmt": str(row.get("stmt") or "")[:STMT_CHARS],
    }
