"""Events (issue 16): each kind driven through the emulator over real sockets and stored exactly once,
with the right subject and time; never on a normal round. Pure tests of the derivation follow."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from starmon import events, schema
from starmon.emulator import ClusterSpec
from starmon.readings import NodeReading, Snapshot, Status

from .conftest import cluster_configs, exact_workload

INTERVAL = 30


class Cluster:
    """One emulated cluster on a frozen clock and a collector over it; a round every `INTERVAL` s."""

    def __init__(self, emulator, make_collector, **spec):
        start = time.time() - 3600  # rounds an hour ago and since: in the past, where ranges end
        self.emu = emulator(ClusterSpec("c1", workload=exact_workload(qps=20.0), **spec), clock=lambda: start)
        self.model = self.emu.cluster("c1")
        self.collector = make_collector(cluster_configs(self.emu), timeout=1.0)
        self.collector.clock = self.model.now
        self.ip = {d["name"]: d for d in self.emu.describe()}["c1"]
        (self.cluster_id,) = [cid for cid, _ in self.collector.clusters()]

    def round(self, advance: float = INTERVAL) -> float:
        """Advance the clock, collect once; the round's time."""
        self.model.advance(advance)
        (result,) = self.collector.run_round()
        assert result.status in ("ok", "partial", "down"), result
        return self.model.now()

    def events(self) -> list[dict]:
        e = schema.events
        query = sa.select(e).where(e.c.cluster_id == self.cluster_id).order_by(e.c.ts, e.c.kind, e.c.subject)
        return self.collector.store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    def new_events(self, seen: int) -> list[tuple[float, str, str]]:
        return [(e["ts"], e["kind"], e["subject"]) for e in self.events()[seen:]]


@pytest.fixture
def cluster(emulator, make_collector):
    c = Cluster(emulator, make_collector)
    c.round()
    c.round()
    assert c.events() == [], "a normal round stores no event"
    return c


def test_every_kind_through_the_emulator(cluster):
    c, model = cluster, cluster.model
    fe1, be0, be1 = model.frontends[1].host, model.backends[0].host, model.backends[1].host

    def step(change, *expected: tuple[str, str]) -> float:
        seen = len(c.events())
        change()
        ts = c.round()
        assert c.new_events(seen) == sorted((ts, kind, subject) for kind, subject in expected)
        quiet = len(c.events())
        c.round()  # the round after changes nothing: no event repeats
        assert len(c.events()) == quiet
        return ts

    down_at = step(lambda: c.emu.set_faults("c1", {"be_down": [1]}), ("node_down", f"BE {be1}"))
    up_at = step(lambda: c.emu.set_faults("c1", {"be_down": []}), ("node_up", f"BE {be1}"))
    up = next(e for e in c.events() if e["kind"] == "node_up")
    assert json.loads(up["details"])["down_seconds"] == round(up_at - down_at)
    # a BE restart between two rounds where it looked alive; its counters may well have grown since
    step(lambda: c.emu.change("c1", "restart", role="BE", index=0), ("node_restarted", f"BE {be0}"))
    step(lambda: c.emu.change("c1", "restart", role="FE", index=1), ("node_restarted", f"FE {fe1}"))
    step(lambda: c.emu.change("c1", "leader", index=1), ("leader_changed", f"FE {fe1}"))
    step(
        lambda: c.emu.change("c1", "version", role="BE", index=0, version="3.3.6-aaaaaaa"),
        ("version_changed", f"BE {be0}"),
    )
    step(
        lambda: [
            c.emu.change("c1", "version", role=role, index=i, version="3.3.6-aaaaaaa")
            for role, i in (("FE", 0), ("FE", 1), ("BE", 1), ("BE", 2))
        ],
        *[("version_changed", n) for n in (f"FE {model.frontends[0].host}", f"FE {fe1}", f"BE {be1}")],
        ("version_changed", f"BE {model.backends[2].host}"),
        ("cluster_upgraded", ""),
    )


def test_nodes_added_decommissioned_and_removed(cluster):
    c = cluster
    seen = len(c.events())
    c.emu.change("c1", "add_node")
    added, new = c.round(), c.model.backends[-1]
    c.round()
    c.emu.change("c1", "decommission", index=new.index)
    flagged = c.round()
    c.round()
    c.emu.change("c1", "drop_node", index=new.index)
    removed = c.round()
    c.round()
    subject = f"BE {new.host}"
    assert c.new_events(seen) == [
        (added, "node_added", subject),
        (flagged, "node_decommissioned", subject),
        (removed, "node_removed", subject),
    ]


