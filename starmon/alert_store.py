"""Alerts in the store: evaluate a cluster after its round, keep its alerts' lifecycle, silences.

The collector that stores a cluster's round evaluates it (with leases, the lease holder), and
each evaluation reads the open alerts, moves them, writes their events and queues their
notifications in one transaction (one at a time per cluster, on PostgreSQL too): a hand-over
between collectors neither sends a move twice nor misses one. replay_history records the alerts
of history stored without an evaluation (the demo's week) the same way, sending nothing.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import alert_delivery, alert_edits, read, schema
from .alert_lifecycle import Move, open_alert, record, step, transition_events
from .alerts import AlertSettings, RoundInputs, Rule, round_conditions, stale_condition
from .config import Config
from .events import Event
from .health import Condition
from .readings import PreviousRound, Snapshot, fields_of
from .store import Store

log = logging.getLogger("starmon.alerts")
FORECAST_KEEP_SECONDS = 600.0  # a disk forecast is refitted at most this often per cluster
HISTORY_DAYS = 90
_LOCK_SPACE = 7115  # PostgreSQL advisory lock space: one evaluation per cluster at a time


@dataclass(frozen=True)
class Silence:
    id: int
    cluster_id: int | None
    cluster: str | None
    rule: str | None
    until: float
    reason: str
    created_by: str
    created_at: float


@dataclass
class _Known:
    """What the engine keeps of a cluster it evaluates, so a round's evaluation reads nothing back.

    Read from the store once: when the collector starts or gains the cluster (a lease hand-over).
    """

    statistics: dict | None  # the newest statistics pass (lists decoded)
    open: int | None = None  # alerts pending or firing after the last evaluation; None: not known yet
    lock: threading.Lock = field(default_factory=threading.Lock)  # one evaluation of the cluster at a time


class AlertEngine:
    """Evaluates the alert rules of the clusters a collector stores, against one store.

    The rules are the configured ones with the Alerts page's edits on top, re-read by refresh()
    (the collector calls it once per loop tick) only when they changed.
    """

    def __init__(self, store: Store, config: Config, clock: Callable[[], float] = time.time):
        self.store, self.config, self.clock = store, config, clock
        self._edits_seen: tuple | None = None
        # the settings in force, and each cluster's rules under them: swapped together by refresh()
        self._current: tuple[AlertSettings, dict[str, Callable[[str], Rule]]] = (config.alerts, {})
        self._known: dict[int, _Known] = {}
        self._forecasts: dict[int, tuple[float, dict | None]] = {}
        self._fitting: set[int] = set()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Take up the Alerts page's rule edits if any was saved or reset since the last look (one query)."""
        seen = alert_edits.signature(self.store)
        if seen != self._edits_seen:
            self._current = (alert_edits.load(self.store, self.config.alerts), {})
            self._edits_seen = seen

    @property
    def settings(self) -> AlertSettings:
        return self._current[0]

    def rules(self, cluster: str) -> Callable[[str], Rule]:
        """The cluster's rules under the current settings, worked out once per settings."""
        settings, known = self._current
        rules = known.get(cluster)
        if rules is None:
            rules = known[cluster] = settings.rules_for(cluster)
        return rules

    def forget(self, keep: set[int]) -> None:
        """Drop what is kept of clusters no longer evaluated here: gained again, they are read afresh."""
        with self._lock:
            for cid in [c for c in self._known if c not in keep]:
                del self._known[cid]

    def statistics_stored(self, cluster_id: int, stats: dict) -> None:
        """The statistics pass just stored (lists as Python values): what the MV rules read next."""
        self._cluster(cluster_id).statistics = stats

    def _cluster(self, cluster_id: int) -> _Known:
        with self._lock:
            known = self._known.get(cluster_id)
        if known is None:  # first evaluation here: read once, outside the lock
            known = _Known(read.Reader(self.store).statistics(cluster_id))
            with self._lock:
                known = self._known.setdefault(cluster_id, known)
        return known

    def _forecast(self, cluster_id: int, now: float) -> dict | None:
        """The cluster's kept disk forecast; an old or missing one is refitted in a thread of its own.

        A fit over a week of rounds costs 50-150 ms of Python, more beside busy dashboard readers:
        fitted inside the evaluation it held the round open past its interval, and the next round
        was skipped. The disk_forecast rule waits for the first fit instead.
        """
        with self._lock:
            kept = self._forecasts.get(cluster_id)
            stale = kept is None or now - kept[0] >= FORECAST_KEEP_SECONDS
            if stale and cluster_id not in self._fitting:
                self._fitting.add(cluster_id)
                threading.Thread(
                    target=self._fit, args=(cluster_id, now), name="starmon-alert-forecast", daemon=True
                ).start()
        return kept[1] if kept else None

    def _fit(self, cluster_id: int, now: float) -> None:
        try:
            reader = read.Reader(self.store)
            headline = read.forecast(reader, cluster_id, self.config.forecast_window_days, now).headline
        except Exception:
            log.warning(
                "disk forecast of cluster %s failed; its alert waits for the next fit", cluster_id, exc_info=True
            )
            headline = None
        with self._lock:
            self._forecasts[cluster_id] = (now, headline)
            self._fitting.discard(cluster_id)

    def after_round(
        self, cluster_id: int, cluster: str, snapshot: Snapshot | None = None, stored: PreviousRound | None = None
    ) -> int:
        """Evaluate every rule but stale data on the cluster's newest round; how many messages were queued.

        The collector passes the round it just stored (`snapshot`, and `stored`, the round as
        events.remember keeps it, with since when each dead node is down), so nothing is read
        back; without them (the CLI, tests) the newest stored round is read, and the rule edits.
        """
        now = self.clock()
        if snapshot is None or stored is None:
            self.refresh()
            reader = read.Reader(self.store)
            row = reader.latest(cluster_id)
            if row is None:
                return 0
            dead = reader.dead_nodes(cluster_id, row)
        else:
            row = {name: getattr(snapshot, name) for name in _SNAPSHOT_FIELDS}
            dead = dead_nodes(stored)
        inputs = RoundInputs(row, dead, self._cluster(cluster_id).statistics, self._forecast(cluster_id, now))
        rule = self.rules(cluster)
        found, unknown = round_conditions(inputs, self.config.cards, self.config.interval_seconds, rule)
        return self.apply(cluster_id, cluster, found, unknown, now)

    def check_stale(self, clusters: list[tuple[int, str]]) -> int:
        """Evaluate the stale-data rule of the given clusters (no round stored for 3 intervals)."""
        now = self.clock()
        last = self.store.last_round_times([cid for cid, _ in clusters])
        queued = 0
        for cid, name in clusters:
            cond = stale_condition(last.get(cid), now, self.config.interval_seconds, self.rules(name)("stale_data"))
            queued += self.apply(cid, name, [cond] if cond else [], set(), now, only={"stale_data"})
        return queued

    def apply(
        self,
        cluster_id: int,
        cluster: str,
        found: list[Condition],
        unknown: set[str],
        now: float,
        only: set[str] | None = None,
    ) -> int:
        """Move the cluster's alerts for the conditions found and queue one message per channel; how many.

        With no alert open and nothing to open (most rounds of a healthy cluster) it writes nothing.
        The moves, their events and their messages are written in one transaction.
        """
        rule, known = self.rules(cluster), self._cluster(cluster_id)

        def evaluate(conn: sa.Connection) -> tuple[int, int]:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:s, :c)"), {"s": _LOCK_SPACE, "c": cluster_id})
            rows = {r.id: dict(r._mapping) for r in conn.execute(_OPEN, {"cluster_id": cluster_id})}
            moves = step([open_alert(i, r) for i, r in rows.items()], found, unknown, rule, now, only)
            muted = silenced_rules(conn, cluster_id, now)
            items, ids = [], []
            for move in moves:
                alert_id = _write(conn, cluster_id, move, now, muted(move.rule), rows)
                ids.append(alert_id)
                held_back = muted(move.rule) or (move.kind == "resolve" and rows[alert_id]["silenced"])
                if move.notify and not held_back:
                    items.append(_item(move, alert_id, rows[alert_id], now))
            _insert_events(self.store, conn, cluster_id, [e for _, e in transition_events(moves, rows, ids, now)])
            queued = alert_delivery.queue(conn, cluster_id, cluster, items, self.settings, now) if items else 0
            return queued, sum(r["state"] != "resolved" for r in rows.values())

        with known.lock:
            if known.open == 0 and not step([], found, unknown, rule, now, only):
                return 0
            queued, known.open = self.store.write(evaluate)
        return queued


