"""What starmon holds of a cluster over a range, so an empty chart can say why it is empty.

A range can hold nothing because it ends before the first round, because nothing was collected
since some time (the collector stopped), because its rounds were pruned, or because the collector
was not running then; or it holds rounds without a value: the cluster was down, or never sent one.
The pages pass the sentence to the charts, which stay pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from . import schema
from .read import RAW_SPAN, TimeRange, on_tier
from .readings import Status
from .store import Store

ALL_NA = (
    "The cluster sent no value for it in any round of this range (n/a): this StarRocks version "
    "does not report it, or starmon could not read it."
)

HOUR = 3600


@dataclass(frozen=True)
class Held:
    """A cluster's oldest raw round, oldest hourly row (an hour's start) and newest raw round, in
    epoch seconds (None where that tier holds nothing); and the rounds of one range, and how many
    of them found the cluster down."""

    first_raw: float | None
    first_hourly: float | None
    last: float | None
    rounds: int = 0
    down: int = 0

    @property
    def first(self) -> float | None:
        """When the oldest round held was collected: the raw round's own time when it falls in the
        oldest hour rolled up (an hourly row only knows its hour), else that hour."""
        if self.first_hourly is None or (self.first_raw is not None and self.first_raw < self.first_hourly + HOUR):
            return self.first_raw
        return self.first_hourly


def held(store: Store, cluster_id: int, start: float, end: float) -> Held:
    """What is held of the cluster, its rounds from `start` to `end` read from the tier the charts
    read (read.on_tier)."""
    raw, hourly = schema.metrics_snapshots, schema.hourly_snapshots

    def read(conn: sa.Connection) -> Held:
        first_raw, last = conn.execute(
            sa.select(sa.func.min(raw.c.ts), sa.func.max(raw.c.ts)).where(raw.c.cluster_id == cluster_id)
        ).one()
        first_hourly = conn.execute(
            sa.select(sa.func.min(hourly.c.ts)).where(hourly.c.cluster_id == cluster_id)
        ).scalar()
        if on_tier(TimeRange(start, end, ""), first_raw, first_hourly).hourly:
            counts = sa.select(sa.func.sum(hourly.c.rounds), sa.func.sum(hourly.c.down_rounds)).where(
                hourly.c.cluster_id == cluster_id, hourly.c.ts >= start, hourly.c.ts <= end
            )
        else:
            down = sa.func.sum(sa.case((raw.c.status == Status.DOWN, 1), else_=0))
            counts = sa.select(sa.func.count(), down).where(
                raw.c.cluster_id == cluster_id, raw.c.ts >= start, raw.c.ts <= end
            )
        rounds, down = conn.execute(counts).one()
        return Held(first_raw, first_hourly, last, int(rounds or 0), int(down or 0))

    return store.read(read)


def why_empty(tr: TimeRange, held: Held, when: Callable[[float], str]) -> str:
    """Why a chart of `tr` has nothing to draw, in a sentence or two; `when` formats a time."""
    if held.rounds:
        if held.down == held.rounds:
            return "The cluster was down at every round of this range: nothing answered."
        return ALL_NA
    if held.last is None:
        return "Nothing has been collected from this cluster yet."
    if tr.start > held.last:
        return f"Nothing collected since {when(held.last)}: is the collector running?"
    if held.first is not None and tr.end < held.first:
        return f"The range ends before the first round starmon holds, collected {when(held.first)}."
    tr = on_tier(tr, held.first_raw, held.first_hourly)  # the tier the chart read
    tier_first = held.first_hourly if tr.hourly else held.first_raw
    if tier_first is None or tr.end < tier_first:
        if tr.hourly:
            return "Hourly averages of this range are not rolled up yet; shorter ranges read the rounds themselves."
        return (  # a round is held (held.last), so first_raw is known
            f"Rounds before {when(held.first_raw)} are no longer kept (retention_days); the hourly "
            f"averages, kept longer, are read for ranges longer than {RAW_SPAN // 86400} days and for "
            "whole hours whose rounds are gone."
        )
    return "Nothing was collected in this range: the collector was not running then."
