"""Alerts in the store: evaluate a cluster after its round, keep its alerts' lifecycle, silences.

The collector that stores a cluster's round evaluates it (with leases, the lease holder), and
each evaluation reads the open alerts, moves them and queues their notifications in one
transaction (one at a time per cluster, on PostgreSQL too): a hand-over between collectors
neither sends a move twice nor misses one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from . import alert_delivery, read, schema
from .alerts import OpenAlert, RoundInputs, round_conditions, stale_condition, step
from .config import Config
from .health import Condition
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


class AlertEngine:
    """Evaluates the alert rules of the clusters a collector stores, against one store."""

    def __init__(self, store: Store, config: Config, clock: Callable[[], float] = time.time):
        self.store, self.config, self.clock = store, config, clock
        self.settings = config.alerts
        self._forecasts: dict[int, tuple[float, dict | None]] = {}
        self._fitting: set[int] = set()
        self._lock = threading.Lock()

    def _forecast(self, reader: read.Reader, cluster_id: int, now: float) -> dict | None:
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
                    target=self._fit, args=(reader, cluster_id, now), name="starmon-alert-forecast", daemon=True
                ).start()
        return kept[1] if kept else None

    def _fit(self, reader: read.Reader, cluster_id: int, now: float) -> None:
        try:
            headline = read.forecast(reader, cluster_id, self.config.forecast_window_days, now).headline
        except Exception:
            log.warning(
                "disk forecast of cluster %s failed; its alert waits for the next fit", cluster_id, exc_info=True
            )
            headline = None
        with self._lock:
            self._forecasts[cluster_id] = (now, headline)
            self._fitting.discard(cluster_id)

    def after_round(self, cluster_id: int, cluster: str) -> int:
        """Evaluate every rule but stale data on the cluster's newest stored round; messages queued."""
        now, reader = self.clock(), read.Reader(self.store)
        snapshot = reader.latest(cluster_id)
        if snapshot is None:
            return 0
        inputs = RoundInputs(
            snapshot,
            reader.dead_nodes(cluster_id, snapshot),
            reader.statistics(cluster_id),
            self._forecast(reader, cluster_id, now),
        )
        rule = lambda name: self.settings.rule(name, cluster)  # noqa: E731
        found, unknown = round_conditions(inputs, self.config.cards, self.config.interval_seconds, rule)
        return self.apply(cluster_id, cluster, found, unknown, now)

    def check_stale(self, clusters: list[tuple[int, str]]) -> int:
        """Evaluate the stale-data rule of the given clusters (no round stored for 3 intervals)."""
        now = self.clock()
        last = self.store.last_round_times([cid for cid, _ in clusters])
        queued = 0
        for cid, name in clusters:
            cond = stale_condition(
                last.get(cid), now, self.config.interval_seconds, self.settings.rule("stale_data", name)
            )
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
        """Move the cluster's alerts for the conditions found and queue one message per channel; how many."""
        a = schema.alerts

        def evaluate(conn: sa.Connection) -> int:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:s, :c)"), {"s": _LOCK_SPACE, "c": cluster_id})
            rows = {
                r.id: dict(r._mapping)
                for r in conn.execute(
                    sa.select(a).where(a.c.cluster_id == cluster_id, a.c.state.in_(("pending", "firing")))
                )
            }
            opened = [
                OpenAlert(
                    r["id"],
                    r["rule"],
                    r["subject"],
                    r["state"],
                    r["severity"],
                    r["started_at"],
                    r["last_sent_at"],
                    r["peak"],
                )
                for r in rows.values()
            ]
            moves = step(opened, found, unknown, lambda name: self.settings.rule(name, cluster), now, only)
            muted = silenced_rules(conn, cluster_id, now)
            items = []
            for move in moves:
                alert_id = _write(conn, cluster_id, move, now, muted(move.rule))
                held_back = muted(move.rule) or (move.kind == "resolve" and rows[alert_id]["silenced"])
                if move.notify and not held_back:
                    cond = move.condition
                    row = rows.get(alert_id, {})
                    items.append(
                        {
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
                    )
            return alert_delivery.queue(conn, cluster_id, cluster, items, self.settings, now) if items else 0

        return self.store.write(evaluate)


def _write(conn: sa.Connection, cluster_id: int, move, now: float, muted: bool) -> int:
    """Store one move; the alert's id."""
    a, cond = schema.alerts, move.condition
    seen = {}
    if cond is not None:
        seen = {
            "message": cond.text,
            "value": cond.value,
            "threshold": cond.threshold,
            "unit": cond.unit,
            "peak": move.peak,
            "severity": move.severity,
            "last_seen_at": now,
        }
    if move.alert is None:
        firing = move.kind == "fire"
        values = {
            **seen,
            "cluster_id": cluster_id,
            "rule": move.rule,
            "subject": move.subject,
            "state": "firing" if firing else "pending",
            "started_at": now,
            "fired_at": now if firing else None,
            "last_sent_at": now if firing else None,
            "notifications": 0,
            "silenced": muted and firing,
        }
        return conn.execute(a.insert().values(**values)).inserted_primary_key[0]
    alert_id = move.alert.id
    changes = dict(seen)
    if move.kind == "fire":
        changes.update(state="firing", fired_at=now, last_sent_at=now, silenced=muted)
    elif move.kind in ("escalate", "repeat"):
        changes.update(last_sent_at=now)
    elif move.kind == "resolve":
        changes.update(state="resolved", resolved_at=now)
    elif move.kind == "drop":  # pending that never fired: not an alert worth keeping
        conn.execute(a.delete().where(a.c.id == alert_id))
        return alert_id
    conn.execute(a.update().where(a.c.id == alert_id).values(**changes))
    return alert_id


def silenced_rules(conn: sa.Connection, cluster_id: int, now: float) -> Callable[[str], bool]:
    """Which rules a silence in force holds back for the cluster."""
    s = schema.alert_silences
    active = conn.execute(
        sa.select(s.c.rule).where(s.c.until > now, sa.or_(s.c.cluster_id.is_(None), s.c.cluster_id == cluster_id))
    ).scalars()
    rules = set(active)
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
