"""The emulated cluster's state and workload, as pure functions of wall-clock time.

Every number the emulator serves is computed here from `(node, t)`, so a test can ask
the model what the cluster said at any instant. Counters are closed-form integrals of
their rates from the node's start time: they only grow, and a restart (a new start
time) resets them exactly as a real FE or BE process does.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .profiles import Profile

DAY = 86400.0
_PEAK_PHASE = 8 * 3600.0  # sine phase that puts the daily peak at 14:00 UTC
_EVENT_WINDOW = 300.0  # "now and then" events are decided per 5-minute window
_GAUGE_WINDOW = 15.0  # FE MetricCalculator refreshes gauges every 15 s
TB = 1024**4
GB = 1024**3


def unit_hash(*parts: object) -> float:
    """Deterministic pseudo-random number in [0, 1) for the given key."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


@dataclass
class Workload:
    """What the emulated cluster is told to serve; tests set these and check the results."""

    qps: float = 40.0  # cluster-wide queries per second at the daily mean
    daily_amplitude: float = 0.5  # relative swing of the daily pattern; 0 = flat
    error_fraction: float = 0.002  # share of queries that fail outside bursts
    latency_ms: float = 25.0  # p50 query latency on the leader
    noise: float = 0.1  # relative jitter of gauges; 0 = exact values
    disk_growth_pct_per_day: float = 0.8  # of each BE's capacity
    events: bool = True  # occasional error bursts and slow queries
    seed: int = 7
    response_ms: float = 0.0  # time every answer takes (network round trip plus the FE's own work)

    def daily(self, t: float) -> float:
        """Relative load at time t: 1 on average, peaking mid-afternoon UTC."""
        return 1.0 + self.daily_amplitude * math.sin(2 * math.pi * (t - _PEAK_PHASE) / DAY)

    def daily_integral(self, t0: float, t1: float) -> float:
        """Exact integral of `daily` from t0 to t1, in seconds."""
        k = 2 * math.pi / DAY
        a = self.daily_amplitude / k
        return (t1 - t0) - a * (math.cos(k * (t1 - _PEAK_PHASE)) - math.cos(k * (t0 - _PEAK_PHASE)))

    def jitter(self, *key: object) -> float:
        """Multiplicative noise factor in [1 - noise, 1 + noise]."""
        return 1.0 + self.noise * (2 * unit_hash(self.seed, *key) - 1)


@dataclass
class Faults:
    """Fault switches a test or a demo can flip while the emulator runs."""

    fe_down: set[int] = field(default_factory=set)  # FE indexes refusing connections
    be_down: set[int] = field(default_factory=set)  # BE/CN indexes: dead to the FE, HTTP refused
    slow_seconds: float = 0.0  # delay before every HTTP answer
    http_500: bool = False  # FE /metrics and /api/* answer 500
    bad_body: str | None = None  # "truncated" or "garbage" FE /metrics and show_proc bodies
    proc_forbidden: bool = False  # show_proc answers 401 as for a user without admin
    mysql_refused: bool = False  # MySQL query ports refuse connections

    SWITCHES = ("fe_down", "be_down", "slow_seconds", "http_500", "bad_body", "proc_forbidden", "mysql_refused")

    def update(self, changes: dict) -> None:
        """Apply a partial update, rejecting unknown switches and bad values."""
        for key, value in changes.items():
            if key not in self.SWITCHES:
                raise ValueError(f"unknown fault switch {key!r}; known: {', '.join(self.SWITCHES)}")
            if key in ("fe_down", "be_down"):
                value = {int(v) for v in value}
            elif key == "slow_seconds":
                value = float(value)
                if value < 0:
                    raise ValueError("slow_seconds must be >= 0")
            elif key == "bad_body":
                if value not in (None, "truncated", "garbage"):
                    raise ValueError("bad_body must be null, 'truncated' or 'garbage'")
            else:
                value = bool(value)
            setattr(self, key, value)

    def as_dict(self) -> dict:
        """JSON-ready view of every switch."""
        d = {k: getattr(self, k) for k in self.SWITCHES}
        d["fe_down"], d["be_down"] = sorted(self.fe_down), sorted(self.be_down)
        return d