def test_collection_gap_and_unreachable(cluster):
    c = cluster
    seen = len(c.events())
    ts = c.round(advance=4 * INTERVAL)
    assert c.new_events(seen) == [(ts, "collection_gap", "")]
    seen = len(c.events())
    c.emu.set_faults("c1", {"fe_down": [0, 1]})
    down = c.round()
    c.round()
    c.emu.set_faults("c1", {"fe_down": []})
    back = c.round()
    assert c.new_events(seen) == [(down, "cluster_unreachable", ""), (back, "cluster_reachable", "")]
    assert json.loads(c.events()[-1]["details"])["down_seconds"] == round(back - down)


def test_restart_seen_even_when_counters_grew(cluster):
    c, fe = cluster, cluster.model.frontends[1]
    c.emu.change("c1", "restart", role="FE", index=1)
    c.round()
    seen = len(c.events())
    c.emu.change("c1", "restart", role="FE", index=1)  # its counters start again, then outgrow the last value
    ts = c.round(advance=2.5 * INTERVAL)
    assert c.new_events(seen) == [(ts, "node_restarted", f"FE {fe.host}")]
    n = schema.node_snapshots
    totals = c.collector.store.read(
        lambda conn: (
            conn.execute(sa.select(n.c.query_total).where(n.c.host == fe.host).order_by(n.c.ts)).scalars().all()
        )
    )
    assert totals[-1] > totals[-2], "the counter grew across the restart, so only the start time tells"


# -- the derivation, pure ------------------------------------------------------------------------


def _node(role="BE", host="10.0.0.7", **values) -> NodeReading:
    return NodeReading(role=role, host=host, name=host, **{"alive": True, "version": "3.3.5", **values})


def _rounds(*rounds, interval=30.0) -> list[events.Event]:
    """Derive and remember across (ts, status, nodes) rounds, as the collector does; every event."""
    previous, out = None, []
    for ts, status, nodes in rounds:
        snapshot = Snapshot(ts=ts, status=status)
        out += events.derive_round(previous, snapshot, nodes, interval)
        previous = events.remember(previous, snapshot, nodes)
    return out


def test_no_previous_round_no_event():
    assert _rounds((0, Status.OK, (_node(),))) == []


def test_nodes_seen_again_after_the_cluster_was_down_are_not_added_or_removed():
    a = (_node(), _node(host="10.0.0.8"))
    got = _rounds((0, Status.OK, a), (30, Status.DOWN, ()), (60, Status.DOWN, ()), (90, Status.OK, a))
    assert [(e.ts, e.kind, e.details.get("down_seconds")) for e in got] == [
        (30, "cluster_unreachable", None),
        (90, "cluster_reachable", 60),
    ]


def test_down_duration_counts_from_the_first_round_down():
    up, down = _node(), _node(alive=False)
    got = _rounds(
        (0, Status.OK, (up,)), (30, Status.PARTIAL, (down,)), (60, Status.PARTIAL, (down,)), (90, Status.OK, (up,))
    )
    assert [(e.kind, e.subject, e.severity) for e in got] == [
        ("node_down", "BE 10.0.0.7", "critical"),
        ("node_up", "BE 10.0.0.7", "info"),
    ]
    assert got[1].details["down_seconds"] == 60


def test_restart_is_a_moved_start_time_of_a_node_alive_in_both_rounds():
    before = _node(last_start_time="2026-11-20 10:00:00")
    after = _node(last_start_time="2026-11-20 10:00:25")
    dead = _node(alive=False, last_start_time=None)
    assert [e.kind for e in _rounds((0, Status.OK, (before,)), (30, Status.OK, (after,)))] == ["node_restarted"]
    # back from down with a new start: one event, node_up, which says it restarted
    got = _rounds((0, Status.OK, (before,)), (30, Status.OK, (dead,)), (60, Status.OK, (after,)))
    assert [e.kind for e in got] == ["node_down", "node_up"] and got[1].details["restarted"] is True


