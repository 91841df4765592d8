"""The demo: the bundled emulator plays a cluster named `demo`, with a week of history.

A first run with no cluster configured shows something real: the emulator serves the
cluster on loopback, the collector reads it live, and the past seven days are replayed
from the emulator's own workload model through the same parsers and aggregation as a
live round, so trends and forecasts have data from the first minute.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from . import events, parse, rollup, schema, workload
from .aggregate import build_round
from .config import ClusterConfig, Config, env_setting
from .emulator import ClusterSpec, Emulator, exposition, proc, sqlviews
from .emulator.model import ClusterModel, Node
from .fetch import FetchError
from .readings import NodeReading, PreviousRound, RawRound, Snapshot
from .round import fetch_round, fetch_statistics
from .store import Store

log = logging.getLogger(__name__)
DEMO_NAME = "demo"
HISTORY_DAYS = 7


def wanted(config: Config, store: Store, environ: dict) -> bool:
    """The demo runs when STARMON_DEMO is not 0 and no real cluster is configured."""
    if env_setting("STARMON_DEMO", environ) == "0" or config.clusters:
        return False
    return not any(c["source"] != "demo" for c in store.enabled_clusters())


def retire(store: Store) -> None:
    """Stop collecting a demo cluster left from an earlier run (its history stays)."""
    c = schema.clusters
    store.write(lambda conn: conn.execute(c.update().where(c.c.source == "demo").values(enabled=False)))


def start(store: Store) -> tuple[Emulator, int]:
    """Start the emulator on free loopback ports and point the demo cluster row at it."""
    emulator = Emulator([ClusterSpec(DEMO_NAME)]).start()
    d = emulator.describe()[0]
    c = schema.clusters
    cluster = ClusterConfig(DEMO_NAME, d["fe_host"], d["http_port"], d["query_port"])
    values = dict(cluster.row_fields(), password_encrypted=None, source="demo", updated_at=time.time())

    def upsert(conn: sa.Connection) -> None:
        row = conn.execute(sa.select(c.c.id).where(c.c.name == DEMO_NAME)).first()
        if row:
            conn.execute(c.update().where(c.c.id == row.id).values(**values))
        else:
            conn.execute(c.insert().values(name=DEMO_NAME, **values))

    store.write(upsert)
    return emulator, store.cluster_ids()[DEMO_NAME]


# How far each cluster's replay has got, for the pages to show (history_loading). Process-wide:
# the backfill runs in the dashboard server's own process (starmon.service), as the pages do.
_loading: dict[int, float] = {}


def history_loading(cluster_id: int) -> float | None:
    """The share of a cluster's history replayed so far, or None when no replay is running."""
    return _loading.get(cluster_id)


REPLAY_DEADLINE = 3600.0
# The day rollup treats gaps of more than three intervals as downtime: replayed history is
# every 5 minutes for the older days (see backfill_times).
REPLAY_INTERVAL_SECONDS = 300  # a replayed round never waits; no deadline worth the name


class ReplaySource:
    """The demo cluster as a live round would have read it at time t: the emulator renders each
    answer (show_proc bodies, /metrics, SQL) in its wire format, and the real parsers read it.

    A ClusterSource (starmon.round), so the demo's history goes through the same assembly,
    aggregation and statistics code as a live cluster's rounds.
    """

    def __init__(self, model: ClusterModel, t: float):
        self.model, self.t = model, t
        self.cluster = ClusterConfig(model.name, model.leader.host, model.http_port, model.query_port)
        self.timeout = 60.0  # nothing here waits on a network

    async def show_proc(self, path: str) -> list[dict[str, str]]:
        return parse.proc_rows(json.loads(proc.proc_body(self.model, self.model.leader, path, self.t)), path)

    async def runtime_info(self) -> dict:
        return proc.runtime_info(self.model, self.model.leader, self.t)

    async def sql(self, statements: list[str]) -> list[list[dict] | FetchError]:
        out: list[list[dict] | FetchError] = []
        for statement in statements:
            try:
                rows, columns = sqlviews.answer(self.model, self.model.leader, statement, self.t)
            except sqlviews.SqlError as exc:
                out.append(FetchError(str(exc)))
                continue
            out.append([dict(zip(columns, row)) for row in rows])
        return out

    async def metrics(self, host: str, port: int, *, fe: bool, only: frozenset[str] | None = None) -> parse.MetricSet:
        nodes = self.model.frontends if fe else self.model.backends
        node = next((n for n in nodes if n.host == host), None)
        if node is None:
            raise FetchError("connection refused")
        # answers are mostly names the collector skips: render only the ones it reads
        if fe:
            return parse.parse_prometheus(exposition.fe_metrics(self.model, node, self.t, only), only)
        return parse.parse_prometheus(exposition.be_metrics(self.model, node, self.t, only), only)

    async def addresses(self) -> list[str]:
        return [self.model.leader.host]