_SNAPSHOT_FIELDS = tuple(sorted(fields_of(Snapshot)))
# Built once, values bound at each execution: building a statement per evaluation cost more than running it.
_A, _S = schema.alerts, schema.alert_silences
_OPEN = sa.select(_A).where(_A.c.cluster_id == sa.bindparam("cluster_id"), _A.c.state.in_(("pending", "firing")))
_UPDATE = _A.update().where(_A.c.id == sa.bindparam("alert_id"))
_DELETE = _A.delete().where(_A.c.id == sa.bindparam("alert_id"))
_SILENCED = sa.select(_S.c.rule).where(
    _S.c.until > sa.bindparam("now"), sa.or_(_S.c.cluster_id.is_(None), _S.c.cluster_id == sa.bindparam("cluster_id"))
)


def dead_nodes(stored: PreviousRound) -> list[dict]:
    """The nodes not alive in a round as kept in memory, with since when (Reader.dead_nodes' shape)."""
    dead = [n for n in stored.nodes if n.alive is False]
    return [
        {"role": n.role, "host": n.host, "since": stored.down_since.get(n.key)}
        for n in sorted(dead, key=lambda n: (n.role, n.host))
    ]


def _item(move: Move, alert_id: int, row: dict, now: float) -> dict:
    """A move as a message's line (alert_delivery.compose) reads it."""
    cond = move.condition
    return {
        "id": alert_id,
        "kind": move.kind,
        "rule": move.rule,
        "subject": move.subject,
        "severity": move.severity,
        "message": cond.text if cond else row["message"],
        "value": cond.value if cond else row["value"],
        "threshold": cond.threshold if cond else row["threshold"],
        "unit": cond.unit if cond else row["unit"],
        "started_at": move.alert.started_at if move.alert else now,
        "now": now,
    }


