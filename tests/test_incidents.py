"""The emulator's incident switches (issue 18), each flipped through the control API over a real
socket, read back over HTTP and MySQL, and collected: a p99 spike with timeouts, failing loads, an
MV whose refresh fails, a schema change, a disk growth spurt. Expected numbers come from the model."""

from __future__ import annotations

import json
import math
import time

import httpx
import pymysql
import pytest
import sqlalchemy as sa

from starmon import schema
from starmon.emulator import ClusterSpec, auditlog
from starmon.emulator.model import FAILED_LOAD_SHARE, SPIKE_TIMEOUT_SHARE, TXN_PER_SECOND
from starmon.emulator.proc import fe_time
from starmon.parse import parse_prometheus

from .conftest import cluster_configs, exact_workload

INTERVAL = 30
QPS = 100.0


class Cluster:
    """One emulated cluster on a frozen clock, a collector over it, and its control API."""

    def __init__(self, emulator, make_collector):
        start = time.time() - 7200  # in the past, where ranges end
        self.emu = emulator(ClusterSpec("c", workload=exact_workload(qps=QPS)), clock=lambda: start)
        self.model = self.emu.cluster("c")
        self.collector = make_collector(cluster_configs(self.emu), timeout=2.0)
        self.collector.clock = self.model.now
        self.info = self.emu.describe()[0]

    def switch(self, changes: dict) -> httpx.Response:
        return httpx.post(f"{self.emu.control_url}/clusters/c/faults", json=changes, timeout=10)

    def round(self, advance: float = INTERVAL) -> dict:
        """Advance the clock, collect once; the stored snapshot."""
        self.model.advance(advance)
        (result,) = self.collector.run_round()
        assert result.status == "ok", result
        s = schema.metrics_snapshots
        query = sa.select(s).order_by(s.c.id.desc()).limit(1)
        return self.collector.store.read(lambda conn: dict(conn.execute(query).one()._mapping))

    def fe_metrics(self, index: int = 0):
        host = self.info["frontends"][index]
        return parse_prometheus(httpx.get(f"http://{host}:{self.info['http_port']}/metrics", timeout=10).text)

    def be_data_bytes(self, index: int) -> float:
        host = self.info["backends"][index]["host"]
        text = httpx.get(f"http://{host}:{self.info['be_http_port']}/metrics", timeout=10).text
        return parse_prometheus(text).sum("starrocks_be_disks_data_used_capacity")

    def events(self) -> list[tuple[str, str, dict]]:
        e = schema.events
        query = sa.select(e.c.kind, e.c.subject, e.c.details).order_by(e.c.id)
        rows = self.collector.store.read(lambda conn: conn.execute(query).all())
        return [(r.kind, r.subject, json.loads(r.details)) for r in rows]

    def sql(self, statement: str) -> list[dict]:
        conn = pymysql.connect(
            host=self.info["fe_host"], port=self.info["query_port"], user="root", password="", autocommit=True
        )
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture
def cluster(emulator, make_collector):
    c = Cluster(emulator, make_collector)
    c.round()
    return c


def _fe_totals(model, t: float) -> dict[str, int]:
    out: dict[str, int] = {}
    for fe in model.frontends:
        for key, value in model.fe_counters(fe, t).items():
            out[key] = out.get(key, 0) + value
    return out


def test_latency_spike_raises_every_quantile_and_times_queries_out(cluster):
    c, model = cluster, cluster.model
    normal = c.round()
    p99 = max(model.fe_latency(fe, model.now())["99_quantile"] for fe in model.frontends)
    assert normal["query_latency_p99"] == p99 == pytest.approx(model.workload.latency_ms * 1.2 * 8)
    assert normal["query_timeout_rate"] < 0.1

    response = c.switch({"latency_spike": 6})
    assert response.status_code == 200 and response.json()["latency_spike"] == 6.0
    t0 = model.now()
    spiked = c.round()
    assert spiked["query_latency_p99"] == pytest.approx(6 * p99)
    assert c.fe_metrics(1).get("starrocks_fe_query_latency", type="50_quantile") == pytest.approx(
        model.workload.latency_ms * 1.2 * 6**0.5, abs=0.01
    )
    before, after = _fe_totals(model, t0), _fe_totals(model, model.now())
    expected = 100 * (after["query_timeout"] - before["query_timeout"]) / (after["query_total"] - before["query_total"])
    assert spiked["query_timeout_rate"] == pytest.approx(expected)
    assert expected == pytest.approx(100 * (SPIKE_TIMEOUT_SHARE + model.workload.error_fraction / 10), rel=0.02)
    assert spiked["query_error_rate"] >= spiked["query_timeout_rate"]

    assert c.switch({"latency_spike": 1}).json()["latency_spike"] == 1.0
    over = c.round()
    assert over["query_latency_p99"] == pytest.approx(p99) and over["query_timeout_rate"] < 0.1
    assert c.events() == [], "a latency spike is seen in the series, not as an event"
    [episode] = httpx.get(f"{c.emu.control_url}/clusters/c", timeout=10).json()["incidents"]
    assert episode == {"kind": "latency_spike", "start": t0, "value": 6.0, "end": t0 + INTERVAL, "outcome": None}


