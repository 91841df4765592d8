"""Leases: several collectors share one PostgreSQL database, each taking a share of the clusters.

Every collector heartbeats and, several times per interval, renews the leases it holds,
hands back what exceeds its fair share (when a collector joins) and claims expired or free
leases up to it (when one dies). A claim is a conditional UPDATE, so two collectors never
hold the same cluster, and a round is written only while its lease is held
(Store.write_rounds checks it under a row lock). A lease lives half an interval and is
renewed every quarter, so a dead collector's clusters are collected again well within two
intervals of their last round.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable

import sqlalchemy as sa

from . import schema
from .store import Store


def collector_id() -> str:
    """host:pid plus a start time, unique per collector process."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time() * 1000) % 10**8}"


class Leases:
    """One collector's view of who collects which cluster."""

    def __init__(self, store: Store, interval: float, owner: str | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.owner = owner or collector_id()
        self.interval = interval
        self.ttl = interval / 2
        self.clock = clock

    @property
    def tick_seconds(self) -> float:
        """How often claim() must run to keep leases alive and pick up orphans quickly."""
        return self.interval / 4

    def ready(self) -> bool:
        """Collectors sharing a database may all write: what each collects is claim()'s answer."""
        return True

    def claim(self, cluster_ids: list[int]) -> set[int]:
        """Heartbeat, renew, rebalance and claim; returns the clusters this collector now holds."""
        now = self.clock()
        live = self.store.write(lambda conn: self._heartbeat(conn, cluster_ids, now))
        share = math.ceil(len(cluster_ids) / live)
        return set(self.store.write(lambda conn: self._rebalance(conn, cluster_ids, share, now)))

    def _heartbeat(self, conn: sa.Connection, cluster_ids: list[int], now: float) -> int:
        """Say this collector is alive and renew what it holds; returns how many collectors are live."""
        lease, peers = schema.collector_leases, schema.collectors
        conn.execute(peers.delete().where(peers.c.owner == self.owner))
        conn.execute(peers.insert().values(owner=self.owner, heartbeat_at=now))
        conn.execute(peers.delete().where(peers.c.heartbeat_at < now - 10 * self.interval))
        live = (
            conn.execute(
                sa.select(sa.func.count()).select_from(peers).where(peers.c.heartbeat_at > now - 3 * self.tick_seconds)
            ).scalar()
            or 1
        )
        if cluster_ids:
            conn.execute(
                self.store.insert_ignoring_duplicates(lease),
                [{"cluster_id": c, "owner": "", "expires_at": 0.0} for c in cluster_ids],
            )
        conn.execute(lease.update().where(lease.c.owner == self.owner).values(expires_at=now + self.ttl))
        return live

    def _rebalance(self, conn: sa.Connection, cluster_ids: list[int], share: int, now: float) -> list[int]:
        """Hand back what exceeds `share`, then claim free or expired leases up to it; returns those held."""
        lease = schema.collector_leases
        mine = sorted(
            conn.execute(
                sa.select(lease.c.cluster_id).where(lease.c.owner == self.owner, lease.c.cluster_id.in_(cluster_ids))
            ).scalars()
        )
        if len(mine) > share:  # a collector joined: hand the extras back
            extras = mine[share:]
            conn.execute(
                lease.update()
                .where(lease.c.owner == self.owner, lease.c.cluster_id.in_(extras))
                .values(owner="", expires_at=0.0)
            )
            mine = mine[:share]
        free = (
            conn.execute(
                sa.select(lease.c.cluster_id)
                .where(lease.c.cluster_id.in_(cluster_ids), lease.c.expires_at < now)
                .order_by(lease.c.cluster_id)
                .limit(max(0, share - len(mine)))
            )
            .scalars()
            .all()
        )
        if free:  # the WHERE, checked again per row, makes claims atomic
            mine += (
                conn.execute(
                    lease.update()
                    .where(lease.c.cluster_id.in_(free), lease.c.expires_at < now)
                    .values(owner=self.owner, expires_at=now + self.ttl)
                    .returning(lease.c.cluster_id)
                )
                .scalars()
                .all()
            )
        return mine

    def release(self) -> None:
        """Hand every lease back at once (a clean stop), so others need not wait for expiry."""
        lease, peers = schema.collector_leases, schema.collectors

        def hand_back(conn: sa.Connection) -> None:
            conn.execute(lease.update().where(lease.c.owner == self.owner).values(owner="", expires_at=0.0))
            conn.execute(peers.delete().where(peers.c.owner == self.owner))

        self.store.write(hand_back)
