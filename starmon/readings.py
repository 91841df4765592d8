"""What one collection round is, as types: no I/O, no SQLAlchemy, nothing but the shapes.

A round travels fetch → aggregate → store as these objects: `RawRound` (what was fetched,
parsed) becomes one frozen `Snapshot` and its frozen `NodeReading`s, which become rows only
inside the store. The metric fields of both are generated from `starmon.columns`, where every
stored metric is described once, so a misspelled field is an error here, never a silent NULL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .columns import NODE_METRICS, SNAPSHOT_METRICS
from .parse import MetricSet


class Status(StrEnum):
    """How a round went; stored as its value (a StrEnum compares equal to "ok" etc.)."""

    OK = "ok"  # every endpoint answered and every value was usable
    PARTIAL = "partial"  # the cluster answered, but something failed; the round's error says what
    DOWN = "down"  # nothing answered


@dataclass
class RawRound:
    """Everything one round fetched from a cluster, already parsed, plus what failed."""

    ts: float
    reachable: bool
    frontends: list[dict] = field(default_factory=list)
    backends: list[dict] = field(default_factory=list)
    compute_nodes: list[dict] = field(default_factory=list)
    source: str | None = None  # "show_proc" or "mysql"
    fe_metrics: dict[str, MetricSet] = field(default_factory=dict)  # by FE IP
    be_metrics: dict[str, MetricSet] = field(default_factory=dict)  # by BE/CN IP
    # why /metrics failed, by (is FE, IP): an FE and a BE may share a host
    node_errors: dict[tuple[bool, str], str] = field(default_factory=dict)
    runtime_info: dict | None = None  # of the configured FE
    configured_ip: str | None = None  # IP of the configured FE, when known
    version: str | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, why)


def _metric_fields(metrics) -> list[tuple[str, Any, Any]]:
    return [(m.name, m.kind | None, field(default=None)) for m in metrics]


def node_key(role: str, name: str | None, host: str) -> tuple[str, str]:
    """Who a node is from round to round: its role and its FE Name or backend id, else its host."""
    return role, name or host


NodeReading = dataclasses.make_dataclass(
    "NodeReading",
    [
        ("role", str),  # FE, BE or CN
        ("host", str),
        ("name", str | None, field(default=None)),  # FE Name, BackendId or ComputeNodeId
        ("alive", bool | None, field(default=None)),
        ("is_leader", bool | None, field(default=None)),
        ("version", str | None, field(default=None)),
        ("last_heartbeat", str | None, field(default=None)),
        ("last_start_time", str | None, field(default=None)),
        ("error", str | None, field(default=None)),
        # SystemDecommissioned of a BE or CN: kept in memory for events, not stored (None when unknown)
        ("decommissioned", bool | None, field(default=None)),
        *_metric_fields(NODE_METRICS),
    ],
    frozen=True,
    slots=True,
    namespace={
        "__doc__": "One FE, BE or CN as one round saw it; metric fields as `columns.NODE_METRICS` describes them.",
        "key": property(lambda self: node_key(self.role, self.name, self.host)),
    },
)

Snapshot = dataclasses.make_dataclass(
    "Snapshot",
    [
        ("ts", float),  # UTC epoch seconds when the round started
        ("status", Status),
        ("error", str | None, field(default=None)),  # why the round was partial or down, in words
        ("source", str | None, field(default=None)),  # where the node lists came from
        ("version", str | None, field(default=None)),
        ("collect_ms", int | None, field(default=None)),  # set by whoever timed the round
        *_metric_fields(SNAPSHOT_METRICS),
    ],
    frozen=True,
    slots=True,
    namespace={"__doc__": "A cluster as one round saw it; metric fields as `columns.SNAPSHOT_METRICS` describes them."},
)


def fields_of(cls) -> frozenset[str]:
    """The field names of NodeReading or Snapshot."""
    return frozenset(f.name for f in dataclasses.fields(cls))


def node_from_row(row: dict) -> NodeReading:
    """A stored node row back as a NodeReading (ids and times of the row are left out)."""
    wanted = fields_of(NodeReading)
    values = {k: v for k, v in row.items() if k in wanted}
    for flag in ("alive", "is_leader"):  # SQLite gives 0/1
        if values.get(flag) is not None:
            values[flag] = bool(values[flag])
    return NodeReading(**values)


@dataclass(frozen=True)
class PreviousRound:
    """What the last stored round of a cluster said, for counter deltas and events (starmon.events)."""

    ts: float
    nodes: tuple[NodeReading, ...]
    status: str | None = None  # None when not known: no cluster event is derived from it
    listed: tuple[NodeReading, ...] = ()  # the newest node list seen, when this round had none (down)
    # node key, or ("cluster", ""), -> ts of the first round that found it down, for how long it was
    down_since: dict = field(default_factory=dict)