def _audit(c: Cluster, t0: float) -> list[dict]:
    """The audit log's rows from t0 on, read over MySQL as the workload pass reads them: the model's
    rows up to the plugin's last load (once a minute)."""
    query = f"SELECT stmt, state, errorCode FROM {c.model.audit.table} WHERE `timestamp` >= '{fe_time(t0)}'"
    rows = c.sql(f"{query} ORDER BY `timestamp`, queryId")
    now = c.model.now()
    expected = auditlog.rows_between(c.model, math.floor(t0), now - now % 60)
    assert [(r["stmt"], r["errorCode"]) for r in rows] == [(r["stmt"], r["errorCode"]) for r in expected]
    return rows


def test_latency_spike_and_failing_loads_show_in_the_audit_log(cluster):
    c, model = cluster, cluster.model
    t0 = model.now()
    c.switch({"latency_spike": 6, "fail_loads": True})
    # 1,440 statements, ~90 INSERTs: half of them fail, and with 15 (2 h) "more than 30 %" missed
    # by chance one run in 17 (4 of 15 in a CI run)
    model.advance(12 * 3600)
    rows = _audit(c, t0)
    queries = [r for r in rows if r["stmt"].startswith("SELECT")]
    loads = [r for r in rows if r["stmt"].startswith("INSERT")]
    assert sum(r["errorCode"] == "TIMEOUT" for r in queries) > 0.1 * len(queries)
    assert sum(r["state"] == "ERR" for r in loads) > 0.3 * len(loads) > 0
    c.switch({"latency_spike": 1, "fail_loads": False})
    t2 = model.now()
    model.advance(2 * 3600)
    rows = _audit(c, t2)
    assert sum(r["errorCode"] == "TIMEOUT" for r in rows) < 0.05 * len(rows)
    assert sum(r["state"] == "ERR" for r in rows if r["stmt"].startswith("INSERT")) < 0.1 * len(rows)


def test_failing_loads_grow_failed_transactions_and_cancel_loads(cluster):
    c, model = cluster, cluster.model
    normal = c.round()
    t0 = model.now()
    assert c.switch({"fail_loads": True}).json()["fail_loads"] is True
    failing = c.round(600)
    txn0, txn1 = model.txn_counters(t0), model.txn_counters(model.now())
    assert failing["txn_failed_total"] == txn1["txn_failed"] == c.fe_metrics(0).get("starrocks_fe_txn_failed")
    grew = failing["txn_failed_total"] - normal["txn_failed_total"]
    assert grew == pytest.approx(TXN_PER_SECOND * 600 * (FAILED_LOAD_SHARE + 0.004), abs=2)
    assert txn1["load_cancelled"] - txn0["load_cancelled"] > 0
    cancelled = c.fe_metrics(0).get("starrocks_fe_job", job="load", type="INSERT", state="CANCELLED")
    assert cancelled == txn1["load_cancelled"]  # the leader's load-job gauge counts them too
    assert failing["load_finished_total"] == txn1["load_finished"]
    assert c.switch({"fail_loads": False}).status_code == 200
    after = c.round(600)
    assert after["txn_failed_total"] - failing["txn_failed_total"] == pytest.approx(TXN_PER_SECOND * 600 * 0.004, abs=2)


def test_mv_refresh_failure_and_recovery_are_events(cluster):
    c = cluster
    c.collector.run_statistics()
    assert c.switch({"mv_refresh_failing": True}).json()["mv_refresh_failing"] == "sales.mv_daily_revenue"
    [row] = c.sql(
        "SELECT LAST_REFRESH_STATE, LAST_REFRESH_ERROR_MESSAGE FROM information_schema.materialized_views "
        "WHERE TABLE_NAME = 'mv_daily_revenue'"
    )
    assert row["LAST_REFRESH_STATE"] == "FAILED" and "exceed limit" in row["LAST_REFRESH_ERROR_MESSAGE"]
    c.round()
    c.collector.run_statistics()
    c.round()
    c.collector.run_statistics()  # still failing: no second event
    assert c.switch({"mv_refresh_failing": None}).status_code == 200
    c.round()
    c.collector.run_statistics()
    assert [(k, s) for k, s, _ in c.events()] == [
        ("mv_refresh_failed", "sales.mv_daily_revenue"),
        ("mv_recovered", "sales.mv_daily_revenue"),
    ]
    assert "exceed limit" in c.events()[0][2]["error"]