def _insert_events(store: Store, conn: sa.Connection, cluster_id: int, found: list[Event]) -> None:
    """Alert events, in the transaction of the moves that made them (once each: the events' key)."""
    if found:
        rows = [{**e.row(), "subject": e.subject[:255], "cluster_id": cluster_id} for e in found]
        conn.execute(store.insert_ignoring_duplicates(schema.events), rows)


def _write(conn: sa.Connection, cluster_id: int, move: Move, now: float, muted: bool, rows: dict[int, dict]) -> int:
    """Store one move (alerts.record); `rows`, the cluster's alerts by id, kept as they now stand."""
    values = record(move, now, muted)
    if move.alert is None:
        alert_id = conn.execute(schema.alerts.insert(), {**values, "cluster_id": cluster_id}).inserted_primary_key[0]
    else:
        alert_id = move.alert.id
        if values is None:
            conn.execute(_DELETE, {"alert_id": alert_id})
        else:
            conn.execute(_UPDATE, {**values, "alert_id": alert_id})
    _moved(rows, alert_id, values)
    return alert_id


def _moved(rows: dict[int, dict], alert_id: int, values: dict | None) -> None:
    """Keep alerts by id as a move's record leaves them (None: deleted)."""
    if values is None:
        del rows[alert_id]
    else:
        rows.setdefault(alert_id, {}).update(values)


