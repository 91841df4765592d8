"""The emulated cluster's state and workload, as pure functions of wall-clock time.

Every number the emulator serves is computed here from `(node, t)`, so a test can ask
the model what the cluster said at any instant. Counters are exact integrals of their rates
(the load curve of emulator.load) from the node's start time: they only grow, and a restart
(a new start time) resets them exactly as a real FE or BE process does. Incidents
(emulator.faults) are remembered as episodes, so what they add is exact at any instant too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import catalog
from .faults import INCIDENT_OFF, Episode, Faults
from .load import DAY, GB, TB, Workload, unit_hash
from .profiles import Profile

_EVENT_WINDOW = 300.0  # "now and then" events are decided per 5-minute window
_GAUGE_WINDOW = 15.0  # FE MetricCalculator refreshes gauges every 15 s
SPIKE_TIMEOUT_SHARE = 0.03  # of queries that time out during a latency spike
TXN_PER_SECOND = 0.5  # load transactions begun per second at the mean load
LOADS_PER_SECOND = 0.2  # load jobs added per second at the mean load
FAILED_LOAD_SHARE = 0.4  # of transactions and load jobs that fail while loads fail


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
        if not self.workload.drift_origin:
            self.workload.drift_origin = now  # the load's slow drift is 1 now, lower in the past
        self.episodes: list[Episode] = []  # every incident switched on, past and present
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

    def set_faults(self, changes: dict, at: float | None = None) -> None:
        """Apply fault and incident switches at time `at` (now by default): record when nodes went
        down, and when each incident started and ended."""
        spurt = changes.get("disk_spurt")
        if isinstance(spurt, dict) and isinstance(spurt.get("index"), int):
            self._backend_at(spurt["index"])  # a BE of this cluster, or a clear error
        before = {k: getattr(self.faults, k) for k in INCIDENT_OFF}
        ended = self.faults.update(changes, mvs=catalog.mv_names(), tables=catalog.table_names())
        now = self.now() if at is None else at
        for group, down in ((self.frontends, self.faults.fe_down), (self.backends, self.faults.be_down)):
            for node in group:
                if node.index in down and node.down_since is None:
                    node.down_since = now
                elif node.index not in down:
                    node.down_since = None
        for kind, old in before.items():
            value = getattr(self.faults, kind)
            if value == old:
                continue
            for episode in self.episodes:
                if episode.kind == kind and episode.end is None:
                    episode.end = now
                    episode.outcome = ended.get(episode.value) if kind == "schema_change" else None
            if value != INCIDENT_OFF[kind]:
                self.episodes.append(Episode(kind, now, value))

    def incident(self, kind: str, t: float) -> object:
        """The value an incident switch had at time t (its off value outside every episode)."""
        found = next((e.value for e in self.episodes if e.kind == kind and e.covers(t)), None)
        return INCIDENT_OFF[kind] if found is None else found

    def incident_load(self, kind: str, t0: float, t1: float) -> float:
        """Integral of the load (Workload.daily) over the parts of [t0, t1] an incident covered:
        what the incident added to a counter, per unit of its extra rate."""
        parts = (e.overlap(t0, t1) for e in self.episodes if e.kind == kind)
        return sum(self.workload.daily_integral(*part) for part in parts if part)

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
        return "errors" if h < 0.03 else "slow" if h < 0.06 else None

    def fe_counters(self, fe: Node, t: float) -> dict[str, int]:
        """Cumulative query counters of one FE at time t (zero since its last start).

        During a latency spike SPIKE_TIMEOUT_SHARE of the FE's queries time out (and so fail).
        """
        q = self._fe_queries(fe, t)
        err_bursts, slow_bursts = self._event_counts(fe, t)
        w = self.workload
        spiked = w.qps * fe.share * SPIKE_TIMEOUT_SHARE * self.incident_load("latency_spike", fe.started_at, t)
        total = int(q)
        timeout = int(q * w.error_fraction / 10 + spiked)
        err = min(int(q * w.error_fraction + spiked) + 12 * err_bursts, total)
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
        """Latency quantile gauges in ms, constant within each 15 s window.

        The tail rises in slow-query bursts, and every quantile during a latency spike (the tail by
        the spike's factor, the median by its square root). Without noise, bursts or a spike they
        are latency_ms times fixed ratios, whatever the load (alert tests rely on exact values).
        """
        window = math.floor(t / _GAUGE_WINDOW)
        w = self.workload
        start = window * _GAUGE_WINDOW
        base = w.latency_ms * (1.0 + 0.2 * fe.index) * w.jitter(self.name, fe.index, "lat", window)
        spike = float(self.incident("latency_spike", start))
        tail = spike * (3.0 if w.events and self.event(int(t // _EVENT_WINDOW)) == "slow" else 1.0)
        body = math.sqrt(spike)
        return {
            "mean": round(base * 1.6 * body, 2),
            "50_quantile": round(base * body, 2),
            "75_quantile": round(base * 1.8 * body, 2),
            "90_quantile": round(base * 3 * spike, 2),
            "95_quantile": round(base * 4 * spike, 2),
            "99_quantile": round(base * 8 * tail, 2),
            "999_quantile": round(base * 15 * tail, 2),
        }

    def fe_connections(self, fe: Node, t: float) -> int:
        return max(1, round(2 + self.workload.qps * fe.share * 0.25 * self.workload.daily(t)))

    def fe_heap(self, fe: Node, t: float) -> tuple[int, int]:
        """(used, max) heap bytes: a slow GC sawtooth between 25 % and 60 % of max."""
        phase = ((t + 1931 * fe.index) % 5400) / 5400
        return int(fe.mem_limit * (0.25 + 0.35 * phase)), fe.mem_limit

    # -- transactions and loads (leader only) ---------------------------------------------
    def txn_counters(self, t: float) -> dict[str, int]:
        """Leader transaction and load counters since the leader started, following the load
        curve; while loads fail, FAILED_LOAD_SHARE of transactions and load jobs fail."""
        since = self.leader.started_at
        load = self.workload.daily_integral(since, t)
        failing = self.incident_load("fail_loads", since, t)
        begin = int(TXN_PER_SECOND * load)
        running = 1 + int(unit_hash(self.workload.seed, self.name, "txn", int(t // 60)) * 4)
        failed = int(begin * 0.004 + TXN_PER_SECOND * FAILED_LOAD_SHARE * failing)
        added = int(LOADS_PER_SECOND * load)
        cancelled = int(LOADS_PER_SECOND * FAILED_LOAD_SHARE * failing)
        return {
            "txn_begin": begin,
            "txn_success": max(0, begin - failed - running),
            "txn_failed": min(failed, begin),
            "txn_running": min(running, begin),
            "load_add": added,
            "load_finished": max(0, added - 2 - cancelled),
            "load_cancelled": min(cancelled, added),
        }

    # -- BE/CN resources ------------------------------------------------------------------
    def be_disk_rate(self, be: Node) -> float:
        """Bytes a day a BE's data grows outside a spurt."""
        return be.capacity * self.workload.disk_growth_pct_per_day / 100

    def be_disk(self, be: Node, t: float) -> dict[str, int]:
        """Bytes: total capacity, StarRocks data used, and available (other files take 2 %).

        Data grows at be_disk_rate, factor times faster during a disk spurt on this BE. Growth is
        counted from the model's origin, so a spurt before it (the demo's past) is bytes the BE
        did not have yet before the spurt, and a spurt after it adds to what it has.
        """
        w = self.workload
        frozen = be.down_since if be.down_since is not None else t
        rate = self.be_disk_rate(be) / DAY
        growth = rate * (frozen - self.origin)
        for episode in self.episodes:
            if episode.kind == "disk_spurt" and episode.value["index"] in (None, be.index):
                extra = (episode.value["factor"] - 1) * rate
                before_t, before_origin = episode.overlap(-math.inf, frozen), episode.overlap(-math.inf, self.origin)
                growth += extra * (_length(before_t) - _length(before_origin))
        noise = be.capacity * 0.0005 * (w.jitter(self.name, be.index, "disk", int(frozen // _EVENT_WINDOW)) - 1)
        data = min(be.used0 + growth + noise, be.capacity * 0.98)
        avail = be.capacity - data - be.capacity * 0.02
        return {"total": be.capacity, "data_used": int(data), "avail": int(max(avail, 0))}

    def _cpu_swing(self, be: Node) -> float:
        """How much of a BE's CPU follows the load (the rest is steady background work)."""
        return 0.3 + 0.1 * (be.index % 3)

    def be_cpu_busy(self, be: Node, t: float) -> float:
        """Instantaneous busy fraction of the host's CPUs."""
        swing = self._cpu_swing(be)
        return be.cpu_base * (1 - swing + swing * self.workload.daily(t))

    def be_cpu_jiffies(self, be: Node, t: float) -> dict[str, int]:
        """Cumulative /proc/stat jiffies (100 per core-second) since the host booted: the
        integral of be_cpu_busy."""
        span = t - be.started_at
        swing = self._cpu_swing(be)
        busy_s = be.cpu_base * ((1 - swing) * span + swing * self.workload.daily_integral(be.started_at, t))
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


def _length(part: tuple[float, float] | None) -> float:
    return part[1] - part[0] if part else 0.0