def test_rolling_upgrade_ends_in_cluster_upgraded():
    old = (_node("FE", "a", is_leader=True), _node(host="b"))
    half = (_node("FE", "a", is_leader=True, version="3.4.1"), _node(host="b"))
    new = (_node("FE", "a", is_leader=True, version="3.4.1"), _node(host="b", version="3.4.1"))
    got = _rounds((0, Status.OK, old), (30, Status.OK, half), (60, Status.OK, new))
    assert [(e.ts, e.kind, e.subject) for e in got] == [
        (30, "version_changed", "FE a"),
        (60, "version_changed", "BE b"),
        (60, "cluster_upgraded", ""),
    ]
    assert got[-1].details == {"from": ["3.3.5"], "to": "3.4.1"}


def test_leader_change_names_the_new_leader_and_the_gap_its_length():
    one = (_node("FE", "a", is_leader=True), _node("FE", "b", is_leader=False))
    two = (_node("FE", "a", is_leader=False), _node("FE", "b", is_leader=True))
    got = _rounds((0, Status.OK, one), (300, Status.OK, two))
    assert [(e.kind, e.subject) for e in got] == [("collection_gap", ""), ("leader_changed", "FE b")]
    assert got[0].details == {"last_round": 0, "seconds": 300} and got[1].details == {"previous": "FE a"}


def test_statistics_events():
    mv = {"db": "s", "name": "mv1", "active": True, "state": "SUCCESS", "error": None}
    job = {"db": "s", "table": "t", "state": "RUNNING", "created": "2026-11-20 10:00:00"}
    passes = [
        {"ts": 0, "materialized_views": [mv], "schema_changes": []},
        {"ts": 1, "materialized_views": [{**mv, "state": "FAILED", "error": "boom"}], "schema_changes": [job]},
        {"ts": 2, "materialized_views": [{**mv, "active": False, "state": "FAILED"}], "schema_changes": [job]},
        {"ts": 3, "materialized_views": [mv], "schema_changes": []},
    ]
    got = [e for a, b in zip(passes[:2], passes[1:3]) for e in events.derive_statistics(a, b)]
    got += events.derive_statistics(passes[2], passes[3], ended=[{**job, "state": "CANCELLED", "message": "x"}])
    assert [(e.ts, e.kind, e.subject) for e in got] == [
        (1, "mv_refresh_failed", "s.mv1"),
        (1, "schema_change_started", "s.t"),
        (2, "mv_inactive", "s.mv1"),
        (3, "mv_recovered", "s.mv1"),
        (3, "schema_change_failed", "s.t"),
    ]


def test_statistics_pass_events_through_the_emulator(cluster, monkeypatch):
    from starmon.emulator import catalog

    c = cluster
    c.collector.run_statistics()
    assert c.events() == [], "a first pass has nothing to compare with"
    c.collector.run_statistics()
    assert c.events() == [], "an unchanged pass stores no event"
    mv = catalog.MATERIALIZED_VIEWS[0]
    broken = dataclasses.replace(mv, state="FAILED", error="Memory of process exceed limit")
    monkeypatch.setattr(catalog, "MATERIALIZED_VIEWS", (broken, *catalog.MATERIALIZED_VIEWS[1:]))
    job = dataclasses.replace(catalog.SCHEMA_CHANGES[0], job_id=1, table="customers", create_time="2026-11-26 10:00:00")
    jobs = catalog.SCHEMA_CHANGES
    monkeypatch.setattr(catalog, "SCHEMA_CHANGES", (*jobs, job))
    c.collector.run_statistics()
    got = [(e["kind"], e["subject"]) for e in c.events()]
    assert got == [("mv_refresh_failed", f"{mv.db}.{mv.name}"), ("schema_change_started", "sales.customers")]
    assert json.loads(c.events()[0]["details"])["error"] == "Memory of process exceed limit"
    monkeypatch.setattr(catalog, "SCHEMA_CHANGES", (*jobs, dataclasses.replace(job, state="CANCELLED", msg="timeout")))
    c.collector.run_statistics()
    c.collector.run_statistics()  # once each: the next pass changes nothing
    assert [(e["kind"], e["subject"]) for e in c.events()][2:] == [("schema_change_failed", "sales.customers")]
    assert json.loads(c.events()[2]["details"]) == {"message": "timeout"}


def test_events_kept_90_days_and_deleted_with_their_cluster(cluster):
    from starmon import clusters, rollup

    c = cluster
    now = c.model.now()
    c.collector.store.write_events(
        c.cluster_id,
        [events.event(now - 91 * 86400, "node_down", "BE x"), events.event(now - 89 * 86400, "node_up", "BE x")],
    )
    rollup.apply_retention(c.collector.store, 7, 90, now)
    assert [e["kind"] for e in c.events()] == ["node_up"]
    store = c.collector.store
    store.write(lambda conn: conn.execute(schema.clusters.update().values(source="ui")))
    clusters.delete(store, "c1")
    assert store.read(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(schema.events)).scalar()) == 0


