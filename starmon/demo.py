"""The demo: the bundled emulator plays a cluster named `demo`, with a week of history.

A first run with no cluster configured shows something real: the emulator serves the
cluster on loopback, the collector reads it live, and the past seven days are replayed
from the emulator's own workload model through the same parsers and aggregation as a
live round, so trends and forecasts have data from the first minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from . import parse, schema
from .aggregate import BE_METRICS, FE_METRICS, build_round
from .collect import fetch_statistics
from .config import ClusterConfig, Config, env_setting
from .emulator import ClusterSpec, Emulator, exposition, proc, sqlviews
from .emulator.model import ClusterModel
from .fetch import FetchError
from .readings import NodeReading, PreviousRound, RawRound, Snapshot
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


def replay_round(model: ClusterModel, t: float) -> RawRound:
    """What a live round would have read at time t, rendered and parsed by the real code."""
    leader = model.leader
    lists = [
        parse.proc_rows(json.loads(proc.proc_body(model, leader, path, t)), path)
        for path in ("/frontends", "/backends", "/compute_nodes")
    ]
    return RawRound(
        ts=t,
        reachable=True,
        frontends=lists[0],
        backends=lists[1],
        compute_nodes=lists[2],
        source="show_proc",
        fe_metrics={
            fe.host: parse.parse_prometheus(exposition.fe_metrics(model, fe, t), FE_METRICS) for fe in model.frontends
        },
        be_metrics={
            be.host: parse.parse_prometheus(exposition.be_metrics(model, be, t), BE_METRICS) for be in model.backends
        },
        runtime_info=proc.runtime_info(model, leader, t),
        configured_ip=leader.host,
        version=parse.parse_version(model.profile.version),
    )


class _ReplayedFe:
    """The leader FE's MySQL answers at time t, for fetch_statistics to read as it reads a live one."""

    def __init__(self, model: ClusterModel, t: float):
        self.model, self.t = model, t

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


def _statistics(model: ClusterModel, t: float) -> tuple[dict, list[dict]]:
    """The statistics pass a live collector would have stored at time t (same queries, same code)."""
    stats, sizes = asyncio.run(fetch_statistics(_ReplayedFe(model, t)))
    return {**stats, "ts": t, "collect_ms": 0}, sizes


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

    Returns the rounds written; a set `stop` event ends it after the current batch.
    """
    s = schema.metrics_snapshots
    oldest = store.read(
        lambda conn: conn.execute(sa.select(sa.func.min(s.c.ts)).where(s.c.cluster_id == cluster_id)).scalar()
    )
    times = backfill_times(model.now(), oldest, days)
    previous: PreviousRound | None = None
    pending: list[tuple[Snapshot, tuple[NodeReading, ...]]] = []
    next_stats = times[0] if times else 0
    for i, t in enumerate(times):
        snapshot, nodes = build_round(replay_round(model, t), previous)
        pending.append((dataclasses.replace(snapshot, collect_ms=0), nodes))
        previous = PreviousRound(t, nodes)
        if t >= next_stats:
            store.write_statistics(cluster_id, *_statistics(model, t))
            next_stats = t + 3600
        if len(pending) >= batch or i == len(times) - 1:
            store.write_rounds(cluster_id, pending)
            pending = []
            progress((i + 1) / len(times))
            if stop is not None and stop.is_set():
                return i + 1
    log.info("demo history: %d rounds replayed", len(times))
    return len(times)
