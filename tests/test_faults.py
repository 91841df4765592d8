"""The fault matrix: one emulator with a healthy and a faulty cluster, one collector over both.

For every fault switch of the emulator (and an FE restart) a round must complete for
both clusters, the healthy one must stay "ok" and undelayed, the faulty one must be
"down" or "partial" with a readable reason, nothing stored earlier may change, and the
round after the fault is cleared must be "ok" again.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.config import ClusterConfig
from starmon.emulator import ClusterSpec

from .conftest import cluster_configs, exact_workload

TIMEOUT = 1.0
QPS = 50.0
# Each switch's default, to clear a fault again.
DEFAULTS = {
    "fe_down": [],
    "be_down": [],
    "slow_seconds": 0.0,
    "http_500": False,
    "bad_body": None,
    "proc_forbidden": False,
    "mysql_refused": False,
}
# Text that betrays a Python exception leaking into an operator-facing reason.
PYTHON_LEAKS = ("Traceback", "Error(", "Exception(", 'File "', "<class", "object at 0x", "errno=")


class Harness:
    """Two emulated clusters, "healthy" and "faulty", and one collector over both."""

    def __init__(self, emu, collector):
        self.emu = emu
        self.collector = collector
        self.info = {d["name"]: d for d in emu.describe()}
        self.ids = {c.name: cid for cid, c in collector.clusters()}  # syncs the clusters table

    # -- store --------------------------------------------------------------------------------
    def snapshots(self, name: str) -> list[dict]:
        t = schema.metrics_snapshots
        with self.collector.store.reader.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(sa.select(t).where(t.c.cluster_id == self.ids[name]).order_by(t.c.id))
            ]

    def nodes(self, snapshot_id: int, role: str | None = None) -> list[dict]:
        t = schema.node_snapshots
        query = sa.select(t).where(t.c.snapshot_id == snapshot_id).order_by(t.c.id)
        if role:
            query = query.where(t.c.role == role)
        with self.collector.store.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- rounds -------------------------------------------------------------------------------
    def round(self) -> dict:
        """Run one round and check what every round must give, whatever the fault.

        Returns {cluster name: (ClusterResult, newest stored snapshot row)}.
        """
        before = {name: self.snapshots(name) for name in self.ids}
        watch = StoredWatch(self, "healthy", len(before["healthy"]))
        started = time.monotonic()
        try:
            results = self.collector.run_round()
        finally:
            elapsed = time.monotonic() - started
            stored_after = watch.stop(started)
        # (1) the round completes, with a result for every cluster, in bounded time
        assert sorted(r.name for r in results) == sorted(self.ids)
        assert elapsed < 4 * TIMEOUT + 2, f"round took {elapsed:.1f} s"
        by_name = {r.name: r for r in results}
        # (2) the healthy cluster is ok and not held back by the faulty one
        healthy = by_name["healthy"]
        assert (healthy.status, healthy.reason) == ("ok", None), healthy
        assert healthy.collect_ms < 1000, healthy
        # ... and its row is in the store before the faulty cluster is done (rounds run concurrently)
        assert stored_after is not None and stored_after < 1.0, f"healthy row stored after {stored_after} s"
        out = {}
        for name in self.ids:
            after = self.snapshots(name)
            # (4) exactly one new row per round; every earlier row is unchanged
            assert len(after) == len(before[name]) + 1, name
            assert after[: len(before[name])] == before[name], name
            newest = after[-1]
            result = by_name[name]
            assert (newest["status"], newest["error"], newest["collect_ms"]) == (
                result.status,
                result.reason,
                result.collect_ms,
            )
            out[name] = (result, newest)
        return out

    def set_faults(self, changes: dict) -> None:
        self.emu.set_faults("faulty", changes)

    def clear(self, changes: dict) -> None:
        self.emu.set_faults("faulty", {k: DEFAULTS[k] for k in changes})


class StoredWatch:
    """Polls the store from another thread: when did a cluster's next row appear?"""

    def __init__(self, h: Harness, name: str, count: int):
        self._h, self._name, self._count = h, name, count
        self._done = threading.Event()
        self.seen_at: float | None = None
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            if len(self._h.snapshots(self._name)) > self._count:
                self.seen_at = time.monotonic()
                return
            self._done.wait(0.02)

    def stop(self, started: float) -> float | None:
        """Seconds from `started` until the row appeared (None: never)."""
        if self.seen_at is None:
            time.sleep(0.05)  # one last look, in case it landed between two polls
        self._done.set()
        self._thread.join(5)
        return None if self.seen_at is None else self.seen_at - started


