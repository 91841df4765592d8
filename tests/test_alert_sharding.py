"""Three collectors share clusters through leases on PostgreSQL: each alert event reaches the receiver once.

Every collector runs its real loop (leases, rounds, evaluation, its own outbox deliverer) in a
thread of its own, with its own connection pool, on real time; the clusters are emulated in this
process and their BEs switched down and up. The collector holding one faulted cluster stops
while that alert fires, so its resolution comes from the collector that took the cluster over.
Runs only when STARMON_TEST_PG_URL names a PostgreSQL database the tests may empty.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.alerts import parse_settings
from starmon.config import Config
from starmon.emulator import ClusterSpec
from starmon.leases import Leases
from starmon.scheduler import Collector
from starmon.store import Store

from .fixtures import cluster_configs, exact_workload, fresh_url
from .test_alert_delivery import Receiver

pytestmark = pytest.mark.skipif(not os.environ.get("STARMON_TEST_PG_URL"), reason="no STARMON_TEST_PG_URL")
CLUSTERS = 6
INTERVAL = 2


def wait_for(what: str, check, timeout: float = 30.0):
    """Poll `check` until it returns something true; fail naming `what` and the last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            assert answer, f"timed out waiting for {what}: {answer!r}"
            return answer
        time.sleep(0.2)


class Fleet:
    """Three collectors, each with its own Store (pool) and lease owner name, each running its loop in a thread."""

    def __init__(self, url: str, config: Config):
        self.url = url
        self.collectors: dict[str, Collector] = {}
        self.threads: dict[str, threading.Thread] = {}
        for owner in ("c0", "c1", "c2"):
            collector = Collector(config, Store(url))
            # named owners: collector_id() is host:pid:ms, the same for threads started in one millisecond
            collector.ownership = lambda c=collector, o=owner: Leases(c.store, INTERVAL, o)
            self.collectors[owner] = collector
            self.threads[owner] = threading.Thread(target=collector.run_forever, name=f"collector-{owner}")
            self.threads[owner].start()
        self.probe = Store(url)

    def holders(self) -> dict[str, str]:
        """Cluster name -> the collector holding its lease now."""
        lease, c = schema.collector_leases, schema.clusters
        query = sa.select(c.c.name, lease.c.owner).join(lease, lease.c.cluster_id == c.c.id)
        return self.probe.read(lambda conn: {name: owner for name, owner in conn.execute(query) if owner})

    def shares(self) -> list[int]:
        return sorted(Counter(self.holders().values()).values())

    def stop(self, owner: str) -> None:
        self.collectors[owner].stop()
        self.threads[owner].join(30)
        assert not self.threads[owner].is_alive()

    def close(self) -> None:
        for owner in self.collectors:
            self.collectors[owner].stop()
        for owner, thread in self.threads.items():
            thread.join(30)
            self.collectors[owner].store.close()
        self.probe.close()


@pytest.fixture
def fleet(emulator, tmp_path):
    url = fresh_url("postgresql", tmp_path)
    specs = [ClusterSpec(f"prod-{i}", fes=1, bes=2, workload=exact_workload()) for i in range(CLUSTERS)]
    emu = emulator(*specs, host="127.0.3.1")
    receiver = Receiver()
    settings = parse_settings(
        {
            "public_url": "http://starmon.test",
            "rules": {"node_down": {"for": INTERVAL}},  # one round pending, then firing
            "channels": [{"name": "hook", "url": receiver.url}],
        }
    )
    config = Config(url, cluster_configs(emu), interval_seconds=INTERVAL, timeout_seconds=1.0, alerts=settings)
    fleet = Fleet(url, config)
    try:
        yield emu, fleet, receiver
    finally:
        fleet.close()
        receiver.close()


def node_down_lines(receiver: Receiver) -> Counter:
    """Every node_down line the receiver got, with how often (a line names the state, the node and its start)."""
    return Counter(
        line.split(", since")[0]
        for message in receiver.messages
        for line in message["message"].splitlines()
        if " node_down" in line
    )


def test_three_sharded_collectors_send_one_message_per_event_across_a_hand_over(fleet):
    emu, fleet, receiver = fleet
    wait_for("three shares of two clusters", lambda: fleet.shares() == [2, 2, 2])
    holders = fleet.holders()
    victim = holders["prod-0"]
    other = next(name for name, owner in sorted(holders.items()) if owner != victim)
    be = {name: emu.cluster(name).backends[1].host for name in ("prod-0", other)}
    for name in be:
        emu.set_faults(name, {"be_down": [1]})
    fired = {f"[FIRING] warning node_down: BE {host} down" for host in be.values()}
    wait_for("both firing messages", lambda: fired <= set(node_down_lines(receiver)))

    fleet.stop(victim)  # a clean stop hands its leases back at once
    wait_for("the survivors taking over", lambda: fleet.shares() == [3, 3])
    taken_over = fleet.holders()["prod-0"]
    assert taken_over != victim
    time.sleep(2 * INTERVAL)  # the new holder evaluates prod-0 with the node still down: no second firing
    for name in be:
        emu.set_faults(name, {"be_down": []})
    resolved = {f"[RESOLVED] warning node_down: BE {host} down" for host in be.values()}
    wait_for("both resolved messages", lambda: resolved <= set(node_down_lines(receiver)))
    time.sleep(3 * INTERVAL)  # anything sent twice would have arrived by now

    assert node_down_lines(receiver) == Counter(fired | resolved)
    a, c = schema.alerts, schema.clusters
    rows = fleet.probe.read(
        lambda conn: conn.execute(
            sa.select(c.c.name, a.c.subject, a.c.state, a.c.notifications)
            .join(c, c.c.id == a.c.cluster_id)
            .where(a.c.rule == "node_down")
            .order_by(c.c.name)
        ).all()
    )
    assert sorted(map(tuple, rows)) == sorted((name, f"BE {host}", "resolved", 2) for name, host in be.items())
    e = schema.events
    written = fleet.probe.read(
        lambda conn: conn.execute(
            sa.select(c.c.name, e.c.kind, e.c.subject)
            .join(c, c.c.id == e.c.cluster_id)
            .where(e.c.kind.in_(("alert_firing", "alert_resolved")), e.c.subject.like("node_down:%"))
        ).all()
    )
    assert sorted(map(tuple, written)) == sorted(  # one event each, whoever held the cluster
        (name, kind, f"node_down: BE {host}")
        for name, host in be.items()
        for kind in ("alert_firing", "alert_resolved")
    )