def test_cli_prints_the_events_as_json(cluster, tmp_path):
    c = cluster
    c.emu.change("c1", "leader", index=1)
    ts = c.round()
    (tmp_path / "none.toml").write_text("")
    env = {
        **os.environ,
        "STARMON_DB_URL": c.collector.store.url,
        "STARMON_CONFIG": str(tmp_path / "none.toml"),
        "STARMON_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "starmon", "events", *args], env=env, capture_output=True, text=True, timeout=60
    )
    done = run("--cluster", "c1", "--range", "24h", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "ts": datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds"),
            "kind": "leader_changed",
            "subject": f"FE {c.model.frontends[1].host}",
            "severity": "warning",
            "details": {"previous": f"FE {c.model.frontends[0].host}"},
        }
    ]
    text = run("--cluster", "c1")
    assert text.returncode == 0 and "leader_changed" in text.stdout and "previous=FE" in text.stdout
    unknown = run("--cluster", "nope")
    assert unknown.returncode == 2 and "unknown cluster 'nope'" in unknown.stderr


# -- where people see them: the Events page and the charts' markers, through AppTest --------------------------


def test_events_page_filters_and_charts_mark_them(seeded_with_problems):
    from .fixtures import HOSTILE_HTML, app, figures, open_page

    env, now = seeded_with_problems, seeded_with_problems["newest_ts"]
    env["store"].write_events(
        env["cluster_id"],
        [
            events.event(now - 1800, "node_restarted", "BE 10.0.0.2", previous_start="a", start="b"),
            events.event(now - 600, "node_down", f"BE {HOSTILE_HTML}", error="refused"),
            events.event(now - 300, "leader_changed", "FE 10.0.0.1", previous="FE 10.0.0.9"),
        ],
    )
    at = app().run()
    at.switch_page("../../pages/events.py").run()
    assert not at.exception, at.exception
    (shown,) = at.dataframe
    assert list(shown.value["kind"]) == ["leader_changed", "node_down", "node_restarted"]  # newest first
    assert list(shown.value["subject"])[1] == f"BE {HOSTILE_HTML}"  # a cell: text, never HTML
    at.multiselect(key="event_kinds").set_value(["node_down", "node_restarted"]).run()
    at.multiselect(key="event_subjects").set_value(["BE 10.0.0.2"]).run()
    (shown,) = at.dataframe
    assert list(shown.value["kind"]) == ["node_restarted"]
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]

    figs = figures(open_page("performance"))
    marked = [t for t in figs["Query latency"]["data"] if t["name"] == "events"]
    assert len(marked) == 1 and len(marked[0]["x"]) == 3
    assert "BE &lt;img" in marked[0]["text"][1]
    at = open_page("performance")
    at.toggle(key="show_events").set_value(False).run()
    assert all(t["name"] != "events" for fig in figures(at).values() for t in fig["data"])


def test_a_round_whose_lease_was_lost_stores_none_of_its_events(cluster):
    from starmon.store import LeaseLost

    c, store = cluster, cluster.collector.store
    lease = schema.collector_leases
    store.write(lambda conn: conn.execute(lease.insert().values(cluster_id=c.cluster_id, owner="a", expires_at=9e9)))
    snapshot = Snapshot(ts=c.model.now() + 30, status=Status.OK, collect_ms=1)
    with pytest.raises(LeaseLost):
        store.write_round(c.cluster_id, snapshot, (), "b", [events.event(snapshot.ts, "node_down", "BE x")])
    assert c.events() == []
    store.write_round(c.cluster_id, snapshot, (), "a", [events.event(snapshot.ts, "node_down", "BE x")])
    assert [e["kind"] for e in c.events()] == ["node_down"]


def test_a_refresh_between_rounds_does_not_store_a_change_twice(cluster):
    from starmon.round import collect_now

    c = cluster
    c.emu.set_faults("c1", {"be_down": [1]})
    c.model.advance(10)
    (cid, config), *_ = c.collector.clusters()
    assert collect_now(c.collector.store, c.collector.config, cid, config).status == "partial"
    ts = c.round()
    assert c.new_events(0) == [(ts, "node_down", f"BE {c.model.backends[1].host}")]
