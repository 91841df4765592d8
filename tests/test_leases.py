"""Leases step by step, on a clock the test moves: fair shares, hand-back, take-over, release."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from starmon.config import ClusterConfig
from starmon.leases import Leases
from starmon.store import Store

INTERVAL = 30.0


class Clock:
    def __init__(self, now: float = 1_790_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fleet(db_url):
    """A store with six clusters, their ids, and a clock."""
    store = Store(db_url)
    store.sync_clusters(tuple(ClusterConfig(f"c{i}", f"10.0.0.{i}") for i in range(6)))
    yield store, sorted(store.cluster_ids().values()), Clock()
    store.close()


def test_shares_hand_back_and_take_over(fleet):
    store, ids, clock = fleet
    a, b = (Leases(store, INTERVAL, owner, clock) for owner in ("a", "b"))
    assert a.claim(ids) == set(ids)  # alone: everything, claimed in one pass
    assert b.claim(ids) == set()  # joins: nothing is free yet
    held_a = a.claim(ids)  # sees b: hands back what exceeds its half
    assert len(held_a) == 3
    held_b = b.claim(ids)
    assert held_b == set(ids) - held_a  # claims exactly what a handed back
    clock.now += a.ttl + 3 * a.tick_seconds  # a dies: its heartbeat and leases run out
    assert b.claim(ids) == set(ids)
    assert a.claim(ids) == set()  # a comes back: b still holds them unexpired


def test_release_frees_everything_at_once(fleet):
    store, ids, clock = fleet
    a, b = (Leases(store, INTERVAL, owner, clock) for owner in ("a", "b"))
    a.claim(ids)
    a.release()
    assert b.claim(ids) == set(ids)  # no waiting for a's leases to expire


def test_a_removed_cluster_is_not_held(fleet):
    store, ids, clock = fleet
    a = Leases(store, INTERVAL, "a", clock)
    a.claim(ids)
    assert a.claim(ids[:4]) == set(ids[:4])


def test_claiming_is_one_statement_however_many_are_free(fleet):
    """At start-up or failover a collector claims hundreds of clusters: one UPDATE, not one each."""
    store, ids, clock = fleet
    updates: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE COLLECTOR_LEASES"):
            updates.append(statement)

    sa.event.listen(store.writer, "before_cursor_execute", seen)
    try:
        Leases(store, INTERVAL, "a", clock).claim(ids)
    finally:
        sa.event.remove(store.writer, "before_cursor_execute", seen)
    assert len(updates) == 2, updates  # renew what it holds, then claim all six free