@dataclass
class AuditLog:
    """The AuditLoader plugin's table the cluster serves (emulator.auditlog); tests flip these."""

    installed: bool = True  # False: no plugin, so no table (the profile without it starts so)
    readable: bool = True  # False: SELECT on it is refused, as for a user without the GRANT
    per_hour: float = 120.0  # statements logged per hour
    table: str = "starrocks_audit_db__.starrocks_audit_tbl__"
    extra: list[tuple[float, dict]] = field(default_factory=list)  # (epoch ts, row) rows a test added


@dataclass
class Node:
    """One FE, BE or CN process: identity plus the constants its workload scales by."""

    role: str  # "FE", "BE" or "CN"
    index: int  # position within its role
    host: str  # loopback address it listens on
    node_id: int  # BackendId / ComputeNodeId; FE: the edit-log timestamp in its Name
    started_at: float
    share: float = 0.0  # FE: share of the cluster's queries
    capacity: int = 0  # BE: bytes over all storage paths
    used0: float = 0.0  # BE: data bytes at the emulator's origin
    cores: int = 16
    mem_limit: int = 0
    cpu_base: float = 0.25  # mean busy fraction
    tablets: int = 0
    down_since: float | None = None
    version: str | None = None  # None: the profile's; set by an upgrade of this node alone
    decommissioned: bool = False  # BE/CN: SystemDecommissioned
    _events: tuple[int, int, int] = (0, 0, 0)  # memo: (last window, error bursts, slow bursts)