# -- history ---------------------------------------------------------------------------------------
def replay_history(store: Store, config: Config, cluster_id: int, cluster: str, end: float, start: float = 0.0) -> int:
    """Evaluate the rules over a cluster's stored rounds of [start, end) as live evaluation would
    have, one round after another, and record the alerts that fired and resolved in it; how many.

    For history stored without an evaluation (the demo's replayed week). It sends nothing (no
    outbox rows, no silences consulted) and never touches the live open alerts: an alert still
    open at `end` is not recorded, since the live evaluation finds its condition itself. The disk
    forecast (fitted from now, not per past round) and stale data (rounds are there) are not replayed.
    The alerts and their events are written in one transaction, after the evaluation.
    """
    rule = alert_edits.load(store, config.alerts).rules_for(cluster)
    snaps, dead, passes = store.read(lambda conn: _history(conn, cluster_id, start, end))
    rows: dict[int, dict] = {}  # the replay's alerts by a made-up id
    made_up = itertools.count(1)
    opened: set[int] = set()
    found_events: list[tuple[int, Event]] = []
    streaks: dict[tuple[str, str], float] = {}  # dead node -> the first round of its streak
    pending_passes, statistics = list(passes), None
    for snap in snaps:
        now = snap["ts"]
        while pending_passes and pending_passes[0][0] <= now:
            statistics = {"materialized_views": _decoded(pending_passes.pop(0)[1])}
        here = dead.get(snap["id"], [])
        if snap["status"] != "down":  # a down round has no node list: streaks carry on
            streaks = {node: streaks.get(node, now) for node in here}
        dead_now = [{"role": r, "host": h, "since": streaks.get((r, h), now)} for r, h in sorted(here)]
        inputs = RoundInputs(snap, dead_now, statistics, None)
        conds, unknown = round_conditions(inputs, config.cards, config.interval_seconds, rule)
        moves = step([open_alert(i, rows[i]) for i in sorted(opened)], conds, unknown | {"disk_forecast"}, rule, now)
        ids = []
        for move in moves:
            alert_id = move.alert.id if move.alert else next(made_up)
            values = record(move, now, muted=False)
            _moved(rows, alert_id, values)
            if alert_id in rows and rows[alert_id]["state"] != "resolved":
                opened.add(alert_id)
            else:
                opened.discard(alert_id)
            ids.append(alert_id)
        found_events += transition_events(moves, rows, ids, now)
    done = [r for r in rows.values() if r["state"] == "resolved"]
    kept = [e for alert_id, e in found_events if alert_id in rows and rows[alert_id]["state"] == "resolved"]

    def write(conn: sa.Connection) -> None:
        if done:
            conn.execute(schema.alerts.insert(), [{**r, "cluster_id": cluster_id} for r in done])
        _insert_events(store, conn, cluster_id, kept)

    store.write(write)
    return len(done)


def _history(conn: sa.Connection, cluster_id: int, start: float, end: float) -> tuple[list[dict], dict, list]:
    """A span's rounds (oldest first), its dead nodes by round, and the statistics passes up to its end."""
    s, n, d = schema.metrics_snapshots, schema.node_snapshots, schema.data_statistics
    snaps = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(s).where(s.c.cluster_id == cluster_id, s.c.ts >= start, s.c.ts < end).order_by(s.c.ts)
        )
    ]
    dead: dict[int, list[tuple[str, str]]] = {}
    for snap_id, role, host in conn.execute(
        sa.select(n.c.snapshot_id, n.c.role, n.c.host).where(
            n.c.cluster_id == cluster_id,
            n.c.ts >= start,
            n.c.ts < end,
            n.c.alive == False,  # noqa: E712
        )
    ):
        dead.setdefault(snap_id, []).append((role, host))
    passes = conn.execute(
        sa.select(d.c.ts, d.c.materialized_views).where(d.c.cluster_id == cluster_id, d.c.ts < end).order_by(d.c.ts)
    ).all()
    return snaps, dead, [tuple(p) for p in passes]