def test_schema_change_starts_runs_and_finishes_or_is_cancelled(cluster):
    c = cluster
    c.collector.run_statistics()
    assert c.switch({"schema_change": "start"}).json()["schema_change"] == "sales.customers"
    refused = c.switch({"schema_change": "finance.ledger"})
    assert refused.status_code == 400 and "sales.customers is running" in refused.json()["error"]
    c.round(3600)  # an hour into the default four
    [job] = [r for r in c.sql("SHOW ALTER TABLE COLUMN FROM sales") if r["TableName"] == "customers"]
    assert (job["State"], job["Progress"], job["FinishTime"]) == ("RUNNING", "25%", "NULL")
    running = [r for r in c.sql("SHOW ALTER TABLE COLUMN FROM sales") if r["State"] == "RUNNING"]
    gauge = c.fe_metrics(0).get("starrocks_fe_job", job="alter", type="SCHEMA_CHANGE", state="running")
    assert gauge == len(running) >= 1  # the leader's alter-job gauge counts the switched-on job
    c.collector.run_statistics()
    assert c.switch({"schema_change": "finish"}).json()["schema_change"] is None
    c.round()
    [job] = [r for r in c.sql("SHOW ALTER TABLE COLUMN FROM sales") if r["TableName"] == "customers"]
    assert job["State"] == "FINISHED" and job["FinishTime"] != "NULL"
    c.collector.run_statistics()
    assert c.switch({"schema_change": "finance.ledger"}).status_code == 200
    c.round()
    c.collector.run_statistics()
    c.switch({"schema_change": "cancel"})
    c.round()
    c.collector.run_statistics()
    assert [(k, s) for k, s, _ in c.events() if k.startswith("schema_change")] == [
        ("schema_change_started", "sales.customers"),
        ("schema_change_finished", "sales.customers"),
        ("schema_change_started", "finance.ledger"),
        ("schema_change_failed", "finance.ledger"),
    ]


def test_disk_spurt_grows_one_be_faster_then_back_to_normal(cluster):
    c, model = cluster, cluster.model
    hour = 3600.0
    rate = {i: model.be_disk_rate(be) / 86400 * hour for i, be in enumerate(model.backends)}
    start = {i: c.be_data_bytes(i) for i in rate}
    assert c.switch({"disk_spurt": {"index": 1, "factor": 5}}).json()["disk_spurt"] == {"index": 1, "factor": 5.0}
    c.round(hour)
    spurt = {i: c.be_data_bytes(i) for i in rate}
    assert spurt[1] - start[1] == pytest.approx(5 * rate[1], rel=1e-6)
    assert spurt[0] - start[0] == pytest.approx(rate[0], rel=1e-6)
    assert c.switch({"disk_spurt": None}).json()["disk_spurt"] is None
    c.round(hour)
    assert c.be_data_bytes(1) - spurt[1] == pytest.approx(rate[1], rel=1e-6)
    # a bare factor applies to every BE
    c.switch({"disk_spurt": 3})
    before = {i: c.be_data_bytes(i) for i in rate}
    c.round(hour)
    assert all(c.be_data_bytes(i) - before[i] == pytest.approx(3 * rate[i], rel=1e-6) for i in rate)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"latency_spike": 0.5}, "latency_spike is a factor from 1"),
        ({"latency_spike": "fast"}, "latency_spike must be a number"),
        ({"fail_loads": "maybe"}, "expected true or false"),
        ({"mv_refresh_failing": "sales.nope"}, "sales.mv_daily_revenue"),
        ({"schema_change": "sales.nope"}, "schema_change must be 'start'"),
        ({"disk_spurt": {"index": "a", "factor": 2}}, "disk_spurt index must be a BE index"),
        ({"disk_spurt": {"factor": 2, "size": 1}}, "disk_spurt takes 'index' and 'factor'"),
        ({"disk_spurt": 0}, "disk_spurt factor must be from 1"),
        ({"disk_spurt": {"index": 7, "factor": 2}}, "has no BE/CN 7"),
        ({"latency_spike": 4, "fail_loads": "maybe"}, "expected true or false"),
    ],
)
def test_bad_incident_values_are_refused_and_change_nothing(emulator, changes, words):
    emu = emulator(ClusterSpec("c", workload=exact_workload()))
    response = httpx.post(f"{emu.control_url}/clusters/c/faults", json=changes, timeout=10)
    assert response.status_code == 400 and words in response.json()["error"]
    faults = httpx.get(f"{emu.control_url}/clusters/c", timeout=10).json()["faults"]
    assert (faults["latency_spike"], faults["fail_loads"], faults["disk_spurt"]) == (1.0, False, None)
    assert emu.cluster("c").episodes == []
