"""How alerts move (pure): pending -> firing -> resolved, and what each move records.

`step` says which moves one evaluation makes from the open alerts and the conditions found;
`record` says what a move writes on its alert, and `transition_events` which events it makes.
Live evaluation (starmon.alert_store) stores them; the replay of stored history keeps them in
memory the same way, so both record an alert alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .alerts import RANK, Rule
from .events import Event
from .health import Condition


@dataclass(frozen=True)
class OpenAlert:
    """An alert pending or firing, as stored."""

    id: int
    rule: str
    subject: str
    state: str  # pending or firing
    severity: str
    started_at: float
    last_sent_at: float | None
    peak: float | None


@dataclass(frozen=True)
class Move:
    """One change to the alerts of a cluster; `notify` moves go out (grouped) unless silenced."""

    kind: str  # new, update, fire, escalate, repeat, resolve, drop
    rule: str
    subject: str
    severity: str
    condition: Condition | None = None
    alert: OpenAlert | None = None
    peak: float | None = None

    @property
    def notify(self) -> bool:
        return self.kind in ("fire", "escalate", "repeat", "resolve")


def _worse(rule: Rule, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b) if rule.bad == "low" else max(a, b)


def step(
    open_alerts: list[OpenAlert],
    found: list[Condition],
    unknown: set[str],
    rule: Callable[[str], Rule],
    now: float,
    only: set[str] | None = None,
) -> list[Move]:
    """The moves one evaluation makes: conditions held long enough fire, gone ones resolve.

    `only` limits the evaluation to some rules (the stale-data check); rules in `unknown`
    leave their alerts untouched. A disabled rule's open alerts resolve.
    """
    considered = lambda name: (only is None or name in only) and name not in unknown  # noqa: E731
    holding = {(c.rule, c.subject): c for c in found if considered(c.rule) and rule(c.rule).enabled}
    moves: list[Move] = []
    by_key = {(a.rule, a.subject): a for a in open_alerts}
    for key, cond in holding.items():
        r = rule(cond.rule)
        severity = r.severity_of(cond)
        alert = by_key.get(key)
        if alert is None:
            kind = "fire" if r.for_seconds <= 0 else "new"
            moves.append(Move(kind, cond.rule, cond.subject, severity, cond, None, cond.value))
            continue
        peak = _worse(r, alert.peak, cond.value)
        if alert.state == "pending":
            kind = "fire" if now - alert.started_at >= r.for_seconds else "update"
        elif RANK[severity] > RANK[alert.severity]:
            kind = "escalate"
        elif alert.last_sent_at is not None and now - alert.last_sent_at >= r.repeat_seconds:
            kind = "repeat"
        else:
            kind = "update"
        if kind == "update" and alert.state == "firing" and RANK[severity] < RANK[alert.severity]:
            severity = alert.severity  # once critical, it stays critical until resolved
        moves.append(Move(kind, cond.rule, cond.subject, severity, cond, alert, peak))
    for key, alert in by_key.items():
        if key in holding or not (only is None or alert.rule in only):
            continue
        if alert.rule in unknown and rule(alert.rule).enabled:
            continue
        kind = "resolve" if alert.state == "firing" else "drop"
        moves.append(Move(kind, alert.rule, alert.subject, alert.severity, None, alert, alert.peak))
    return moves


def record(move: Move, now: float, muted: bool) -> dict | None:
    """The columns a move sets on its alert: a new alert's whole row, an open one's changes, or
    None to delete it (a pending alert whose condition went before it fired is not worth keeping).

    """
    cond = move.condition
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
        return {
            **seen,
            "rule": move.rule,
            "subject": move.subject,
            "state": "firing" if firing else "pending",
            "started_at": now,
            "fired_at": now if firing else None,
            "last_sent_at": now if firing else None,
            "notifications": 0,
            "silenced": muted and firing,
        }
    if move.kind == "drop":
        return None
    if move.kind == "fire":
        seen.update(state="firing", fired_at=now, last_sent_at=now, silenced=muted)
    elif move.kind in ("escalate", "repeat"):
        seen.update(last_sent_at=now)
    elif move.kind == "resolve":
        seen.update(state="resolved", resolved_at=now)
    return seen


def open_alert(alert_id: int, row: Mapping) -> OpenAlert:
    """An alert row (stored, or kept by a replay) as step() reads it."""
    return OpenAlert(
        alert_id,
        row["rule"],
        row["subject"],
        row["state"],
        row["severity"],
        row["started_at"],
        row["last_sent_at"],
        row["peak"],
    )


def transition_events(
    moves: list[Move], rows: Mapping[int, Mapping], ids: list[int], now: float
) -> list[tuple[int, Event]]:
    """The events of an evaluation, with their alert's id: an alert firing, escalating to
    critical, and resolving (the Events page and chart markers).

    `rows` are the alerts as they stand after the moves, by id; `ids` the moves' alert ids.
    The subject names the rule, so two alerts of one round never share an event's key.
    """
    out = []
    for move, alert_id in zip(moves, ids):
        if move.kind not in ("fire", "escalate", "resolve"):
            continue
        row = rows[alert_id]
        subject = f"{move.rule}: {move.subject}" if move.subject else move.rule
        common = {"rule": move.rule, "message": row["message"], "started_at": row["started_at"]}
        if move.kind in ("fire", "escalate"):
            details = {**common, "value": row["value"], "threshold": row["threshold"], "unit": row["unit"]}
            kind = "alert_firing" if move.kind == "fire" else "alert_escalated"
            out.append((alert_id, Event(now, kind, subject, move.severity, details)))
        else:
            fired = row["fired_at"]
            details = {**common, "peak": row["peak"], "firing_seconds": round(now - fired) if fired else None}
            out.append((alert_id, Event(now, "alert_resolved", subject, "info", details)))
    return out
