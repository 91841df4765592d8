"""The panels an SRE finds on StarRocks' own dashboard, collected and shown (issue 18).

What the collector stores for them is checked against what the emulator was told to serve, over
real sockets for every version profile (NULL where a release does not have the family), and on
recorded rounds for the rules (counter resets, a leader moving, a host rebooting); the hourly tier
carries the new columns; an empty panel says why in words of its own.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from starmon import rollup, schema
from starmon.aggregate import BE_METRICS, FE_METRICS, build_round
from starmon.coverage import ALL_NA
from starmon.emulator import exposition
from starmon.emulator.exposition_be import disk_io_util, network_bytes
from starmon.emulator.model import ClusterModel
from starmon.emulator.profiles import PROFILES as PROFILES_BY_NAME
from starmon.parse import parse_prometheus
from starmon.readings import PreviousRound, RawRound, Status
from starmon.ui import charts

from .fixtures import add_cluster, figures, open_page, seed_rounds
from .test_collector import PROFILES, _rows, _two_rounds
from .test_parse import sample, sample_json
from .test_rules import EXACT, T0, _model, record, replay, rounds

STEP = 60  # emulated seconds between the two rounds of _two_rounds
NEW_CLUSTER_COLUMNS = (
    "running_queries",
    "txn_begin_per_second",
    "txn_success_per_second",
    "txn_failed_per_second",
    "load_finished_per_second",
    "load_failed_per_second",
    "routine_load_lag",
)
NEW_FE_COLUMNS = (
    "txn_begin_total",
    "txn_success_total",
    "txn_failed_total",
    "txn_reject_total",
    "load_finished_total",
    "jvm_gc_time_ms",
    "jvm_gc_ms_per_second",
)
NEW_WORKER_COLUMNS = (
    "disk_io_util_pct",
    "net_receive_bytes_per_second",
    "net_send_bytes_per_second",
    "net_receive_bytes_total",
    "net_send_bytes_total",
)


def _per_second(before: int, after: int) -> float:
    return (after - before) / STEP


@pytest.mark.parametrize("profile", PROFILES)
def test_rates_and_levels_match_what_the_emulator_served(emulator, make_collector, profile):
    model, collector, first, second = _two_rounds(emulator, make_collector, profile)
    assert [r.status for r in first + second] == ["ok", "ok"], first + second
    snaps = _rows(collector, schema.metrics_snapshots)
    t0, t = snaps[0]["ts"], snaps[-1]["ts"]
    assert t - t0 == STEP
    snap = snaps[-1]

    was, now = model.txn_counters(t0), model.txn_counters(t)
    assert snap["txn_begin_per_second"] == pytest.approx(_per_second(was["txn_begin"], now["txn_begin"]))
    assert snap["txn_success_per_second"] == pytest.approx(_per_second(was["txn_success"], now["txn_success"]))
    assert snap["txn_failed_per_second"] == pytest.approx(_per_second(was["txn_failed"], now["txn_failed"]))
    assert snap["load_finished_per_second"] == pytest.approx(_per_second(was["load_finished"], now["load_finished"]))
    rejected = _per_second(
        exposition.txn_rejected(model, model.leader, t0), exposition.txn_rejected(model, model.leader, t)
    )
    assert snap["load_failed_per_second"] == pytest.approx(_per_second(was["txn_failed"], now["txn_failed"]) + rejected)
    assert snap["txn_begin_per_second"] > 0
    assert snap["routine_load_lag"] == max(exposition.routine_load_lags(model, t).values())
    if profile == "2.5":  # SHOW BACKENDS has no NumRunningQueries before 3.1: unknown, not 0
        assert snap["running_queries"] is None
    else:
        assert snap["running_queries"] == max(model.be_running_queries(be, t) for be in model.backends)
    # the first round had no previous one: no rate, never a rate of 0
    assert snaps[0]["txn_begin_per_second"] is None and snaps[0]["load_finished_per_second"] is None

    nodes = _rows(collector, schema.node_snapshots, snapshot_id=snap["id"])
    fes = {n["host"]: n for n in nodes if n["role"] == "FE"}
    for fe in model.frontends:
        gc = lambda at: sum(exposition.gc_time_ms(model, fe, at).values())  # noqa: B023, E731
        assert fes[fe.host]["jvm_gc_ms_per_second"] == pytest.approx(_per_second(gc(t0), gc(t)))
        assert fes[fe.host]["jvm_gc_time_ms"] == gc(t)
        assert fes[fe.host]["disk_io_util_pct"] is None and fes[fe.host]["net_send_bytes_per_second"] is None
    workers = {n["host"]: n for n in nodes if n["role"] != "FE"}
    assert len(workers) == len(model.backends)
    for be in model.backends:
        row, before, after = workers[be.host], network_bytes(model, be, t0), network_bytes(model, be, t)
        assert row["disk_io_util_pct"] == disk_io_util(model, be, t)
        for direction in ("receive", "send"):  # eth0 only: loopback traffic never left the host
            expected = _per_second(before[direction]["eth0"], after[direction]["eth0"])
            assert row[f"net_{direction}_bytes_per_second"] == pytest.approx(expected, abs=1)
            assert row[f"net_{direction}_bytes_total"] == after[direction]["eth0"]
        assert row["jvm_gc_ms_per_second"] is None and row["txn_begin_total"] is None


def test_the_hourly_tier_carries_the_new_columns(emulator, make_collector):
    model, collector, _, _ = _two_rounds(emulator, make_collector, "3.3")
    [cid] = collector.store.cluster_ids().values()
    newest = _rows(collector, schema.metrics_snapshots)[-1]
    rollup.roll_up_hours(collector.store, cid, now=newest["ts"] + 2 * rollup.HOUR)
    h, nh = schema.hourly_snapshots, schema.node_hourly
    with collector.store.reader.connect() as conn:
        hourly = [dict(r._mapping) for r in conn.execute(sa.select(h).order_by(h.c.ts))]
        nodes = [dict(r._mapping) for r in conn.execute(sa.select(nh).where(nh.c.ts == hourly[-1]["ts"]))]
    assert hourly[-1]["txn_begin_per_second"] == pytest.approx(newest["txn_begin_per_second"])
    in_hour = [
        r
        for r in _rows(collector, schema.metrics_snapshots)
        if r["ts"] // rollup.HOUR * rollup.HOUR == hourly[-1]["ts"]
    ]
    assert hourly[-1]["routine_load_lag"] == max(r["routine_load_lag"] for r in in_hour)  # the worst, not a mean
    nodes = [n for n in nodes if n["role"] == "BE"]
    assert nodes and all(n["net_receive_bytes_per_second"] and n["disk_io_util_pct"] for n in nodes)


# -- the rules, on recorded rounds --------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_recorded_rounds_of_every_profile_read_the_new_values(tmp_path, profile):
    """Each profile's answers, recorded as files and read back through the collector's own parsing
    (only the names it reads): every new value is there, and NULL where the release lacks it."""
    model = ClusterModel(
        "rules",
        PROFILES_BY_NAME[profile],
        ["127.0.0.1", "127.0.0.2"],
        ["127.0.0.3", "127.0.0.4", "127.0.0.5"],
        http_port=8030,
        query_port=9030,
        be_http_port=8040,
        workload=EXACT,
        clock=lambda: T0,
    )
    _, (snapshot, nodes) = rounds(model, tmp_path, 30)
    assert snapshot.status == Status.OK, snapshot.error
    for name in NEW_CLUSTER_COLUMNS:
        value = getattr(snapshot, name)
        assert (value is None) == (name == "running_queries" and profile == "2.5"), (name, value)
    for node in nodes:
        wanted = NEW_FE_COLUMNS if node.role == "FE" else NEW_WORKER_COLUMNS
        assert all(getattr(node, name) is not None for name in wanted), node
        others = NEW_WORKER_COLUMNS if node.role == "FE" else NEW_FE_COLUMNS
        assert all(getattr(node, name) is None for name in others), node


def test_the_samples_read_as_a_real_fe_and_be_print_them():
    """The reconstructed 3.x answers (tests/samples): GC time, transaction and load counters, network bytes."""
    fe = parse_prometheus(sample("fe_metrics_prometheus_3.x_reconstructed.txt"), FE_METRICS)
    be = parse_prometheus(sample("be_metrics_prometheus_3.x_reconstructed.txt"), BE_METRICS)
    [leader] = [r for r in sample_json("show_proc_frontends_3.x_reconstructed.json.txt") if r["Role"] == "LEADER"]
    backend = sample_json("show_proc_backends_3.4plus_reconstructed.json.txt")[0]
    raw = RawRound(
        ts=1.0,
        reachable=True,
        frontends=[leader],
        backends=[backend],
        source="show_proc",
        fe_metrics={leader["IP"]: fe},
        be_metrics={backend["IP"]: be},
    )
    _, nodes = build_round(raw, None)
    fe_node, be_node = nodes
    assert fe_node.jvm_gc_time_ms == 30471  # young 30471 ms + old 0 ms
    assert (fe_node.txn_begin_total, fe_node.txn_success_total, fe_node.txn_failed_total) == (52210, 52188, 22)
    assert fe_node.load_finished_total == 116
    assert be_node.net_receive_bytes_total == 92837465112 and be_node.net_send_bytes_total == 81273648120
    assert be_node.net_receive_bytes_per_second is None  # one round: no rate yet


def test_a_leader_restart_counts_its_transactions_from_zero(tmp_path):
    model = _model()
    leader = model.leader
    _, (snapshot, _) = rounds(model, tmp_path, lambda: (model.advance(10), model.restart_fe(leader.index)), 20)
    now = model.txn_counters(model.now())  # since the restart, 20 s ago
    assert snapshot.txn_begin_per_second == pytest.approx(now["txn_begin"] / 30)
    assert snapshot.load_finished_per_second == pytest.approx(now["load_finished"] / 30)
    assert all(v >= 0 for v in (snapshot.txn_success_per_second, snapshot.txn_failed_per_second))


def test_no_rate_in_the_round_a_new_leader_takes_over(tmp_path):
    """The emulator's followers print 0 for the leader's counters, as some leader-only figures do:
    the new leader's whole count would read as one round's work."""
    model = _model()
    _, (moved, _), (after, _) = rounds(model, tmp_path, lambda: model.move_leader(1), 30, 30)
    assert moved.status == Status.OK
    assert moved.txn_begin_per_second is None and moved.load_failed_per_second is None
    assert after.txn_begin_per_second == pytest.approx(
        (model.txn_counters(after.ts)["txn_begin"] - model.txn_counters(moved.ts)["txn_begin"]) / 30
    )


def test_transaction_rates_are_unknown_without_the_leaders_answer(tmp_path):
    model = _model()
    ((first, nodes),) = rounds(model, tmp_path)
    model.advance(30)
    directory = record(model, tmp_path / str(model.now()))
    (directory / f"metrics/fe-{model.leader.host}.txt").unlink()
    snapshot, _ = replay(directory, PreviousRound(first.ts, nodes))
    assert snapshot.status == Status.PARTIAL
    assert snapshot.txn_begin_per_second is None and snapshot.load_finished_per_second is None  # not 0
    assert snapshot.routine_load_lag is not None  # every FE reports the lag


def test_a_rebooted_host_gives_no_network_rate_rather_than_a_negative_one(tmp_path):
    model = _model()
    be = model.backends[0]
    _, _, (_, nodes) = rounds(model, tmp_path, 600, lambda: model.restart_be(be.index), 30)
    row = next(n for n in nodes if n.host == be.host)
    assert row.net_receive_bytes_per_second is None and row.net_send_bytes_per_second is None
    assert row.net_receive_bytes_total is not None  # kept, so the next round has its rate
    others = [n for n in nodes if n.role == "BE" and n.host != be.host]
    assert all(n.net_receive_bytes_per_second > 0 for n in others)


def test_gc_time_of_a_restarted_fe_counts_from_zero(tmp_path):
    model = _model()
    fe = model.frontends[1]
    _, (_, nodes) = rounds(model, tmp_path, lambda: (model.advance(10), model.restart_fe(fe.index)), 20)
    row = next(n for n in nodes if n.host == fe.host)
    assert row.jvm_gc_ms_per_second == pytest.approx(sum(exposition.gc_time_ms(model, fe, model.now()).values()) / 30)


# -- an empty panel says why ---------------------------------------------------------------------------------------


def test_a_panel_a_release_lacks_says_so(env):
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, dead=None)
    s = schema.metrics_snapshots
    env["store"].write(lambda conn: conn.execute(sa.update(s).values(running_queries=None, routine_load_lag=None)))
    at = open_page("performance")
    assert not at.exception
    figs = figures(at)
    text = lambda title: " ".join(a["text"] for a in figs[title]["layout"].get("annotations", []))  # noqa: E731
    assert "No data in this range" in text("Running queries (busiest BE/CN)")
    assert "from 3.1 on" in text("Running queries (busiest BE/CN)")
    assert "enable_routine_load_lag_metrics" in text("Routine-load lag")
    assert figs["Transactions per second"]["data"]  # the others are drawn


def test_an_empty_chart_keeps_the_pages_reason_unless_it_is_the_generic_one():
    import pandas as pd

    empty = pd.DataFrame({"time": pd.to_datetime([0], unit="s", utc=True), "running_queries": [None]})
    assert "from 3.1 on" in charts._why_na(ALL_NA, empty, "running_queries")
    assert charts._why_na("The cluster was down at every round.", empty, "running_queries").startswith("The cluster")
    assert charts._why_na(ALL_NA, empty, "qps") == ALL_NA
    assert charts._why_na("Nothing yet.", empty.iloc[:0], "running_queries") == "Nothing yet."


def test_byte_rates_read_in_si_units():
    import pandas as pd

    df = pd.DataFrame(
        {
            "time": pd.to_datetime([0, 60], unit="s", utc=True),
            "role": "BE",
            "host": "10.0.0.3",
            "net_send_bytes_per_second": [1.5e6, 2.5e6],
        }
    )
    fig = charts.per_node(df, "net_send_bytes_per_second", "Network sent per node", "UTC")
    assert fig.layout.yaxis.ticksuffix == "B/s" and fig.layout.yaxis.tickformat == "~s"
    assert fig.data[0].hovertemplate.startswith("%{y:.3s}B/s")