@pytest.fixture
def harness(emulator, make_collector):
    emu = emulator(
        ClusterSpec("healthy", "3.3", workload=exact_workload(qps=QPS)),
        ClusterSpec("faulty", "3.3", workload=exact_workload(qps=QPS)),
    )
    return Harness(emu, make_collector(cluster_configs(emu), timeout=TIMEOUT))


def assert_readable(reason: str | None, *needles: str) -> None:
    """(3) a one-line reason naming what failed, without Python exception text."""
    assert reason, "a failed round must say why"
    assert "\n" not in reason, reason
    for leak in PYTHON_LEAKS:
        assert leak not in reason, f"{leak!r} in reason: {reason}"
    for needle in needles:
        assert needle in reason, f"{needle!r} not in reason: {reason}"


def assert_clean(h: Harness) -> dict:
    rounds = h.round()
    assert rounds["faulty"][0].status == "ok", rounds["faulty"][0]
    assert rounds["faulty"][0].reason is None
    return rounds


# -- extra checks per fault ----------------------------------------------------------------------
def _fe_follower_down(h: Harness, result, row) -> None:
    follower = h.info["faulty"]["frontends"][1]
    assert follower in result.reason, result.reason
    assert (row["frontend_total"], row["frontend_alive"]) == (2, 1)
    dead = [n for n in h.nodes(row["id"], "FE") if n["host"] == follower]
    assert len(dead) == 1 and dead[0]["alive"] == 0


def _leader_down(h: Harness, result, row) -> None:
    leader = h.info["faulty"]["fe_host"]
    assert leader in result.reason, result.reason
    assert row["frontend_total"] is None and row["qps"] is None  # unknown, not 0


def _be_down(h: Harness, result, row) -> None:
    dead_host = h.info["faulty"]["backends"][1]["host"]
    assert dead_host in result.reason, result.reason
    assert (row["backend_total"], row["backend_alive"]) == (3, 2)
    bes = {n["host"]: n for n in h.nodes(row["id"], "BE")}
    assert len(bes) == 3
    dead = bes[dead_host]
    assert dead["alive"] == 0
    assert dead["cpu_pct"] is None and dead["mem_pct"] is None, dead  # unknown, not 0
    for host, node in bes.items():
        if host != dead_host:
            assert node["alive"] == 1 and node["cpu_pct"] is not None and node["mem_pct"] is not None


def _all_bes_down(h: Harness, result, row) -> None:
    assert (row["backend_total"], row["backend_alive"]) == (3, 0)
    assert row["avg_cpu_usage"] is None and row["avg_memory_usage"] is None  # unknown, not 0
    assert all(h.info["faulty"]["backends"][i]["host"] in result.reason for i in range(3)), result.reason


def _mysql_fallback(h: Harness, result, row) -> None:
    assert row["source"] == "mysql"
    assert (row["frontend_total"], row["frontend_alive"]) == (2, 2)
    assert (row["backend_total"], row["backend_alive"]) == (3, 3)
    assert len(h.nodes(row["id"], "FE")) == 2 and len(h.nodes(row["id"], "BE")) == 3


def _mysql_port_named(h: Harness, result, row) -> None:
    assert f"MySQL port {h.info['faulty']['query_port']}" in result.reason, result.reason


# (fault switches, expected statuses, words the reason must contain, extra check)
FAULTS = [
    pytest.param({"fe_down": [1]}, ("partial",), ("not alive",), _fe_follower_down, id="fe_down_follower"),
    pytest.param({"fe_down": [0]}, ("down",), ("connection refused",), _leader_down, id="fe_down_leader"),
    pytest.param({"be_down": [1]}, ("partial",), ("not alive",), _be_down, id="be_down"),
    pytest.param({"be_down": [0, 1, 2]}, ("partial",), ("not alive",), _all_bes_down, id="all_bes_down"),
    pytest.param({"slow_seconds": 2.0}, ("partial",), ("timed out after 1 s", "/metrics"), None, id="slow"),
    pytest.param({"http_500": True}, ("partial",), ("HTTP 500", "/metrics"), None, id="http_500"),
    pytest.param(
        {"bad_body": "truncated"},
        ("partial",),
        ("closed before the full response", "show_proc", "/metrics"),
        None,
        id="bad_body_truncated",
    ),
    pytest.param(
        {"bad_body": "garbage"}, ("partial",), ("not JSON", "show_proc", "/metrics"), None, id="bad_body_garbage"
    ),
    pytest.param({"proc_forbidden": True}, ("ok",), (), _mysql_fallback, id="proc_forbidden"),
    pytest.param(
        {"mysql_refused": True},
        ("partial",),
        ("MySQL port", "connection refused"),
        _mysql_port_named,
        id="mysql_refused",
    ),
    pytest.param(
        {"proc_forbidden": True, "mysql_refused": True},
        ("partial", "down"),
        ("MySQL port",),
        _mysql_port_named,
        id="proc_forbidden_and_mysql_refused",
    ),
]


