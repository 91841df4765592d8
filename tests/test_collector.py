"""Stored numbers match what the emulator was told to serve, for every version profile."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.emulator import ClusterSpec

from .conftest import cluster_configs, exact_workload
from .test_cli import ROOT

QPS = 60.0
PROFILES = ["2.5", "3.1", "3.3", "3.4", "shared-data"]


def _rows(collector, table, **where):
    query = sa.select(table).order_by(table.c.id)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with collector.store.reader.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _frozen():
    """An emulator clock that stands still, so the time a round is stamped with is the time every
    answer of that round describes (a live clock moves a few ms between them); tests advance it."""
    start = time.time()
    return lambda: start


def _two_rounds(emulator, make_collector, profile, url=None, **config):
    """Collect twice, 60 emulated seconds apart, on the emulator's (frozen) clock."""
    emu = emulator(ClusterSpec("c1", profile=profile, workload=exact_workload(qps=QPS)), clock=_frozen())
    model = emu.cluster("c1")
    collector = make_collector(cluster_configs(emu, **config), url=url)
    collector.clock = model.now
    first = collector.run_round()
    model.advance(60)
    second = collector.run_round()
    return model, collector, first, second


@pytest.mark.parametrize("profile", PROFILES)
def test_round_matches_emulator(emulator, make_collector, profile, db_url):
    model, collector, first, second = _two_rounds(emulator, make_collector, profile, db_url)
    assert [r.status for r in first + second] == ["ok", "ok"], first + second
    snaps = _rows(collector, schema.metrics_snapshots)
    assert len(snaps) == 2
    snap = snaps[-1]
    t = snap["ts"]
    shared = profile == "shared-data"

    assert snap["frontend_total"] == 2 and snap["frontend_alive"] == 2
    assert (snap["compute_total"], snap["backend_total"]) == ((3, 0) if shared else (0, 3))
    assert snap["compute_alive" if shared else "backend_alive"] == 3
    assert snap["version"] == model.profile.version.split()[0]  # "3.3.5", whichever source
    assert snap["source"] == "show_proc"

    # QPS from counter deltas over exactly 60 emulated seconds; first round used the gauges.
    assert snaps[0]["qps"] == pytest.approx(QPS, rel=1e-6)
    assert snap["qps"] == pytest.approx(QPS, rel=0.01)
    assert snap["query_error_rate"] == pytest.approx(0.2, abs=0.06)
    # p99 is the worst FE's gauge.
    assert snap["query_latency_p99"] == max(model.fe_latency(fe, t)["99_quantile"] for fe in model.frontends)
    assert snap["connections"] == sum(model.fe_connections(fe, t) for fe in model.frontends)
    # CPU from jiffy deltas: the mean of each host's busy share.
    expected_cpu = sum(be.cpu_base for be in model.backends) / len(model.backends) * 100
    assert snap["avg_cpu_usage"] == pytest.approx(expected_cpu, abs=0.05)

    if shared:  # shared-data nodes report no local capacity: unknown, not 0
        assert snap["disk_total_bytes"] is None and snap["disk_usage_pct"] is None
        assert snap["tablet_count"] == 0
    else:
        disks = [model.be_disk(be, t) for be in model.backends]
        total = sum(d["total"] for d in disks)
        used = sum(d["total"] - d["avail"] for d in disks)
        # Size strings carry 3 decimals of TB: allow that rounding per value.
        assert snap["disk_total_bytes"] == pytest.approx(total, abs=3 * 0.0006 * 1024**4)
        assert snap["disk_used_bytes"] == pytest.approx(used, abs=6 * 0.0006 * 1024**4)
        assert snap["disk_usage_pct"] == pytest.approx(100 * snap["disk_used_bytes"] / snap["disk_total_bytes"])
        assert snap["tablet_count"] == sum(be.tablets for be in model.backends)
    txn = model.txn_counters(t)
    assert snap["txn_success_total"] == txn["txn_success"]
    assert snap["load_finished_total"] == txn["load_finished"]
    assert snap["max_compaction_score"] == max(model.be_compaction_score(be, t) for be in model.backends)


