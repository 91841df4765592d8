"""What changed in a cluster, as events derived from consecutive rounds and statistics passes (pure).

The charts say that p99 jumped; an event says that BE 10.0.0.7 restarted a minute before. Each
stored round is compared with the one before it (`derive_round`), each statistics pass with the
previous pass (`derive_statistics`); the store writes the events in the same transaction as the
round or pass, so one is stored exactly when its round is. What must outlive a single comparison
(when a node went down, the last node list a down round did not have) travels in
`PreviousRound`, built by `remember`, so nothing here reads the database.

Other sources of events (alerts firing and resolving, cluster settings edited on the Clusters
page) build `Event`s of their own kinds with `event()` and hand them to `Store.write_events`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .readings import NodeReading, PreviousRound, Snapshot, Status

# kind -> (severity, what it means): the README's table and the Events section's filter
KINDS: dict[str, tuple[str, str]] = {
    "node_down": ("critical", "an FE, BE or CN stopped answering its FE's heartbeat"),
    "node_up": ("info", "a node that was down is alive again (details: down_seconds)"),
    "node_restarted": ("warning", "a node's start time moved between two rounds where it looked alive"),
    "version_changed": ("info", "a node runs another version (details: from, to)"),
    "cluster_upgraded": ("info", "every node now runs the same, new version"),
    "leader_changed": ("warning", "another FE is the leader (subject: the new one)"),
    "node_added": ("info", "a node joined the node lists"),
    "node_removed": ("warning", "a node left the node lists"),
    "node_decommissioned": ("warning", "a BE or CN is being decommissioned"),
    "cluster_unreachable": ("critical", "nothing of the cluster answered"),
    "cluster_reachable": ("info", "the cluster answers again (details: down_seconds)"),
    "collection_gap": ("warning", "no round was stored for more than 3 intervals (the collector was down)"),
    "mv_inactive": ("warning", "a materialized view became inactive"),
    "mv_refresh_failed": ("warning", "a materialized view's last refresh failed"),
    "mv_recovered": ("info", "a materialized view is active and refreshing again"),
    "schema_change_started": ("info", "a schema change job appeared"),
    "schema_change_finished": ("info", "a schema change job finished"),
    "schema_change_failed": ("warning", "a schema change job was cancelled"),
    "settings_changed": ("info", "a cluster was added, edited, enabled or disabled in starmon (details: by, changed)"),
    "alert_firing": ("warning", "an alert rule fired (severity: the alert's; subject: rule and what it is about)"),
    "alert_escalated": ("critical", "a firing alert reached critical (details: value, threshold, unit)"),
    "alert_resolved": ("info", "a firing alert's condition went away (details: peak, firing_seconds)"),
}
RETENTION_DAYS = 90  # events are small and the timeline is wanted for months: kept past the raw rounds
GAP_INTERVALS = 3  # rounds missed before a gap is an event
_CLUSTER = ("cluster", "")  # the key under which the cluster's own down time is remembered


@dataclass(frozen=True)
class Event:
    """One thing that happened to a cluster, at the time of the round or pass that showed it."""

    ts: float
    kind: str
    subject: str  # what it happened to: "BE 10.0.0.7", "sales.daily_mv", "" for the cluster
    severity: str  # info, warning or critical
    details: Mapping

    def row(self) -> dict:
        """The event as a row of the events table (without its cluster)."""
        details = json.dumps(dict(self.details), sort_keys=True, default=str)
        return {
            "ts": self.ts,
            "kind": self.kind,
            "subject": self.subject,
            "severity": self.severity,
            "details": details,
        }


def event(ts: float, kind: str, subject: str = "", **details) -> Event:
    """An event of a known kind, its severity the kind's."""
    return Event(ts, kind, subject, KINDS[kind][0], details)


def subject_of(node: NodeReading) -> str:
    """How a node is named in events: its role and address, as the pages name it."""
    return f"{node.role} {node.host}"


def remember(previous: PreviousRound | None, snapshot: Snapshot, nodes: Sequence[NodeReading]) -> PreviousRound:
    """The round just stored as the next one's previous, carrying what events need across rounds."""
    down_since = dict(previous.down_since) if previous else {}
    down = snapshot.status == Status.DOWN
    if down:
        down_since.setdefault(_CLUSTER, snapshot.ts)
    else:
        down_since.pop(_CLUSTER, None)
        for node in nodes:
            if node.alive is False:
                down_since.setdefault(node.key, snapshot.ts)
            else:
                down_since.pop(node.key, None)
    before = _listed(previous) if previous else ()
    listed = _carry_starts(nodes, before) if nodes else before
    return PreviousRound(snapshot.ts, tuple(nodes), status=str(snapshot.status), listed=listed, down_since=down_since)


def _listed(previous: PreviousRound) -> tuple[NodeReading, ...]:
    """The node list events compare a round with: the last one seen, start times carried (remember)."""
    return previous.listed or previous.nodes


def _carry_starts(nodes: Sequence[NodeReading], before: Sequence[NodeReading]) -> tuple[NodeReading, ...]:
    """The nodes, a dead FE's start time (which FEs print as NULL) kept from before it died, so a
    node back with a new one is known to have restarted."""
    known = {n.key: n.last_start_time for n in before}
    return tuple(
        dataclasses.replace(n, last_start_time=known.get(n.key))
        if n.alive is False and n.last_start_time is None
        else n
        for n in nodes
    )