class ClusterModel:
    """State of one emulated cluster: its nodes, workload, faults and the clock."""

    def __init__(
        self,
        name: str,
        profile: Profile,
        fe_hosts: list[str],
        be_hosts: list[str],
        *,
        http_port: int,
        query_port: int,
        be_http_port: int,
        workload: Workload | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.profile = profile
        self.workload = workload or Workload()
        self.faults = Faults()
        self.audit = AuditLog(installed=profile.audit_columns is not None)
        self.http_port, self.query_port, self.be_http_port = http_port, query_port, be_http_port
        self._clock = clock
        self.offset = 0.0
        now = self.now()
        self.origin = now
        weights = [1.5] + [1.0] * (len(fe_hosts) - 1)
        self.frontends = [
            Node(
                "FE",
                i,
                host,
                node_id=1_700_000_000_000 + i * 100_000,
                started_at=now - 10 * DAY,
                share=w / sum(weights),
                mem_limit=8 * GB,
            )
            for i, (host, w) in enumerate(zip(fe_hosts, weights))
        ]
        role = "CN" if profile.shared_data else "BE"
        self.backends = [self._backend(role, i, host, now) for i, host in enumerate(be_hosts)]
        self.leader_index = 0  # which FE leads; move_leader changes it

    def _backend(self, role: str, i: int, host: str, now: float) -> Node:
        capacity = int((1.8 + 0.2 * (i % 3)) * TB)
        return Node(
            role,
            i,
            host,
            node_id=10002 + i,
            started_at=now - 9 * DAY,
            capacity=capacity,
            used0=capacity * (0.42 + 0.07 * (i % 3)),
            cores=16,
            mem_limit=int(57.012 * GB),
            cpu_base=0.22 + 0.06 * (i % 3),
            tablets=0 if role == "CN" else 1480 + 37 * i,
        )

    # -- clock -------------------------------------------------------------------------
    def now(self) -> float:
        """Emulated wall-clock time (real time plus any test-requested advance)."""
        return self._clock() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward, as if time had passed."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds

    # -- faults that change state --------------------------------------------------------
    def restart_fe(self, index: int) -> None:
        """Simulate an FE process restart: its counters start again from zero."""
        self.frontends[index].started_at = self.now()

    def restart_be(self, index: int) -> None:
        """Simulate a BE or CN process restart: a new LastStartTime, counters from zero."""
        self._backend_at(index).started_at = self.now()

    def move_leader(self, index: int) -> None:
        """Make another FE the leader, as an election after a failover would."""
        if not 0 <= index < len(self.frontends):
            raise ValueError(f"cluster {self.name!r} has no FE {index}")
        self.leader_index = index

    def set_version(self, role: str, index: int, version: str) -> None:
        """Upgrade (or downgrade) one node: it reports `version` from now on."""
        node = self.frontends[index] if role == "FE" else self._backend_at(index)
        node.version = version

    def node_version(self, node: Node) -> str:
        return node.version or self.profile.node_version

    def add_backend(self, host: str) -> Node:
        """A new BE (or CN on shared-data) joins, empty, just started."""
        role = "CN" if self.profile.shared_data else "BE"
        node = self._backend(role, max((b.index for b in self.backends), default=-1) + 1, host, self.now())
        node.started_at = self.now()
        self.backends.append(node)
        return node

    def decommission(self, index: int) -> None:
        """Start decommissioning a BE or CN: it stays listed, flagged, until drop_backend."""
        self._backend_at(index).decommissioned = True

    def drop_backend(self, index: int) -> int:
        """Remove a BE or CN from the node lists; returns its position in `backends`."""
        node = self._backend_at(index)
        position = self.backends.index(node)
        del self.backends[position]
        return position

    def _backend_at(self, index: int) -> Node:
        node = next((b for b in self.backends if b.index == index), None)
        if node is None:
            raise ValueError(f"cluster {self.name!r} has no BE/CN {index}")
        return node

    def set_faults(self, changes: dict) -> None:
        """Apply fault switches and record when nodes went down."""
        self.faults.update(changes)
        now = self.now()
        for group, down in ((self.frontends, self.faults.fe_down), (self.backends, self.faults.be_down)):
            for node in group:
                if node.index in down and node.down_since is None:
                    node.down_since = now
                elif node.index not in down:
                    node.down_since = None

    def alive(self, node: Node) -> bool:
        """Whether the node answers (and the leader sees it alive)."""
        return node.down_since is None

    @property
    def leader(self) -> Node:
        return self.frontends[self.leader_index]

    # -- FE query workload -----------------------------------------------------------------
    def _fe_queries(self, fe: Node, t: float) -> float:
        w = self.workload
        return w.qps * fe.share * w.daily_integral(fe.started_at, t)

    def _event_counts(self, fe: Node, t: float) -> tuple[int, int]:
        """Error bursts and slow-query bursts that happened on this FE since it started."""
        if not self.workload.events:
            return 0, 0
        first = int(fe.started_at // _EVENT_WINDOW) + 1
        last = int(t // _EVENT_WINDOW)
        memo_w, errs, slows = fe._events
        if memo_w < first or memo_w > last:
            memo_w, errs, slows = first - 1, 0, 0
        for w in range(memo_w + 1, last + 1):
            kind = self.event(w)
            errs += kind == "errors"
            slows += kind == "slow"
        fe._events = (last, errs, slows)
        return errs, slows

    def event(self, window: int) -> str | None:
        """What happened in a 5-minute window: an error burst, slow queries, or nothing."""
        h = unit_hash(self.workload.seed, self.name, "event", window)
        return "errors" if h < 0.06 else "slow" if h < 0.12 else None

    def fe_counters(self, fe: Node, t: float) -> dict[str, int]:
        """Cumulative query counters of one FE at time t (zero since its last start)."""
        q = self._fe_queries(fe, t)
        err_bursts, slow_bursts = self._event_counts(fe, t)
        total = int(q)
        err = int(q * self.workload.error_fraction) + 12 * err_bursts
        timeout = int(q * self.workload.error_fraction / 10)
        err = min(err, total)
        return {
            "query_total": total,
            "query_err": err,
            "query_timeout": min(timeout, err),
            "query_success": total - err,
            "request_total": int(q * 1.4),
            "slow_query": int(q * 0.001) + 4 * slow_bursts,
        }

    def fe_qps_gauge(self, fe: Node, t: float) -> float:
        """The FE's own `qps` gauge: the rate over its last 15 s calculator window."""
        window = math.floor(t / _GAUGE_WINDOW)
        w = self.workload
        return w.qps * fe.share * w.daily(window * _GAUGE_WINDOW) * w.jitter(self.name, fe.index, "qps", window)

    def fe_latency(self, fe: Node, t: float) -> dict[str, float]:
        """Latency quantile gauges in ms, constant within each 15 s window."""
        window = math.floor(t / _GAUGE_WINDOW)
        w = self.workload
        base = w.latency_ms * (1.0 + 0.2 * fe.index) * w.jitter(self.name, fe.index, "lat", window)
        slow = 6.0 if self.event(int(t // _EVENT_WINDOW)) == "slow" and w.events else 1.0
        return {
            "mean": round(base * 1.6, 2),
            "50_quantile": round(base, 2),
            "75_quantile": round(base * 1.8, 2),
            "90_quantile": round(base * 3, 2),
            "95_quantile": round(base * 4, 2),
            "99_quantile": round(base * 8 * slow, 2),
            "999_quantile": round(base * 15 * slow, 2),
        }

    def fe_connections(self, fe: Node, t: float) -> int:
        return max(1, round(2 + self.workload.qps * fe.share * 0.25 * self.workload.daily(t)))

    def fe_heap(self, fe: Node, t: float) -> tuple[int, int]:
        """(used, max) heap bytes: a slow GC sawtooth between 25 % and 60 % of max."""
        phase = ((t + 1931 * fe.index) % 5400) / 5400
        return int(fe.mem_limit * (0.25 + 0.35 * phase)), fe.mem_limit

    # -- transactions and loads (leader only) ---------------------------------------------
    def txn_counters(self, t: float) -> dict[str, int]:
        """Leader transaction and load counters since the leader started."""
        span = max(0.0, t - self.leader.started_at)
        begin = int(span * 0.5)
        running = 1 + int(unit_hash(self.workload.seed, self.name, "txn", int(t // 60)) * 4)
        failed = int(begin * 0.004)
        return {
            "txn_begin": begin,
            "txn_success": max(0, begin - failed - running),
            "txn_failed": failed,
            "txn_running": min(running, begin),
            "load_add": int(span * 0.2),
            "load_finished": max(0, int(span * 0.2) - 2),
        }

    # -- BE/CN resources ------------------------------------------------------------------
    def be_disk(self, be: Node, t: float) -> dict[str, int]:
        """Bytes: total capacity, StarRocks data used, and available (other files take 2 %)."""
        w = self.workload
        frozen = be.down_since if be.down_since is not None else t
        growth = be.capacity * w.disk_growth_pct_per_day / 100 * (frozen - self.origin) / DAY
        noise = be.capacity * 0.0005 * (w.jitter(self.name, be.index, "disk", int(frozen // _EVENT_WINDOW)) - 1)
        data = min(be.used0 + growth + noise, be.capacity * 0.98)
        avail = be.capacity - data - be.capacity * 0.02
        return {"total": be.capacity, "data_used": int(data), "avail": int(max(avail, 0))}

    def be_cpu_busy(self, be: Node, t: float) -> float:
        """Instantaneous busy fraction of the host's CPUs."""
        return be.cpu_base * (0.6 + 0.4 * self.workload.daily(t))

    def be_cpu_jiffies(self, be: Node, t: float) -> dict[str, int]:
        """Cumulative /proc/stat jiffies (100 per core-second) since the host booted."""
        span = t - be.started_at
        busy_s = be.cpu_base * (0.6 * span + 0.4 * self.workload.daily_integral(be.started_at, t))
        total = be.cores * 100 * span
        busy = be.cores * 100 * busy_s
        return {
            "user": int(busy * 0.70),
            "system": int(busy * 0.25),
            "iowait": int(busy * 0.03),
            "soft_irq": int(busy * 0.02),
            "nice": 0,
            "irq": 0,
            "steal": 0,
            "guest": 0,
            "guest_nice": 0,
            "idle": int(total - busy),
        }

    def be_mem_pct(self, be: Node, t: float) -> float:
        return 100 * (0.30 + 0.05 * (be.index % 3)) * (0.8 + 0.2 * self.workload.daily(t))

    def be_compaction_score(self, be: Node, t: float) -> int:
        window = int(t // _EVENT_WINDOW)
        return int(8 + 20 * unit_hash(self.workload.seed, self.name, be.index, "cs", window))

    def be_running_queries(self, be: Node, t: float) -> int:
        if not self.alive(be):
            return 0
        return int(self.workload.qps * 0.05 * self.workload.daily(t) * self.workload.jitter(be.index, int(t // 15)))