# The demo week's scripted changes and incidents, in days before now, so its Events timeline, charts
# and Data page have something real to show: what the emulator's switches (Emulator.change and
# Emulator.set_faults) do live, applied to a copy of the model as the replay passes each moment.
# An FE restart, a BE down and a p99 spike fall in the last 24 hours, the pages' default range.
# The copy ends where the live model is (every node on the profile's version, FE 0 leading, the
# added BE gone, every incident over), so the first live round sees no change.
_OLD_VERSION = "3.3.4-2d6ebb1"
_ADDED_HOST = "127.0.0.250"
_HOUR = 1 / 24  # in days, as the calendar counts
_MINUTE = _HOUR / 60
# (days ago, what happens, how long it lasts in days): the incident calendar, oldest first
INCIDENTS = (
    (6.7, {"disk_spurt": {"index": 2, "factor": 5.0}}, 3 * _HOUR),  # a backfill lands on one BE
    (4.6, {"schema_change": "sales.customers"}, 3.5 * _HOUR),  # ADD COLUMN, running, then finished
    (3.1, {"fail_loads": True}, 2 * _HOUR),  # loads fail: txn_failed and cancelled loads climb
    (2.45, {"mv_refresh_failing": "sales.mv_daily_revenue"}, 3.5 * _HOUR),  # then it recovers
    (0.55, {"be_down": [1]}, 20 * _MINUTE),  # a BE down for 20 minutes
    (0.2, {"latency_spike": 6.0}, 15 * _MINUTE),  # p99 several-fold, queries timing out
)
_OFF = {"disk_spurt": None, "schema_change": "finish", "fail_loads": False, "mv_refresh_failing": None}
_OFF |= {"be_down": [], "latency_spike": 1.0}

Step = tuple[float, Callable[[ClusterModel, float], None]]


def _script(model: ClusterModel) -> list[Step]:
    """(days ago, change at time t) for the demo week: a rolling upgrade, restarts, a leader moving
    and back, a BE added, decommissioned and removed, and the INCIDENTS switched on and off."""

    def version(node: Node, value: str | None) -> Callable[[ClusterModel, float], None]:
        return lambda m, t: setattr(node, "version", value)

    def started(node: Node) -> Callable[[ClusterModel, float], None]:
        return lambda m, t: setattr(node, "started_at", t)

    def switch(changes: dict) -> Callable[[ClusterModel, float], None]:
        return lambda m, t: m.set_faults(changes, t)

    def added(m: ClusterModel, t: float) -> None:
        m.add_backend(_ADDED_HOST).started_at = t

    def decommissioned(m: ClusterModel, t: float) -> None:
        m.decommission(m.backends[-1].index)

    def removed(m: ClusterModel, t: float) -> None:
        m.drop_backend(m.backends[-1].index)

    nodes = [*model.backends, *model.frontends]  # BEs first, as StarRocks' upgrade guide says
    steps: list[Step] = [(99.0, version(n, _OLD_VERSION)) for n in nodes]
    steps += [(6.2 - i * 0.01, version(n, None)) for i, n in enumerate(nodes)]  # ~15 minutes apart
    if len(model.backends) > 1:
        steps.append((5.3, started(model.backends[1])))
    steps += [(3.6, lambda m, t: m.move_leader(len(m.frontends) - 1)), (3.5, lambda m, t: m.move_leader(0))]
    steps += [(2.7, added), (2.2, decommissioned), (2.1, removed), (0.8, started(model.frontends[-1]))]
    for days_ago, changes, lasts in INCIDENTS:
        if _fits(model, changes):
            steps += [(days_ago, switch(changes)), (days_ago - lasts, switch({k: _OFF[k] for k in changes}))]
    return sorted(steps, key=lambda step: -step[0])


def _fits(model: ClusterModel, changes: dict) -> bool:
    """Whether the cluster has the BE an incident names (the demo has three; tests may have fewer)."""
    wanted = [*changes.get("be_down", ()), (changes.get("disk_spurt") or {}).get("index") or 0]
    return max(wanted) < len(model.backends)


