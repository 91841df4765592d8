"""What is wrong with a cluster now, or at a range's end: the alert evaluation's view, in words.

The Overview's "What is wrong now", `python -m starmon overview` and the API's health answer
list it. It is built from the alerts engine's own pieces, so it cannot disagree with the Alerts
page or the sidebar's count: the conditions come from `alerts.round_conditions` over the same
inputs the collector's evaluation reads (the round, its dead nodes, the newest statistics pass,
the disk forecast, the rules with the Alerts page's edits), and every alert the evaluation holds
open at that time is listed with its state, even one the newest round cannot tell about (a rule
the round has no value for, stale data). A condition the evaluation has not seen yet (a round
pulled with Refresh) is listed as pending; one whose rule is disabled says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from . import alert_edits, schema
from .alert_store import silenced_rules
from .alerts import RANK, RoundInputs, Rule, round_conditions
from .config import Config
from .health import CRITICAL, Condition
from .read import Health, Reader, TimeRange

FIRING, PENDING, OFF = "firing", "pending", "off"
_ORDER = {FIRING: 0, PENDING: 1, OFF: 2}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with where its alert stands: firing, pending, or off (its rule is disabled)."""

    rule: str
    subject: str
    severity: str
    text: str  # the condition in words, as the alert's message says it
    state: str
    since: float | None = None  # when it began: a dead node's streak, or when its alert started
    fires_after: float = 0.0  # a pending alert's `for`
    silenced: bool = False

    def sentence(self, when: Callable[[float], str] = str) -> str:
        """The problem in words with its alert's state, `when` formatting epoch seconds."""
        since = f"since {when(self.since)}, " if self.since is not None else ""
        if self.state == FIRING:
            state = "alert firing, silenced" if self.silenced else "alert firing"
        elif self.state == PENDING:
            wait = alert_edits.as_text(self.fires_after)
            state = f"alert pending: fires after {wait}" if self.fires_after > 0 else "alert fires at the next round"
        else:
            state = "no alert: the rule is disabled"
        return f"{self.text} — {since}{state}"


def merge(
    found: list[Condition],
    unknown: set[str],
    alerts: list[dict],
    rule: Callable[[str], Rule],
    muted: Callable[[str], bool] = lambda _rule: False,
) -> list[Problem]:
    """The conditions found and the alerts open at the same time, as one list, worst first.

    `alerts` are stored rows (rule, subject, state at that time, severity, message, started_at,
    silenced). An open alert whose condition the newest round no longer shows is listed only
    while it is firing or its rule is one the round could not tell about: a pending one is
    dropped by the next evaluation.
    """
    by_key = {(a["rule"], a["subject"]): a for a in alerts}
    out: list[Problem] = []
    for cond in found:
        r, alert = rule(cond.rule), by_key.pop((cond.rule, cond.subject), None)
        if not r.enabled and (alert is None or alert["state"] != FIRING):  # a firing one resolves at the next round
            out.append(Problem(cond.rule, cond.subject, cond.severity, cond.text, OFF, cond.since))
            continue
        severity = r.severity_of(cond)
        if alert is not None and alert["state"] == FIRING and RANK[alert["severity"]] > RANK[severity]:
            severity = alert["severity"]  # once critical, an alert stays critical until it resolves
        state = alert["state"] if alert is not None else PENDING
        since = cond.since if cond.since is not None else (alert["started_at"] if alert is not None else None)
        quiet = _silenced(alert, muted)
        out.append(Problem(cond.rule, cond.subject, severity, cond.text, state, since, r.for_seconds, quiet))
    for (name, subject), alert in by_key.items():
        if alert["state"] == FIRING or name in unknown:
            wait = rule(name).for_seconds
            since, quiet = alert["started_at"], _silenced(alert, muted)
            out.append(Problem(name, subject, alert["severity"], alert["message"], alert["state"], since, wait, quiet))
    return sorted(out, key=lambda p: (p.severity != CRITICAL, _ORDER[p.state]))


def _silenced(alert: dict | None, muted: Callable[[str], bool]) -> bool:
    """A firing alert held back: by a silence when it fired, or by one in force now."""
    return alert is not None and alert["state"] == FIRING and (bool(alert["silenced"]) or muted(alert["rule"]))


def problems(reader: Reader, cluster: dict, state: Health, config: Config, tr: TimeRange, now: float) -> list[Problem]:
    """What is wrong at the end of the range `tr`, which `state` was read for (health_at), worst first.

    For a range that reaches `now`, the alerts open now and the silences in force; for one in
    the past, the alerts open at its last round, as they stood then. The disk forecast is the
    engine's own (it refits hourly, in the background): its alert is listed as the engine holds
    it, rather than refitted here to a slightly different answer.
    """
    snap = state.snapshot
    if snap is None:
        return []
    cid, end = cluster["id"], snap["ts"]
    settings = alert_edits.load(reader.store, config.alerts)
    rule = settings.rules_for(cluster["name"])
    inputs = RoundInputs(snap, state.dead_nodes, _statistics(reader, cid, end), None)
    found, unknown = round_conditions(inputs, config.cards, config.interval_seconds, rule)
    if tr.reaches(now):
        alerts, muted = reader.store.read(lambda conn: (_open(conn, cid, None), silenced_rules(conn, cid, now)))
    else:
        alerts, muted = reader.store.read(lambda conn: _open(conn, cid, end)), lambda _rule: False
    return merge(found, unknown, alerts, rule, muted)


def _statistics(reader: Reader, cluster_id: int, end: float) -> dict | None:
    """The materialized views of the newest statistics pass by `end`, as the MV rules read them."""
    d = schema.data_statistics
    query = (
        sa.select(d.c.materialized_views)
        .where(d.c.cluster_id == cluster_id, d.c.ts <= end)
        .order_by(d.c.ts.desc())
        .limit(1)
    )
    found = reader.store.read(lambda conn: conn.execute(query).first())
    if found is None:
        return None
    return {"materialized_views": json.loads(found[0]) if found[0] else None}


def _open(conn: sa.Connection, cluster_id: int, at: float | None) -> list[dict]:
    """The cluster's alerts open now (`at` None), or open at `at` with the state they had then."""
    a = schema.alerts
    columns = (a.c.rule, a.c.subject, a.c.state, a.c.severity, a.c.message, a.c.started_at, a.c.fired_at, a.c.silenced)
    if at is None:
        query = sa.select(*columns).where(a.c.cluster_id == cluster_id, a.c.state.in_((PENDING, FIRING)))
        return [dict(r._mapping) for r in conn.execute(query)]
    query = sa.select(*columns).where(
        a.c.cluster_id == cluster_id,
        a.c.started_at <= at,
        sa.or_(a.c.resolved_at.is_(None), a.c.resolved_at > at),
    )
    rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["state"] = FIRING if row["fired_at"] is not None and row["fired_at"] <= at else PENDING
    return rows