@pytest.mark.parametrize("fault, statuses, words, extra", FAULTS)
def test_fault_matrix(harness, fault, statuses, words, extra):
    h = harness
    assert_clean(h)

    h.set_faults(fault)
    result, row = h.round()["faulty"]
    assert result.status in statuses, result
    if result.status == "ok":
        assert result.reason is None
    else:
        assert_readable(result.reason, *words)
    if extra:
        extra(h, result, row)

    h.clear(fault)
    assert_clean(h)


def test_fe_restart_between_rounds(harness):
    """A restarted FE (counters back at zero) gives no negative QPS and no spike."""
    h = harness
    assert_clean(h)
    _, before = h.round()["faulty"]
    leader = h.info["faulty"]["fe_host"]
    total_before = next(n["query_total"] for n in h.nodes(before["id"], "FE") if n["host"] == leader)
    assert total_before

    # Rates come from counter deltas over the time between rounds: leave enough time that
    # integer counters and request timing do not dominate the rate.
    time.sleep(0.5)
    h.emu.restart_fe("faulty", 0)
    time.sleep(0.5)
    result, row = h.round()["faulty"]
    assert (result.status, result.reason) == ("ok", None), result
    assert row["qps"] is not None and 0 <= row["qps"] <= QPS * 1.5, row["qps"]
    fes = {n["host"]: n for n in h.nodes(row["id"], "FE")}
    assert fes[leader]["query_total"] < total_before
    assert all(n["qps"] is not None and n["qps"] >= 0 for n in fes.values()), fes

    # The round after that is plain again (only ~0.1 s later: too short to bound the rate).
    result, row = h.round()["faulty"]
    assert (result.status, result.reason) == ("ok", None), result
    assert row["qps"] is not None and row["qps"] >= 0, row["qps"]


def test_unresolvable_host_is_down_beside_a_healthy_cluster(emulator, make_collector, monkeypatch):
    real = socket.getaddrinfo

    def no_such_host(host, *args, **kwargs):  # the resolver's answer, without waiting on this machine's DNS
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    emu = emulator(ClusterSpec("healthy", "3.3", workload=exact_workload()))
    healthy = cluster_configs(emu)[0]
    nowhere = ClusterConfig(
        name="nowhere",
        fe_host="no-such-host.invalid",
        http_port=healthy.http_port,
        query_port=healthy.query_port,
        user="root",
        password="",
    )
    collector = make_collector((healthy, nowhere), timeout=TIMEOUT)
    results = {r.name: r for r in collector.run_round()}
    assert set(results) == {"healthy", "nowhere"}
    assert (results["healthy"].status, results["healthy"].reason) == ("ok", None), results["healthy"]
    assert results["nowhere"].status == "down", results["nowhere"]
    assert_readable(results["nowhere"].reason, "does not resolve")


SLOW_DNS_HOST = "slow-dns.invalid"
SLOW_DNS_SECONDS = 3.0


def test_slow_dns_neither_overruns_the_timeout_nor_delays_a_healthy_cluster(emulator, make_collector, monkeypatch):
    """A resolver that takes 3 s (the glibc default is 5 s per try) before saying NXDOMAIN."""
    real = socket.getaddrinfo

    def slow_getaddrinfo(host, *args, **kwargs):
        if host in (SLOW_DNS_HOST, SLOW_DNS_HOST.encode()):
            time.sleep(SLOW_DNS_SECONDS)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    emu = emulator(ClusterSpec("healthy", "3.3", workload=exact_workload()))
    healthy = cluster_configs(emu)[0]
    slow = ClusterConfig(
        name="slowdns",
        fe_host=SLOW_DNS_HOST,
        http_port=healthy.http_port,
        query_port=healthy.query_port,
        user="root",
        password="",
    )
    collector = make_collector((slow, healthy), timeout=TIMEOUT)
    results = {r.name: r for r in collector.run_round()}
    assert (results["healthy"].status, results["healthy"].reason) == ("ok", None)
    assert results["slowdns"].status == "down"
    assert results["healthy"].collect_ms < 1000, results["healthy"]
    # Two phases (node lists, then /metrics), each bounded by the timeout.
    assert results["slowdns"].collect_ms < 2 * TIMEOUT * 1000 + 500, results["slowdns"]