def derive_round(
    previous: PreviousRound | None, snapshot: Snapshot, nodes: Sequence[NodeReading], interval: float | None = None
) -> list[Event]:
    """The events between the previous round and this one; none without a previous round.

    Node events compare node lists only when both rounds had one: a round that could not read
    the lists says nothing about the nodes (the cluster's own event says it was unreachable).
    """
    if previous is None:
        return []
    ts = snapshot.ts
    out = []
    if interval and ts - previous.ts > GAP_INTERVALS * interval:
        out.append(event(ts, "collection_gap", last_round=previous.ts, seconds=round(ts - previous.ts)))
    was_down, is_down = previous.status == Status.DOWN, snapshot.status == Status.DOWN
    if is_down and previous.status is not None and not was_down:
        out.append(event(ts, "cluster_unreachable", error=snapshot.error))
    elif was_down and not is_down:
        since = previous.down_since.get(_CLUSTER)
        out.append(event(ts, "cluster_reachable", down_seconds=_seconds(ts, since)))
    before = _listed(previous)
    if before and nodes:
        out += _node_events(ts, before, nodes, previous.down_since)
    return out


def _seconds(ts: float, since: float | None) -> int | None:
    return round(ts - since) if since is not None else None


def _node_events(
    ts: float, before: Sequence[NodeReading], after: Sequence[NodeReading], down_since: Mapping
) -> list[Event]:
    old = {n.key: n for n in before}
    new = {n.key: n for n in after}
    out = []
    for key, n in new.items():
        p = old.get(key)
        name = subject_of(n)
        if p is None:
            out.append(event(ts, "node_added", name, version=n.version, alive=n.alive))
            continue
        started = p.last_start_time is not None and n.last_start_time not in (None, p.last_start_time)
        if p.alive is not False and n.alive is False:
            out.append(event(ts, "node_down", name, error=n.error))
        elif p.alive is False and n.alive is True:
            down = _seconds(ts, down_since.get(key))
            out.append(event(ts, "node_up", name, down_seconds=down, restarted=started))
        elif started and p.alive is not False and n.alive is not False:
            out.append(event(ts, "node_restarted", name, previous_start=p.last_start_time, start=n.last_start_time))
        if p.version and n.version and p.version != n.version:
            out.append(event(ts, "version_changed", name, **{"from": p.version, "to": n.version}))
        if n.decommissioned and p.decommissioned is False:
            out.append(event(ts, "node_decommissioned", name))
    out += [event(ts, "node_removed", subject_of(p), version=p.version) for k, p in old.items() if k not in new]
    leader_before = next((n for n in before if n.is_leader), None)
    leader_now = next((n for n in after if n.is_leader), None)
    if leader_before and leader_now and leader_before.key != leader_now.key:
        out.append(event(ts, "leader_changed", subject_of(leader_now), previous=subject_of(leader_before)))
    versions_before = {n.version for n in before if n.version}
    versions_now = {n.version for n in after if n.version}
    if any(e.kind == "version_changed" for e in out) and len(versions_now) == 1 and versions_before != versions_now:
        (to,) = versions_now
        out.append(event(ts, "cluster_upgraded", "", **{"from": sorted(versions_before - versions_now), "to": to}))
    return out


def derive_statistics(previous: Mapping | None, stats: Mapping, ended: Iterable[Mapping] = ()) -> list[Event]:
    """The events between two statistics passes: MVs and schema-change jobs; none without a previous pass.

    `stats` and `previous` are passes as stored (lists as Python values), `ended` the schema-change
    jobs this pass saw FINISHED or CANCELLED (datastats.ended_jobs), which a pass does not store.
    A part a pass could not read (None) says nothing.
    """
    if previous is None:
        return []
    ts = stats["ts"]
    out = []
    if previous.get("materialized_views") is not None and stats.get("materialized_views") is not None:
        old = {(m["db"], m["name"]): m for m in previous["materialized_views"]}
        for mv in stats["materialized_views"]:
            p = old.get((mv["db"], mv["name"]))
            if p is None:
                continue
            name = f"{mv['db']}.{mv['name']}"
            if mv["active"] is False and p["active"] is not False:
                out.append(event(ts, "mv_inactive", name, reason=mv.get("inactive_reason")))
            elif _failed(mv) and not _failed(p) and mv["active"] is not False:
                out.append(event(ts, "mv_refresh_failed", name, error=mv.get("error")))
            elif (p["active"] is False or _failed(p)) and mv["active"] is True and not _failed(mv):
                out.append(event(ts, "mv_recovered", name))
    if previous.get("schema_changes") is not None and stats.get("schema_changes") is not None:
        job = lambda j: (j["db"], j["table"], j.get("created"))  # noqa: E731
        old = {job(j) for j in previous["schema_changes"]}
        out += [
            event(ts, "schema_change_started", f"{j['db']}.{j['table']}", state=j["state"])
            for j in stats["schema_changes"]
            if job(j) not in old
        ]
        for j in ended:
            if job(j) in old:
                kind = "schema_change_finished" if j["state"] == "FINISHED" else "schema_change_failed"
                out.append(event(ts, kind, f"{j['db']}.{j['table']}", message=j.get("message")))
    return out


def _failed(mv: Mapping) -> bool:
    return (mv.get("state") or "").upper() == "FAILED"