def test_null_not_zero_for_columns_a_release_lacks(emulator, make_collector):
    """2.5 has no MemUsedPct or NumRunningQueries: they are NULL, never 0."""
    _, collector, _, _ = _two_rounds(emulator, make_collector, "2.5")
    snap = _rows(collector, schema.metrics_snapshots)[-1]
    assert snap["avg_memory_usage"] is None
    bes = [n for n in _rows(collector, schema.node_snapshots) if n["role"] == "BE"]
    assert bes and all(n["mem_pct"] is None and n["running_queries"] is None for n in bes)
    assert all(n["cpu_pct"] is not None for n in bes[-3:])  # from /metrics jiffies instead


def test_every_alive_fe_is_scraped(emulator, make_collector):
    """Per-FE values (QPS, counters) come from every FE, not just the configured host."""
    model, collector, _, _ = _two_rounds(emulator, make_collector, "3.3")
    fes = [n for n in _rows(collector, schema.node_snapshots) if n["role"] == "FE"][-2:]
    assert {n["host"] for n in fes} == {fe.host for fe in model.frontends}
    shares = sorted(fe.share for fe in model.frontends)
    assert sorted(n["qps"] for n in fes) == pytest.approx([s * QPS for s in shares], rel=0.01)
    leader = next(n for n in fes if n["is_leader"])
    assert leader["host"] == model.leader.host


def test_rates_use_the_round_kept_in_memory_even_across_a_refresh(emulator, make_collector, monkeypatch):
    """The collector keeps the round it stored instead of reading it back; a round another
    collector stored in between (the dashboard's Refresh) only widens the rate's window."""
    emu = emulator(ClusterSpec("c1", profile="3.3", workload=exact_workload(qps=QPS)), clock=_frozen())
    model = emu.cluster("c1")
    embedded = make_collector(cluster_configs(emu))
    embedded.clock = model.now
    embedded.run_round()
    reads = []
    monkeypatch.setattr(embedded.store, "previous_round", lambda cid: reads.append(cid))
    model.advance(10)
    refresh = make_collector(cluster_configs(emu))
    refresh.clock = model.now
    model.restart_fe(1)  # counters restart between the embedded collector's rounds
    assert [r.status for r in refresh.run_round()] == ["ok"]
    model.advance(20)
    assert [r.status for r in embedded.run_round()] == ["ok"]
    assert reads == []
    snaps = _rows(embedded, schema.metrics_snapshots)
    window = snaps[-1]["ts"] - snaps[0]["ts"]
    assert [s["ts"] - snaps[0]["ts"] for s in snaps] == pytest.approx([0, 10, 30])
    fes = {
        n["host"]: n for n in _rows(embedded, schema.node_snapshots, snapshot_id=snaps[-1]["id"]) if n["role"] == "FE"
    }
    leader, restarted = model.frontends[0], model.frontends[1]
    # The leader's rate over the 30 s since the embedded collector's own round: exact.
    assert fes[leader.host]["qps"] == pytest.approx(leader.share * QPS, rel=0.01)
    # The restarted FE counted from zero for ~20 s of its ~30 s window: that share of its rate.
    since_restart = snaps[-1]["ts"] - restarted.started_at
    assert fes[restarted.host]["qps"] == pytest.approx(restarted.share * QPS * since_restart / window, rel=0.01)
    expected_cpu = sum(be.cpu_base for be in model.backends) / len(model.backends) * 100
    assert snaps[-1]["avg_cpu_usage"] == pytest.approx(expected_cpu, abs=0.05)


def test_monitor_user_without_admin_falls_back_to_mysql(emulator, make_collector):
    """show_proc answers 401 to a non-admin user: node lists come from SHOW statements."""
    model, collector, _, second = _two_rounds(emulator, make_collector, "3.4", user="monitor", password="monitor")
    assert second[0].status == "ok"
    snap = _rows(collector, schema.metrics_snapshots)[-1]
    assert snap["source"] == "mysql"
    assert (snap["frontend_total"], snap["backend_total"], snap["backend_alive"]) == (2, 3, 3)
    assert snap["qps"] == pytest.approx(QPS, rel=0.01)