def replay_round(model: ClusterModel, t: float) -> RawRound:
    """What a live round would have read at time t (one event loop per call: for tests; the
    backfill keeps one loop for all its rounds)."""
    return asyncio.run(fetch_round(ReplaySource(model, t), t, REPLAY_DEADLINE))


def backfill_times(now: float, oldest_existing: float | None, days: int = HISTORY_DAYS) -> list[float]:
    """Replay times: every 5 minutes for the older days, every minute for the last day."""
    end = min(now, oldest_existing) if oldest_existing else now
    start = now - days * 86400
    fine_from = max(start, now - 86400)
    coarse = list(range(int(start), int(fine_from), 300))
    fine = list(range(int(fine_from), int(end), 60))
    return [float(t) for t in coarse + fine if t < end - 30]


def backfill(
    store: Store,
    model: ClusterModel,
    cluster_id: int,
    days: int = HISTORY_DAYS,
    progress: Callable[[float], None] = lambda fraction: None,
    batch: int = 200,
    stop: threading.Event | None = None,
) -> int:
    """Replay the demo's past into the store, older than anything already stored.

    Returns the rounds written; a set `stop` event ends it after the current batch. While it
    runs, history_loading(cluster_id) says how far it has got.
    """
    _loading[cluster_id] = 0.0
    try:
        return _replay(store, model, cluster_id, days, progress, batch, stop)
    finally:
        del _loading[cluster_id]


def _replay(
    store: Store,
    model: ClusterModel,
    cluster_id: int,
    days: int,
    progress: Callable[[float], None],
    batch: int,
    stop: threading.Event | None,
) -> int:
    s = schema.metrics_snapshots
    oldest = store.read(
        lambda conn: conn.execute(sa.select(sa.func.min(s.c.ts)).where(s.c.cluster_id == cluster_id)).scalar()
    )
    times = backfill_times(model.now(), oldest, days)
    now = model.now()
    model = copy.deepcopy(model)  # the script changes the past, not the cluster the collector reads live
    script = [(now - days_ago * 86400, change) for days_ago, change in _script(model)]
    previous: PreviousRound | None = None
    pending: list[tuple[Snapshot, tuple[NodeReading, ...]]] = []
    changes: list[events.Event] = []  # of the pending rounds, stored with them
    rolled_to = times[0] if times else 0.0  # hours before this are rolled up
    next_stats = times[0] if times else 0
    last_stats: dict | None = None
    with asyncio.Runner() as runner:  # one event loop for every replayed round
        for i, t in enumerate(times):
            while script and script[0][0] <= t:
                when, change = script.pop(0)
                change(model, when)
            source = ReplaySource(model, t)
            snapshot, nodes = build_round(runner.run(fetch_round(source, t, REPLAY_DEADLINE)), previous)
            pending.append((dataclasses.replace(snapshot, collect_ms=0), nodes))
            changes += events.derive_round(previous, snapshot, nodes, REPLAY_INTERVAL_SECONDS)
            previous = events.remember(previous, snapshot, nodes)
            if t >= next_stats:
                ended: list[dict] = []
                stats, sizes = runner.run(fetch_statistics(source, ended))
                stats = {**stats, "ts": t, "collect_ms": 0}
                store.write_statistics(cluster_id, stats, sizes, events.derive_statistics(last_stats, stats, ended))
                last_stats = stats
                runner.run(workload.audit_pass(store, cluster_id, source, None, t))
                next_stats = t + 3600
            if len(pending) >= batch or i == len(times) - 1:
                store.write_rounds(cluster_id, pending, events=changes)
                # the hours and days this batch completed, so every tier fills as history does
                rollup.roll_up_span(store, cluster_id, rolled_to, t, REPLAY_INTERVAL_SECONDS)
                rolled_to = t // rollup.HOUR * rollup.HOUR
                pending, changes = [], []
                _loading[cluster_id] = (i + 1) / len(times)
                progress(_loading[cluster_id])
                if stop is not None and stop.is_set():
                    return i + 1
    if times:  # the last hours, up to the live rounds, which the periodic rollups carry on from
        rollup.roll_up_span(store, cluster_id, rolled_to, (oldest or times[-1]) + rollup.HOUR, REPLAY_INTERVAL_SECONDS)
    log.info("demo history: %d rounds replayed", len(times))
    return len(times)