def _decoded(text: str | None) -> list | None:
    return json.loads(text) if text else None


def silenced_rules(conn: sa.Connection, cluster_id: int, now: float) -> Callable[[str], bool]:
    """Which rules a silence in force holds back for the cluster."""
    rules = set(conn.execute(_SILENCED, {"cluster_id": cluster_id, "now": now}).scalars())
    return lambda rule: None in rules or rule in rules


# -- silences ----------------------------------------------------------------------------------------
def add_silence(
    store: Store, cluster_id: int | None, rule: str | None, until: float, reason: str, by: str, now: float | None = None
) -> int:
    """Silence a cluster, a rule or both until a time; the silence's id."""
    if cluster_id is None and rule is None:
        raise ValueError("a silence names a cluster, a rule or both")
    if not reason.strip():
        raise ValueError("a silence needs a reason")
    now = time.time() if now is None else now
    if until <= now:
        raise ValueError("a silence must end in the future")
    s = schema.alert_silences
    values = dict(cluster_id=cluster_id, rule=rule, until=until, reason=reason.strip(), created_by=by, created_at=now)
    return store.write(lambda conn: conn.execute(s.insert().values(**values)).inserted_primary_key[0])


def end_silence(store: Store, silence_id: int, now: float | None = None) -> bool:
    """End a silence now; False if there is no such silence in force."""
    now = time.time() if now is None else now
    s = schema.alert_silences
    return bool(
        store.write(
            lambda conn: (
                conn.execute(s.update().where(s.c.id == silence_id, s.c.until > now).values(until=now)).rowcount
            )
        )
    )


def silences(store: Store, now: float | None = None) -> list[Silence]:
    """Silences in force, ending soonest first."""
    now = time.time() if now is None else now
    s, c = schema.alert_silences, schema.clusters
    query = (
        sa.select(s, c.c.name.label("cluster"))
        .select_from(s.outerjoin(c, c.c.id == s.c.cluster_id))
        .where(s.c.until > now)
        .order_by(s.c.until)
    )
    return store.read(
        lambda conn: [
            Silence(r.id, r.cluster_id, r.cluster, r.rule, r.until, r.reason, r.created_by, r.created_at)
            for r in conn.execute(query)
        ]
    )


# -- reading ----------------------------------------------------------------------------------------
_WORST_FIRST = sa.case((schema.alerts.c.severity == "critical", 0), else_=1)


def list_alerts(
    store: Store, *, states: tuple[str, ...] = ("firing",), since: float | None = None, limit: int = 500
) -> list[dict]:
    """Alerts in the given states, with their cluster's name: worst first, then newest first."""
    a, c = schema.alerts, schema.clusters
    query = sa.select(a, c.c.name.label("cluster")).join(c, c.c.id == a.c.cluster_id).where(a.c.state.in_(states))
    if since is not None:
        query = query.where(a.c.started_at >= since)
    query = query.order_by(_WORST_FIRST, a.c.started_at.desc()).limit(limit)
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])


def firing_count(store: Store) -> int:
    a = schema.alerts
    return store.read(lambda conn: conn.execute(sa.select(sa.func.count()).where(a.c.state == "firing")).scalar())


def apply_retention(store: Store, now: float | None = None, days: float = HISTORY_DAYS) -> int:
    """Delete resolved alerts, delivered or dropped messages and ended silences older than `days`."""
    cut = (time.time() if now is None else now) - days * 86400
    a, o, s = schema.alerts, schema.alert_outbox, schema.alert_silences

    def purge(conn: sa.Connection) -> int:
        n = conn.execute(a.delete().where(a.c.state == "resolved", a.c.resolved_at < cut)).rowcount
        done = sa.or_(o.c.sent_at.is_not(None), o.c.given_up_at.is_not(None))
        n += conn.execute(o.delete().where(done, o.c.created_at < cut)).rowcount
        return n + conn.execute(s.delete().where(s.c.until < cut)).rowcount

    return store.write(purge)
