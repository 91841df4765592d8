"""Hostile or broken clusters: whatever one sends, every cluster's round ends, in bounded time, stored.

Each case puts a fake FE (tests/hostile_fe.py) beside a healthy emulated cluster and checks
that the fake's round is stored as partial or down with the reason, that values starmon
cannot use are NULL rather than raising, and that the healthy cluster is not held back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.config import ClusterConfig, Config
from starmon.emulator import ClusterSpec
from starmon.fetch import MAX_METRICS_BYTES, MAX_SAMPLES
from starmon.probe import check_connection
from starmon.scheduler import Collector
from starmon.store import Store

from .conftest import cluster_configs, exact_workload, free_port
from .hostile_fe import BE_METRICS, FE_METRICS, Answer, FakeCluster, TrickleSocket, be_row, fe_row, wait_for

TIMEOUT = 1.0
DEADLINE = 3 * TIMEOUT  # Config.round_deadline_seconds
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake():
    cluster = FakeCluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def healthy(emulator):
    return emulator(ClusterSpec("healthy", "3.3", workload=exact_workload(qps=50.0)))


def hostile_config(fake: FakeCluster, query_port: int | None = None) -> ClusterConfig:
    """The fake FE, with a MySQL port nobody listens on unless one is given."""
    return ClusterConfig(
        name="hostile", fe_host="127.0.0.1", http_port=fake.fe.port, query_port=query_port or free_port()
    )


def newest(collector: Collector, name: str) -> tuple[dict, list[dict]]:
    """The newest stored snapshot of a cluster and its node rows."""
    s, n = schema.metrics_snapshots, schema.node_snapshots
    with collector.store.reader.connect() as conn:
        cid = conn.execute(sa.select(schema.clusters.c.id).where(schema.clusters.c.name == name)).scalar_one()
        row = conn.execute(sa.select(s).where(s.c.cluster_id == cid).order_by(s.c.ts.desc()).limit(1)).first()
        nodes = conn.execute(sa.select(n).where(n.c.snapshot_id == row.id).order_by(n.c.id)).all()
    return dict(row._mapping), [dict(r._mapping) for r in nodes]


def run_round(make_collector, healthy, fake, query_port=None) -> tuple[Collector, dict, float]:
    """One round over both clusters; checks what must hold whatever the fake sent."""
    collector = make_collector(cluster_configs(healthy) + (hostile_config(fake, query_port),), timeout=TIMEOUT)
    started = time.monotonic()
    results = {r.name: r for r in collector.run_round()}
    elapsed = time.monotonic() - started
    assert set(results) == {"healthy", "hostile"}
    assert (results["healthy"].status, results["healthy"].reason) == ("ok", None), results["healthy"]
    assert results["hostile"].status in ("partial", "down"), results["hostile"]
    stored, _ = newest(collector, "hostile")
    assert (stored["status"], stored["error"]) == (results["hostile"].status, results["hostile"].reason)
    assert elapsed < DEADLINE + 2, f"round took {elapsed:.1f} s"
    return collector, results, elapsed


# -- 1. deadlines ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "node, route", [("fe", "/metrics"), ("be", "/metrics"), ("fe", "/api/show_proc?path=/backends")]
)
def test_a_trickled_answer_ends_at_the_request_deadline(make_collector, healthy, fake, node, route):
    server = getattr(fake, node)
    server.routes[route] = Answer(server.routes[route].body, trickle=0.4)  # each read well inside the timeout
    _, results, elapsed = run_round(make_collector, healthy, fake)
    reason = results["hostile"].reason
    assert f"timed out after {TIMEOUT:g} s" in reason, reason
    if route == "/metrics":  # the FE and the BE share 127.0.0.1: only the slow one is blamed
        other = {"fe": "BE", "be": "FE"}[node]
        assert f"{node.upper()} 127.0.0.1 /metrics" in reason and f"{other} 127.0.0.1" not in reason, reason
    assert elapsed < TIMEOUT + 1.5, f"one slow answer held the round {elapsed:.1f} s"
    assert wait_for(server.hung_up.is_set, 3), "starmon kept reading the trickled answer"


def test_a_trickling_mysql_port_is_cut_off_and_its_thread_freed(make_collector, healthy, fake):
    trickle = TrickleSocket()
    try:
        _, results, _ = run_round(make_collector, healthy, fake, query_port=trickle.port)
        assert f"MySQL port {trickle.port}" in results["hostile"].reason, results["hostile"].reason
        # pymysql's own timeout is per read, and the handshake trickles inside it: only the shut
        # socket ends the worker thread's read, so the server sees its peer go within seconds.
        assert wait_for(trickle.closed_by_peer.is_set, 5), "the MySQL thread is still reading"
    finally:
        trickle.stop()


def test_test_connection_ends_in_bounded_time(fake):
    for route in ("/metrics", "/api/show_proc?path=/backends"):
        fake.fe.routes[route] = Answer(fake.fe.routes[route].body, trickle=0.4)
    started = time.monotonic()
    checks = {c.name: c for c in check_connection(hostile_config(fake), timeout=TIMEOUT)}
    assert time.monotonic() - started < TIMEOUT + 2
    assert checks["FE HTTP /metrics"].status == "failed" and "timed out" in checks["FE HTTP /metrics"].detail
    assert checks["show_proc"].status == "failed" and "timed out" in checks["show_proc"].detail


def test_in_the_loop_a_healthy_cluster_keeps_its_schedule(tmp_path, healthy, fake):
    fake.fe.routes["/metrics"] = Answer(FE_METRICS, trickle=0.4)
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    config = Config(
        db_url=url,
        clusters=cluster_configs(healthy) + (hostile_config(fake),),
        interval_seconds=1,
        timeout_seconds=TIMEOUT,
    )
    collector = Collector(config, Store(url))
    thread = threading.Thread(target=collector.run_forever, daemon=True)
    thread.start()
    try:
        time.sleep(6)
    finally:
        collector.stop()
        thread.join(10)
    with collector.store.reader.connect() as conn:
        counts = dict(
            conn.execute(
                sa.select(schema.clusters.c.name, sa.func.count())
                .join(schema.metrics_snapshots)
                .group_by(schema.clusters.c.name)
            ).all()
        )
    collector.store.close()
    assert counts.get("healthy", 0) >= 4, counts  # one round a second, with room for a busy machine
    assert counts.get("hostile", 0) >= 1, counts  # the slow one is stored as each round hits its deadline


# -- 2, 3. values a cluster sends that no metric can hold --------------------------------------------
def _fe_metrics_with(**values: str) -> str:
    lines = []
    for line in FE_METRICS.splitlines():
        name = line.split("{")[0].split()[0] if line and not line.startswith("#") else None
        lines.append(f"{line.rsplit(' ', 1)[0]} {values.pop(name)}" if name in values else line)
    return "\n".join(lines + [f"{k} {v}" for k, v in values.items()]) + "\n"


def _fe(nodes: list[dict]) -> dict:
    return next(n for n in nodes if n["role"] == "FE")


def _be(nodes: list[dict]) -> dict:
    return next(n for n in nodes if n["role"] == "BE")


CASES = [
    # (what the fake serves, words the reason must hold, check of the stored rows)
    pytest.param(
        {"fe_metrics": _fe_metrics_with(starrocks_fe_query_total="NaN")},
        ["starrocks_fe_query_total"],
        lambda snap, nodes: _fe(nodes)["query_total"] is None and _fe(nodes)["connections"] == 7,
        id="nan-counter",
    ),
    pytest.param(
        {"fe_metrics": _fe_metrics_with(starrocks_fe_query_total="+Inf")},
        ["starrocks_fe_query_total"],
        lambda snap, nodes: snap["query_total"] is None and snap["connections"] == 7,
        id="inf-counter",
    ),
    pytest.param(
        {"fe_metrics": FE_METRICS.replace("120.5", "+Inf")},
        ["starrocks_fe_query_latency"],
        lambda snap, nodes: snap["query_latency_p99"] is None and snap["query_error"] == 10,
        id="inf-p99",
    ),
    pytest.param(
        {"fe_metrics": _fe_metrics_with(starrocks_fe_query_total="1e30")},
        ["query_total", "1e+30"],
        lambda snap, nodes: _fe(nodes)["query_total"] is None and snap["query_error"] == 10,
        id="counter-1e30",
    ),
    pytest.param(
        {"be": {"TotalCapacity": "1e309 B"}},
        ["TotalCapacity", "1e309 B"],
        lambda snap, nodes: _be(nodes)["disk_total_bytes"] is None and _be(nodes)["tablet_count"] == 10,
        id="capacity-1e309",
    ),
    pytest.param(
        {"be": {"IP": "1.2.3.4:99"}},
        ["1.2.3.4:99", "not an IP address"],
        lambda snap, nodes: (
            _be(nodes)["host"] == "1.2.3.4:99" and snap["backend_total"] == 1 and _fe(nodes)["connections"] == 7
        ),
        id="ip-with-port",
    ),
    pytest.param(
        {"fe_metrics": _fe_metrics_with(starrocks_fe_qps="-5.0", starrocks_fe_connection_total="-3")},
        ["qps -5 (negative)", "connections -3 (negative)"],
        lambda snap, nodes: snap["qps"] is None and snap["connections"] is None and snap["query_total"] == 1000,
        id="negative-gauges",
    ),
    pytest.param(
        {"be": {"TotalCapacity": "-5.000 GB"}},
        ["disk_total_bytes", "negative"],
        lambda snap, nodes: snap["disk_total_bytes"] is None and _be(nodes)["tablet_count"] == 10,
        id="negative-capacity",
    ),
    pytest.param(
        {"be": {"MaxDiskUsedPct": "250.00 %"}},
        ["max_disk_used_pct 250 (above 100)"],
        lambda snap, nodes: _be(nodes)["max_disk_used_pct"] is None,
        id="percent-over-100",
    ),
    pytest.param(
        {"be": {"Version": "v" * 10_000}},
        [],
        lambda snap, nodes: len(_be(nodes)["version"]) == 64,
        id="endless-version",
    ),
]


@pytest.mark.parametrize("serve, words, check", CASES)
def test_values_no_metric_can_hold_are_stored_as_null_with_the_reason(
    make_collector, healthy, fake, serve, words, check
):
    if "fe_metrics" in serve:
        fake.fe.routes["/metrics"] = Answer(serve["fe_metrics"])
    if "be" in serve:
        fake.set_lists([fe_row(fake.fe.port)], [be_row(fake.be.port, **serve["be"])])
    collector, results, _ = run_round(make_collector, healthy, fake)
    snap, nodes = newest(collector, "hostile")
    for word in words:
        assert word in (snap["error"] or ""), (word, snap["error"])
    assert check(snap, nodes), (snap, nodes)


# -- 4. unbounded answers ---------------------------------------------------------------------------
@pytest.mark.parametrize("length", [True, False], ids=["content-length", "until-close"])
def test_a_body_past_the_limit_is_refused_without_reading_it_all(make_collector, healthy, fake, length):
    line = b"starrocks_fe_unread_metric 1\n"
    fake.fe.routes["/metrics"] = Answer(line * (MAX_METRICS_BYTES // len(line) + 1000), length=length)
    _, results, _ = run_round(make_collector, healthy, fake)
    assert f"larger than the {MAX_METRICS_BYTES // 2**20} MiB starmon reads" in results["hostile"].reason


def test_endless_series_of_a_read_metric_stop_at_the_sample_limit(make_collector, healthy, fake):
    lines = "".join(f'starrocks_be_cpu{{mode="m{i}"}} 1\n' for i in range(500_000))
    fake.be.routes["/metrics"] = Answer(BE_METRICS + lines)
    _, results, _ = run_round(make_collector, healthy, fake)
    assert f"more than {MAX_SAMPLES:,} series" in results["hostile"].reason, results["hostile"].reason


def test_thousands_of_nodes_are_read_up_to_the_node_limit(make_collector, healthy, fake):
    closed = free_port()
    backends = [be_row(closed, 20000 + i, IP=f"127.1.{i // 250}.{i % 250 + 1}") for i in range(5000)]
    fake.set_lists([fe_row(fake.fe.port)], backends)
    collector, results, _ = run_round(make_collector, healthy, fake)
    assert "5,001 nodes listed; starmon reads the first 1,000" in results["hostile"].reason
    snap, nodes = newest(collector, "hostile")
    assert (snap["backend_total"], len(nodes)) == (999, 1000)


# -- the command an operator runs ---------------------------------------------------------------------
def test_collector_once_survives_every_hostile_answer_at_once(tmp_path, healthy, fake):
    fake.fe.routes["/metrics"] = Answer(
        _fe_metrics_with(starrocks_fe_query_total="1e30", starrocks_fe_query_err="NaN"), trickle=None
    )
    fake.fe.routes["/api/show_runtime_info"] = Answer('{"padding": "' + "x" * 100 + '"}', trickle=0.4)
    fake.set_lists(
        [fe_row(fake.fe.port)],
        [be_row(fake.be.port, TotalCapacity="1e309 B"), be_row(fake.be.port, 10002, IP="1.2.3.4:99")],
    )
    info = healthy.describe()[0]
    (tmp_path / "starmon.toml").write_text(
        "timeout_seconds = 1\n"
        f'[[clusters]]\nname = "healthy"\nfe_host = "{info["fe_host"]}"\nhttp_port = {info["http_port"]}\n'
        f"query_port = {info['query_port']}\n"
        f'[[clusters]]\nname = "hostile"\nfe_host = "127.0.0.1"\nhttp_port = {fake.fe.port}\n'
        f"query_port = {free_port()}\n"
    )
    env = {
        **os.environ,
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
        "STARMON_DB_URL": f"sqlite:///{tmp_path / 'starmon.db'}",
        "STARMON_SECRET_KEY_FILE": str(tmp_path / "k"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "collector.py"), "--once"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = {line.split(":")[0]: line for line in done.stdout.splitlines()}
    assert lines["healthy"].startswith("healthy: ok in"), done.stdout
    assert lines["hostile"].startswith("hostile: partial in"), done.stdout
    for words in ("1e+30", "starrocks_fe_query_err", "TotalCapacity", "1.2.3.4:99", "show_runtime_info"):
        assert words in lines["hostile"], (words, lines["hostile"])