def test_statistics_pass(emulator, make_collector, db_url):
    emu = emulator(ClusterSpec("c1", profile="3.3", workload=exact_workload()))
    collector = make_collector(cluster_configs(emu), url=db_url)
    collector.run_statistics()
    [stats] = _rows(collector, schema.data_statistics)
    assert stats["status"] == "ok", stats["error"]
    from starmon.emulator import catalog

    user_tables = [t for t in catalog.TABLES if t.db != "_statistics_"]
    assert stats["table_count"] == len(user_tables)
    assert stats["database_count"] == len({t.db for t in user_tables})
    assert (stats["mv_total"], stats["mv_active"], stats["mv_inactive"], stats["mv_failed"]) == (5, 4, 1, 1)
    assert (stats["schema_change_running"], stats["schema_change_pending"]) == (1, 1)
    history = _rows(collector, schema.table_size_history)
    assert len(history) == len(user_tables)  # StarRocks' own _statistics_ is not the user's data
    biggest = max(history, key=lambda r: r["data_bytes"])
    assert (biggest["db_name"], biggest["table_name"]) == ("web_analytics", "page_views")
    assert stats["total_data_bytes"] == sum(r["data_bytes"] for r in history)


def test_open_file_limit_is_raised_for_many_clusters():
    """A soft limit of 1024 would stop a collector at about 100 clusters; the hard limit is the ceiling."""
    script = (
        "import resource, sys; from starmon.connections import raise_open_file_limit as r; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096)); "
        "print(r(3000), resource.getrlimit(resource.RLIMIT_NOFILE)[0], r(100000), "
        "resource.getrlimit(resource.RLIMIT_NOFILE)[0], r(50))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3000", "3000", "4096", "4096", "4096"]


def test_mysql_connections_share_one_tls_context(emulator, make_collector):
    """pymysql's opportunistic TLS built a context (~0.8 MB) per kept connection."""
    emu = emulator(ClusterSpec("a", "3.3"), ClusterSpec("b", "3.3"))
    collector = make_collector(cluster_configs(emu))
    assert [r.status for r in collector.run_round()] == ["ok", "ok"]
    sessions = collector.connections.sessions()
    contexts = {id(session.tls_context) for session in sessions.values()}
    assert len(sessions) == 2 and len(contexts) == 1  # (None for a pymysql without that mode)


def test_connections_of_clusters_no_longer_collected_are_closed(emulator, make_collector):
    """A removed cluster's connections, and those of a cluster whose settings changed, are closed."""
    emu = emulator(ClusterSpec("a", "3.3"), ClusterSpec("b", "3.3"))
    a, b = cluster_configs(emu)
    collector = make_collector((a, b))
    assert [r.status for r in collector.run_round()] == ["ok", "ok"]
    old_session = collector.connections.sessions()[a]
    assert old_session.is_open
    edited = dataclasses.replace(a, tls_verify=not a.tls_verify)  # any change makes a new config
    collector.config = dataclasses.replace(collector.config, clusters=(edited,))  # b removed, a edited
    assert [r.name for r in collector.run_round()] == ["a"]
    assert not old_session.is_open  # closed, not left open
    assert set(collector.connections.sessions()) == {edited} and collector.connections.kept() == {"a"}
    assert collector.remembered() == {cid for cid, _ in collector.clusters()}


def test_closing_twice_is_harmless(emulator, make_collector):
    """run_forever closes its collector on the way out; whoever made it may close it again."""
    collector = make_collector(cluster_configs(emulator(ClusterSpec("a", "3.3"))))
    assert [r.status for r in collector.run_round()] == ["ok"]
    collector.close()
    collector.close()
    assert collector.connections.kept() == set() and collector.connections.sessions() == {}
