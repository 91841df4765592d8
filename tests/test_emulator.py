"""The emulator is faithful to what real StarRocks FEs and BEs serve (REFERENCE.md §1-§9).

Everything here goes over real loopback sockets: httpx for HTTP, pymysql for MySQL.
One module-scoped emulator plays every version profile; tests that move the clock,
restart an FE or need several clusters start their own (cheap) emulator.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time

import httpx
import pymysql
import pytest
from pymysql.cursors import DictCursor

from starmon.emulator import ClusterSpec, Emulator
from starmon.emulator.faults import INCIDENT_OFF
from starmon.emulator.profiles import FRONTEND_COLUMNS, PROFILES
from starmon.parse import parse_prometheus, parse_size

from .conftest import exact_workload

ROOT = ("root", "")
MONITOR = ("monitor", "monitor")
SIZE_RE = re.compile(r"^\d+\.\d{3} (B|KB|MB|GB|TB)$")
PCT_RE = re.compile(r"^\d+\.\d{2} %$")
CPU_PCT_RE = re.compile(r"^\d+\.\d %$")
MEMLIMIT_RE = re.compile(r"^\d+\.\d{3}[KMGT]?B$")
SIZE_COLUMNS = ("DataUsedCapacity", "AvailCapacity", "TotalCapacity", "DataTotalCapacity")
PCT_COLUMNS = ("UsedPct", "MaxDiskUsedPct", "DataUsedPct")
NO_FAULTS = {
    "fe_down": [],
    "be_down": [],
    "slow_seconds": 0,
    "http_500": False,
    "bad_body": None,
    "proc_forbidden": False,
    "mysql_refused": False,
    **INCIDENT_OFF,
}

CLUSTERS = {"a": "3.3", "v25": "2.5", "v31": "3.1", "v34": "3.4", "sd": "shared-data", "f": "3.3"}


# ---------------------------------------------------------------------------- fixtures/helpers


@pytest.fixture(scope="module")
def emu():
    """One emulator with a cluster per profile, plus 'f' whose faults tests may flip."""
    em = Emulator([ClusterSpec(name, profile=profile) for name, profile in CLUSTERS.items()]).start()
    yield em
    em.stop()


@pytest.fixture
def faulty(emu):
    """Cluster 'f' of the shared emulator; every fault switch is cleared afterwards."""
    yield emu
    emu.set_faults("f", NO_FAULTS)


def info(em: Emulator, name: str) -> dict:
    return next(d for d in em.describe() if d["name"] == name)


def fe_url(em: Emulator, name: str, index: int = 0, path: str = "/metrics") -> str:
    d = info(em, name)
    return f"http://{d['frontends'][index]}:{d['http_port']}{path}"


def be_url(em: Emulator, name: str, index: int = 0, path: str = "/metrics") -> str:
    d = info(em, name)
    return f"http://{d['backends'][index]['host']}:{d['be_http_port']}{path}"


def get(url: str, auth: tuple[str, str] | None = None, **kwargs) -> httpx.Response:
    return httpx.get(url, auth=auth, timeout=kwargs.pop("timeout", 5.0), **kwargs)


def show_proc(em: Emulator, name: str, path: str, index: int = 0, auth=ROOT) -> httpx.Response:
    return get(fe_url(em, name, index, "/api/show_proc"), auth=auth, params={"path": path})


def proc_json(em: Emulator, name: str, path: str, index: int = 0):
    response = show_proc(em, name, path, index)
    assert response.status_code == 200, response.text
    return response.json()


@contextlib.contextmanager
def mysql(
    em: Emulator, name: str, *, index: int = 0, user: str = "root", password: str = "", database: str | None = None
):
    d = info(em, name)
    conn = pymysql.connect(
        host=d["frontends"][index],
        port=d["query_port"],
        user=user,
        password=password,
        database=database,
        cursorclass=DictCursor,
        connect_timeout=5,
        read_timeout=10,
    )
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def query(em: Emulator, name: str, sql: str, **kwargs) -> tuple[list[str], list[dict]]:
    with mysql(em, name, **kwargs) as cur:
        cur.execute(sql)
        return [c[0] for c in cur.description], list(cur.fetchall())


def sample_names(text: str) -> list[str]:
    """Metric name of every series line, in output order."""
    return [re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")]


def value_of(text: str, line_prefix: str) -> float:
    """Value of the single series line starting with exactly `line_prefix` + ' '."""
    found = [line for line in text.splitlines() if line.startswith(line_prefix + " ")]
    assert len(found) == 1, (line_prefix, found)
    return float(found[0].rsplit(" ", 1)[1])


def control(em: Emulator, method: str, path: str, body: object | None = None) -> httpx.Response:
    return httpx.request(method, em.control_url + path, json=body, timeout=10.0)


def fe_metric_sum(em: Emulator, name: str, metric: str) -> float:
    total = 0.0
    for i in range(len(info(em, name)["frontends"])):
        parsed = parse_prometheus(get(fe_url(em, name, i)).text)
        value = parsed.get(metric)
        assert value is not None, metric
        total += value
    return total


# ---------------------------------------------------------------------------- FE /metrics


def test_fe_metrics_unauthenticated_text_plain_with_fe_quirks(emu):
    response = get(fe_url(emu, "a"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    text = response.text
    lines = text.splitlines()
    assert "# HELP  jvm_heap_size_bytes jvm heap stat" in lines
    assert "# TYPE  jvm_heap_size_bytes gauge" in lines
    assert "# TYPE  node_info gauge" in lines
    assert not any(line.startswith("# HELP") and "node_info" in line for line in lines)
    assert lines[0].startswith("# HELP  jvm_"), "the JVM block comes first"
    # JVM and node_info are unprefixed; everything else carries starrocks_fe_.
    names = set(sample_names(text))
    assert {"jvm_heap_size_bytes", "jvm_thread", "node_info", "starrocks_fe_query_total"} <= names
    assert all(n.startswith(("jvm_", "node_info", "starrocks_fe_")) for n in names)

    multi = [line for line in lines if line.startswith("starrocks_fe_") and line.count('="') >= 2]
    assert multi, "some FE series carry several labels"
    assert all('", ' in line and not re.search(r'",[a-z_]', line) for line in multi)
    assert 'starrocks_fe_job{job="alter", type="SCHEMA_CHANGE", state="running"} 1' in lines
    node_multi = [line for line in lines if line.startswith("node_info{") and line.count('="') >= 2]
    assert node_multi and all('", ' in line for line in node_multi)

    parsed = parse_prometheus(text)
    assert parsed.bad_lines == 0
    assert len(parsed) > 60
    assert parsed.get("jvm_heap_size_bytes", type="max") == 8 * 1024**3


def test_fe_metrics_series_are_non_contiguous_and_headers_printed_once(emu):
    text = get(fe_url(emu, "a")).text
    lines = text.splitlines()
    names = sample_names(text)

    def blocks(name: str) -> int:
        return sum(1 for i, n in enumerate(names) if n == name and (i == 0 or names[i - 1] != name))

    split = {n for n in names if blocks(n) > 1}
    assert split, "the PriorityQueue array order splits at least one family"
    assert "starrocks_fe_job" in split
    first = names.index("starrocks_fe_job")
    last = len(names) - 1 - names[::-1].index("starrocks_fe_job")
    assert any(not n.startswith("starrocks_fe_job") for n in names[first:last]), "another family in between"

    for name in set(names):
        if name.endswith(("_sum", "_count")) and name.rsplit("_", 1)[0] in names:
            continue
        family = name
        helps = [ln for ln in lines if re.match(rf"# HELP +{re.escape(family)}( |$)", ln)]
        types = [ln for ln in lines if re.match(rf"# TYPE +{re.escape(family)} ", ln)]
        assert len(types) == 1, (family, types)
        assert len(helps) == (0 if family == "node_info" else 1), (family, helps)
        # the header precedes the family's first series
        assert lines.index(types[0]) < next(
            i for i, ln in enumerate(lines) if re.match(rf"{re.escape(family)}[{{ ]", ln)
        )
    assert "# TYPE starrocks_fe_query_total counter" in lines
    assert "# TYPE starrocks_fe_qps gauge" in lines
    assert "# HELP starrocks_fe_query_latency_ms " in lines, "empty description keeps its trailing space"
    quantiles = {labels.get("quantile") for labels, _ in parse_prometheus(text).series("starrocks_fe_query_latency_ms")}
    assert quantiles == {"0.75", "0.95", "0.98", "0.99", "0.999"}, "no p50/p90 in the summary"


def test_fe_leader_only_metrics(emu):
    leader, follower = get(fe_url(emu, "a", 0)).text, get(fe_url(emu, "a", 1)).text
    assert 'node_info{type="is_master"} 1' in leader.splitlines()
    assert "is_master" not in follower

    model = emu.cluster("a")
    lm, fm = parse_prometheus(leader), parse_prometheus(follower)
    backends = lm.series("starrocks_fe_tablet_num")
    assert len(backends) == len(model.backends)
    assert {labels["backend"] for labels, _ in backends} == {f"{be.host}:9050" for be in model.backends}
    assert all(v > 0 for _, v in backends)
    assert [v for _, v in fm.series("starrocks_fe_tablet_num")] == [0.0] * len(model.backends)
    for metric in ("starrocks_fe_max_tablet_compaction_score", "starrocks_fe_txn_begin"):
        assert lm.get(metric) > 0, metric
        assert fm.get(metric) == 0, metric
    assert all(v == 0 for _, v in fm.series("starrocks_fe_job"))
    assert lm.get("starrocks_fe_job", type="SCHEMA_CHANGE") == 1
    # per-FE metrics are served by both
    assert lm.get("starrocks_fe_query_total") > 0 and fm.get("starrocks_fe_query_total") > 0
    assert (
        lm.get("node_info", type="fe_node_num", state="total")
        == fm.get("node_info", type="fe_node_num", state="total")
        == 2
    )


def test_fe_counters_match_model_and_grow_over_time(emu):
    model = emu.cluster("a")
    fe = model.frontends[1]
    before = parse_prometheus(get(fe_url(emu, "a", 1)).text)
    lo = model.fe_counters(fe, model.now())["query_total"]
    time.sleep(1.05)
    after = parse_prometheus(get(fe_url(emu, "a", 1)).text)
    hi = model.fe_counters(fe, model.now())["query_total"]
    q0, q1 = before.get("starrocks_fe_query_total"), after.get("starrocks_fe_query_total")
    assert q1 > q0, "a second of default workload adds queries"
    assert q1 <= hi and q0 <= lo + 1
    for name in ("request_total", "query_err", "query_success", "slow_query", "edit_log_write"):
        assert after.get(f"starrocks_fe_{name}") >= before.get(f"starrocks_fe_{name}"), name


def test_counters_grow_with_advance_and_reset_on_restart(emulator):
    em = emulator(ClusterSpec("c", profile="3.3"))
    m0 = parse_prometheus(get(fe_url(em, "c", 0)).text)
    be0 = parse_prometheus(get(be_url(em, "c", 0)).text)
    response = control(em, "POST", "/clusters/c/advance", {"seconds": 3600})
    assert response.status_code == 200
    m1 = parse_prometheus(get(fe_url(em, "c", 0)).text)
    be1 = parse_prometheus(get(be_url(em, "c", 0)).text)
    for name in ("query_total", "request_total", "query_success", "txn_begin", "load_add", "edit_log_write"):
        assert m1.get(f"starrocks_fe_{name}") > m0.get(f"starrocks_fe_{name}"), name
    for mode in ("user", "system", "idle"):
        assert be1.get("starrocks_be_cpu", mode=mode) > be0.get("starrocks_be_cpu", mode=mode), mode
    assert be1.get("starrocks_be_query_scan_bytes") > be0.get("starrocks_be_query_scan_bytes")

    follower_before = parse_prometheus(get(fe_url(em, "c", 1)).text).get("starrocks_fe_query_total")
    assert m1.get("starrocks_fe_query_total") > 100_000, "three days of uptime"
    em.restart_fe("c", 0)
    m2 = parse_prometheus(get(fe_url(em, "c", 0)).text)
    assert m2.get("starrocks_fe_query_total") < 50, "a restarted FE counts from zero"
    assert m2.get("starrocks_fe_request_total") < 100
    assert m2.get("starrocks_fe_txn_begin") < 10, "the leader's txn counters restart too"
    assert parse_prometheus(get(fe_url(em, "c", 1)).text).get("starrocks_fe_query_total") >= follower_before

    # the control API restarts the follower the same way
    assert control(em, "POST", "/clusters/c/restart_fe", {"index": 1}).status_code == 200
    assert parse_prometheus(get(fe_url(em, "c", 1)).text).get("starrocks_fe_query_total") < 50
    assert control(em, "POST", "/clusters/c/restart_fe", {"index": 7}).status_code == 400
    # and they grow again from there
    control(em, "POST", "/clusters/c/advance", {"seconds": 60})
    assert parse_prometheus(get(fe_url(em, "c", 0)).text).get("starrocks_fe_query_total") > 100


def test_exact_workload_qps_and_query_total_growth(emulator):
    em = emulator(ClusterSpec("x", profile="3.3", workload=exact_workload(qps=100)))
    assert fe_metric_sum(em, "x", "starrocks_fe_qps") == pytest.approx(100, abs=1e-6)
    model = em.cluster("x")
    assert sum(model.fe_qps_gauge(fe, model.now()) for fe in model.frontends) == pytest.approx(100, abs=1e-6)

    before = fe_metric_sum(em, "x", "starrocks_fe_query_total")
    cpu0 = parse_prometheus(get(be_url(em, "x", 1)).text)
    assert control(em, "POST", "/clusters/x/advance", {"seconds": 3600}).status_code == 200
    after = fe_metric_sum(em, "x", "starrocks_fe_query_total")
    cpu1 = parse_prometheus(get(be_url(em, "x", 1)).text)
    assert after - before == pytest.approx(360_000, rel=0.005)
    assert fe_metric_sum(em, "x", "starrocks_fe_qps") == pytest.approx(100, abs=1e-6)

    # BE CPU jiffies: busy share of the hour equals the model's busy fraction
    delta = {
        labels["mode"]: v - cpu0.get("starrocks_be_cpu", mode=labels["mode"])
        for labels, v in cpu1.series("starrocks_be_cpu")
    }
    busy = 1 - delta["idle"] / sum(delta.values())
    be = model.backends[1]
    assert busy == pytest.approx(model.be_cpu_busy(be, model.now()), rel=0.01)
    assert sum(delta.values()) == pytest.approx(be.cores * 100 * 3600, rel=0.01)


# ---------------------------------------------------------------------------- BE /metrics


def test_be_metrics_format(emu):
    response = get(be_url(emu, "a", 0))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4"
    text = response.text
    lines = text.splitlines()
    assert "# HELP" not in text
    comments = [line for line in lines if line.startswith("#")]
    assert comments and all(re.fullmatch(r"# TYPE starrocks_be_\w+ (counter|gauge)", c) for c in comments)
    assert "# TYPE starrocks_be_cpu counter" in lines
    multi = [line for line in lines if line.count('="') >= 2]
    assert multi and all(re.search(r'",[a-z_]', line) and '", ' not in line for line in multi)
    assert 'starrocks_be_engine_requests_total{type="base_compaction",status="failed"} 0' in lines
    parsed = parse_prometheus(text)
    assert parsed.bad_lines == 0
    modes = {labels["mode"] for labels, _ in parsed.series("starrocks_be_cpu")}
    assert modes == {"user", "nice", "system", "idle", "iowait", "irq", "soft_irq", "steal", "guest", "guest_nice"}
    assert parsed.get("starrocks_be_cpu", mode="idle") > 0
    model = emu.cluster("a")
    be = model.backends[0]
    assert parsed.sum("starrocks_be_disks_total_capacity") == pytest.approx(
        model.be_disk(be, model.now())["total"], rel=1e-6
    )
    assert all(n.startswith("starrocks_be_") for n in sample_names(text))
    assert get(be_url(emu, "a", 0, "/nope")).status_code == 404


# ---------------------------------------------------------------------------- show_proc auth


def test_show_proc_without_auth(emu):
    response = get(fe_url(emu, "a", 0, "/api/show_proc"), params={"path": "/backends"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm=""'
    body = response.json()
    assert body == {
        "status": "FAILED",
        "code": "1",
        "msg": "Need auth information.",
        "message": "Need auth information.",
    }
    assert list(body) == ["status", "code", "msg", "message"]


def test_show_proc_wrong_password(emu):
    response = show_proc(emu, "a", "/backends", auth=("root", "wrong"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm=""'
    assert response.json()["msg"] == "Access denied for root@127.0.0.1"
    # a user@host spelling is accepted for valid credentials
    header = "Basic " + base64.b64encode(b"root@%:").decode()
    ok = get(fe_url(emu, "a", 0, "/api/show_proc"), params={"path": "/frontends"}, headers={"Authorization": header})
    assert ok.status_code == 200 and len(ok.json()) == 2


def test_show_proc_non_admin_user(emu):
    response = show_proc(emu, "a", "/backends", auth=MONITOR)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm=""'
    assert response.content == b'{"status":"FAILED","code":"1"}'


def test_show_proc_unknown_path_and_unknown_url(emu):
    response = show_proc(emu, "a", "/no/such/proc")
    assert response.status_code == 200
    assert response.content == b"[]"
    assert "application/json" not in response.headers.get("content-type", "")

    anonymous = get(fe_url(emu, "a", 0, "/api/nope"))
    assert anonymous.status_code == 401
    assert "Need auth information" in anonymous.text
    assert anonymous.headers["www-authenticate"] == 'Basic realm=""'
    denied = get(fe_url(emu, "a", 0, "/api/nope"), auth=("root", "bad"))
    assert denied.status_code == 401 and "Access denied for root@" in denied.text
    found = get(fe_url(emu, "a", 0, "/api/nope"), auth=ROOT)
    assert found.status_code == 404
    assert "this is 404 page." in found.text


def test_show_runtime_info_needs_no_auth(emu):
    response = get(fe_url(emu, "a", 1, "/api/show_runtime_info"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"free_mem", "total_mem", "thread_cnt", "max_mem"}
    assert all(isinstance(v, str) and v.isdigit() for v in body.values())
    assert int(body["free_mem"]) < int(body["total_mem"]) <= int(body["max_mem"])


# ---------------------------------------------------------------------------- show_proc by profile


def check_backend_formats(row: dict) -> None:
    for column in SIZE_COLUMNS:
        assert SIZE_RE.match(row[column]), (column, row[column])
    for column in PCT_COLUMNS:
        assert PCT_RE.match(row[column]), (column, row[column])
    if "MemUsedPct" in row:
        assert PCT_RE.match(row["MemUsedPct"]), row["MemUsedPct"]
        assert CPU_PCT_RE.match(row["CpuUsedPct"]), row["CpuUsedPct"]
    status = json.loads(row["Status"])
    assert isinstance(status, dict) and "lastSuccessReportTabletsTime" in status
    assert row["Alive"] in ("true", "false")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["LastHeartbeat"])


def test_backends_25_is_list_of_lists(emu):
    rows = proc_json(emu, "v25", "/backends")
    columns = PROFILES["2.5"].backend_columns
    assert len(columns) == 23 and columns[-1] == "CpuCores"
    assert isinstance(rows, list) and len(rows) == 3
    assert all(isinstance(r, list) and len(r) == 23 and all(isinstance(v, str) for v in r) for r in rows)
    for values in rows:
        check_backend_formats(dict(zip(columns, values)))
    ips = [r[1] for r in rows]
    assert ips == sorted(ips, key=lambda ip: tuple(map(int, ip.split("."))))
    assert ips == [b["host"] for b in info(emu, "v25")["backends"]]


def test_backends_31_objects_with_usage_columns(emu):
    rows = proc_json(emu, "v31", "/backends")
    assert len(rows) == 3 and all(isinstance(r, dict) for r in rows)
    for row in rows:
        assert all(isinstance(v, str) for v in row.values())
        assert list(row)[-4:] == ["CpuCores", "NumRunningQueries", "MemUsedPct", "CpuUsedPct"]
        assert "MemLimit" not in row and "DataCacheMetrics" not in row and "StatusCode" not in row
        check_backend_formats(row)


def test_backends_33_has_datacache_and_location(emu):
    rows = proc_json(emu, "a", "/backends")
    model = emu.cluster("a")
    assert len(rows) == len(model.backends)
    for row in rows:
        assert list(row)[-2:] == ["DataCacheMetrics", "Location"]
        assert "MemLimit" not in row and "StatusCode" not in row and "location" not in row
        assert row["Version"] == "3.3.5-6d81f75"
        assert row["Alive"] == "true" and row["ErrMsg"] == ""
        check_backend_formats(row)
    total = sum(parse_size(r["TotalCapacity"]) for r in rows)
    expected = sum(model.be_disk(be, model.now())["total"] for be in model.backends)
    assert total == pytest.approx(expected, rel=1e-3)
    tablets = {r["IP"]: int(r["TabletNum"]) for r in rows}
    assert tablets == {be.host: be.tablets for be in model.backends}


def test_backends_34_memlimit_after_cpucores_and_statuscode_last(emu):
    rows = proc_json(emu, "v34", "/backends")
    assert len(rows) == 3
    for row in rows:
        keys = list(row)
        assert keys[keys.index("CpuCores") + 1] == "MemLimit"
        assert keys[-1] == "StatusCode" and row["StatusCode"] == "OK"
        assert MEMLIMIT_RE.match(row["MemLimit"]), row["MemLimit"]
        assert " " not in row["MemLimit"]
        assert parse_size(row["MemLimit"]) == pytest.approx(57.012 * 1024**3, rel=1e-4)
        check_backend_formats(row)


def test_shared_data_has_compute_nodes_only(emu):
    assert proc_json(emu, "sd", "/backends") == []
    rows = proc_json(emu, "sd", "/compute_nodes")
    assert len(rows) == 3
    for row in rows:
        keys = list(row)
        assert keys[0] == "ComputeNodeId"
        assert keys[-4:] == ["StarletPort", "WorkerId", "WarehouseName", "TabletNum"]
        assert row["StarletPort"] == "9070" and row["WarehouseName"] == "default_warehouse"
        assert keys[keys.index("CpuCores") + 1] == "MemLimit" and MEMLIMIT_RE.match(row["MemLimit"])
        assert CPU_PCT_RE.match(row["CpuUsedPct"]) and PCT_RE.match(row["MemUsedPct"])
    assert sorted(r["WorkerId"] for r in rows) == ["1", "2", "3"]
    # shared-nothing clusters have no compute nodes
    assert proc_json(emu, "a", "/compute_nodes") == []


def test_frontends_rows(emu):
    d = info(emu, "a")
    for index in (0, 1):
        rows = proc_json(emu, "a", "/frontends", index)
        assert [list(r) for r in rows] == [list(FRONTEND_COLUMNS)] * 2
        assert [r["IP"] for r in rows] == d["frontends"]
        assert all(r["HttpPort"] == str(d["http_port"]) for r in rows)
        assert all(r["QueryPort"] == str(d["query_port"]) for r in rows)
        assert [r["Role"] for r in rows] == ["LEADER", "FOLLOWER"]
        assert all(r["Alive"] == "true" and r["Version"] == "3.3.5-6d81f75" for r in rows)
        assert all(r["Name"].startswith(f"{r['IP']}_9010_") for r in rows)
    old = proc_json(emu, "v25", "/frontends")
    assert isinstance(old[0], list) and len(old[0]) == len(FRONTEND_COLUMNS) and old[0][6] == "LEADER"


def test_other_proc_paths(emu):
    stats = proc_json(emu, "a", "/statistic")
    assert stats[-1]["DbId"] == "Total" and stats[-1]["DbName"] == str(len(stats) - 1)
    names = [r["DbName"] for r in stats[:-1]]
    assert names == sorted(names)
    queries = proc_json(emu, "v34", "/current_queries")
    assert queries and list(queries[0])[:2] == ["StartTime", "feIp"]
    assert re.fullmatch(r"\d+\.\d{3} s", queries[0]["ExecTime"])
    dbs = proc_json(emu, "a", "/dbs")
    assert dbs and dbs[0]["Quota"] == "8388608.000 TB"


# ---------------------------------------------------------------------------- MySQL wire


def test_mysql_current_version(emu):
    for name, version in (("a", "3.3.5 6d81f75"), ("v25", "2.5.22 a6e4e1b"), ("v34", "3.4.1 abcdef0")):
        columns, rows = query(emu, name, "SELECT current_version()")
        assert len(rows) == 1 and list(rows[0].values()) == [version]
    with mysql(emu, "a") as cur:
        cur.execute("SELECT @@version_comment")
        assert list(cur.fetchone().values()) == ["StarRocks version 3.3.5"]


@pytest.mark.parametrize("name", ["v25", "v31", "a", "v34"])
def test_mysql_show_backends_matches_show_proc(emu, name):
    columns, rows = query(emu, name, "SHOW BACKENDS")
    proc = proc_json(emu, name, "/backends")
    assert columns == list(PROFILES[CLUSTERS[name]].backend_columns)
    if isinstance(proc[0], dict):
        assert columns == list(proc[0])
    else:
        assert len(columns) == len(proc[0]) == 23
        proc = [dict(zip(columns, r)) for r in proc]
    assert [r["BackendId"] for r in rows] == [p["BackendId"] for p in proc]
    assert [r["IP"] for r in rows] == [p["IP"] for p in proc]
    assert [r["TotalCapacity"] for r in rows] == [p["TotalCapacity"] for p in proc]
    assert all(isinstance(v, str) for r in rows for v in r.values())


def test_mysql_show_frontends_and_compute_nodes(emu):
    d = info(emu, "a")
    columns, rows = query(emu, "a", "SHOW FRONTENDS", index=1)
    assert columns == list(FRONTEND_COLUMNS)
    assert [r["IP"] for r in rows] == d["frontends"]
    assert [r["Role"] for r in rows] == ["LEADER", "FOLLOWER"]
    assert all(r["HttpPort"] == str(d["http_port"]) for r in rows)

    columns, rows = query(emu, "sd", "SHOW COMPUTE NODES")
    assert columns == list(proc_json(emu, "sd", "/compute_nodes")[0])
    assert [r["IP"] for r in rows] == [b["host"] for b in info(emu, "sd")["backends"]]
    assert query(emu, "sd", "SHOW BACKENDS")[1] == []


def test_mysql_show_processlist_per_profile(emu):
    old_columns, old_rows = query(emu, "v25", "SHOW PROCESSLIST")
    assert old_columns == ["Id", "User", "Host", "Db", "Command", "ConnectionStartTime", "Time", "State", "Info"]
    assert old_rows
    new_columns, new_rows = query(emu, "a", "SHOW FULL PROCESSLIST")
    assert new_columns == old_columns + ["IsPending"]
    assert new_rows and {r["Command"] for r in new_rows} <= {"Query", "Sleep"}
    model = emu.cluster("a")
    assert len(new_rows) == model.fe_connections(model.leader, model.now())


def test_mysql_show_alter_table_column(emu):
    columns, rows = query(emu, "a", "SHOW ALTER TABLE COLUMN FROM sales")
    assert columns[:2] == ["JobId", "TableName"] and "State" in columns and "Progress" in columns
    running = [r for r in rows if r["State"] == "RUNNING"]
    assert running and running[0]["TableName"] == "order_items"
    # the database may also come from the connection
    _, rows = query(emu, "a", "SHOW ALTER TABLE COLUMN", database="sales")
    assert [r["State"] for r in rows] == ["RUNNING"]
    with pytest.raises(pymysql.MySQLError) as exc:
        query(emu, "a", "SHOW ALTER TABLE COLUMN")
    assert exc.value.args[0] == 1046


def test_mysql_information_schema_tables(emu):
    sql = (
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, DATA_LENGTH FROM information_schema.tables "
        "WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY DATA_LENGTH DESC LIMIT 100"
    )
    columns, rows = query(emu, "a", sql)
    assert columns == ["TABLE_SCHEMA", "TABLE_NAME", "TABLE_ROWS", "DATA_LENGTH"]
    assert len(rows) >= 10
    sizes = [int(r["DATA_LENGTH"]) for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] > 1024**4, "largest table > 1 TB"
    assert sizes[-1] < 1024**2, "smallest table < 1 MB"
    assert all(r["TABLE_SCHEMA"] != "information_schema" for r in rows)
    assert all(int(r["TABLE_ROWS"]) >= 0 for r in rows)

    _, limited = query(
        emu,
        "a",
        "SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = 'sales' ORDER BY TABLE_NAME LIMIT 2",
    )
    assert [r["TABLE_NAME"] for r in limited] == ["customers", "order_items"]
    _, one = query(
        emu,
        "a",
        "SELECT ENGINE, TABLE_CATALOG FROM information_schema.tables "
        "WHERE TABLE_SCHEMA = 'finance' AND TABLE_NAME = 'ledger'",
    )
    assert one == [{"ENGINE": "StarRocks", "TABLE_CATALOG": "def"}]


def test_mysql_information_schema_materialized_views(emu):
    _, rows = query(
        emu,
        "a",
        "SELECT TABLE_SCHEMA, TABLE_NAME, IS_ACTIVE, INACTIVE_REASON, LAST_REFRESH_STATE "
        "FROM information_schema.materialized_views",
    )
    states = {r["LAST_REFRESH_STATE"] for r in rows}
    assert {"SUCCESS", "FAILED", "RUNNING"} <= states
    inactive = [r for r in rows if r["IS_ACTIVE"] == "false"]
    assert len(inactive) == 1 and inactive[0]["INACTIVE_REASON"]
    assert {r["IS_ACTIVE"] for r in rows} == {"true", "false"}


def test_mysql_information_schema_partitions_meta_and_tables_config(emu):
    columns, rows = query(
        emu,
        "a",
        "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, DATA_SIZE, ROW_COUNT, MAX_CS "
        "FROM information_schema.partitions_meta WHERE DB_NAME = 'sales' LIMIT 5",
    )
    assert columns == ["DB_NAME", "TABLE_NAME", "PARTITION_NAME", "DATA_SIZE", "ROW_COUNT", "MAX_CS"]
    assert 0 < len(rows) <= 5 and all(r["DB_NAME"] == "sales" for r in rows)
    with pytest.raises(pymysql.MySQLError) as exc:
        query(emu, "v25", "SELECT * FROM information_schema.partitions_meta")
    assert exc.value.args[0] == 1109

    columns, rows = query(
        emu,
        "v25",
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_MODEL, DISTRIBUTE_BUCKET "
        "FROM information_schema.tables_config WHERE TABLE_NAME = 'orders_fact'",
    )
    assert rows == [
        {
            "TABLE_SCHEMA": "sales",
            "TABLE_NAME": "orders_fact",
            "TABLE_MODEL": "DUP_KEYS",
            "DISTRIBUTE_BUCKET": rows[0]["DISTRIBUTE_BUCKET"],
        }
    ]
    assert int(rows[0]["DISTRIBUTE_BUCKET"]) == 96


def test_mysql_wrong_password_and_unknown_user(emu):
    d = info(emu, "a")
    for user, password in (("root", "nope"), ("nobody", "")):
        with pytest.raises(pymysql.err.OperationalError) as exc:
            pymysql.connect(host=d["fe_host"], port=d["query_port"], user=user, password=password, connect_timeout=5)
        assert exc.value.args[0] == 1045
    # the monitor account is a valid MySQL user
    _, rows = query(emu, "a", "SELECT current_version()", user="monitor", password="monitor")
    assert rows


# ---------------------------------------------------------------------------- faults over sockets


def test_fault_fe_down(faulty):
    em = faulty
    d = info(em, "f")
    emu_state = em.set_faults("f", {"fe_down": [1]})
    assert emu_state["fe_down"] == [1]
    with pytest.raises(httpx.ConnectError):
        get(fe_url(em, "f", 1), timeout=2)
    with pytest.raises(pymysql.err.OperationalError) as exc:
        pymysql.connect(host=d["frontends"][1], port=d["query_port"], user="root", password="", connect_timeout=2)
    assert exc.value.args[0] == 2003
    rows = proc_json(em, "f", "/frontends", 0)
    assert [r["Alive"] for r in rows] == ["true", "false"]
    assert rows[1]["ErrMsg"] and rows[1]["StartTime"] == "NULL"
    assert parse_prometheus(get(fe_url(em, "f", 0)).text).get("node_info", type="fe_node_num", state="alive") == 1

    em.set_faults("f", {"fe_down": []})
    assert get(fe_url(em, "f", 1)).status_code == 200
    assert [r["Alive"] for r in proc_json(em, "f", "/frontends", 0)] == ["true", "true"]
    assert query(em, "f", "SELECT current_version()", index=1)[1]


def test_fault_be_down(faulty):
    em = faulty
    em.set_faults("f", {"be_down": [2]})
    with pytest.raises(httpx.ConnectError):
        get(be_url(em, "f", 2), timeout=2)
    assert get(be_url(em, "f", 1)).status_code == 200
    host = info(em, "f")["backends"][2]["host"]
    rows = {r["IP"]: r for r in proc_json(em, "f", "/backends")}
    assert rows[host]["Alive"] == "false" and rows[host]["ErrMsg"]
    assert all(r["Alive"] == "true" and r["ErrMsg"] == "" for ip, r in rows.items() if ip != host)
    assert parse_prometheus(get(fe_url(em, "f", 0)).text).get("node_info", type="be_node_num", state="alive") == 2

    em.set_faults("f", {"be_down": []})
    assert get(be_url(em, "f", 2)).status_code == 200
    assert all(r["Alive"] == "true" for r in proc_json(em, "f", "/backends"))


def test_fault_slow(faulty):
    em = faulty
    em.set_faults("f", {"slow_seconds": 1.5})
    start = time.monotonic()
    assert get(fe_url(em, "f", 0), timeout=5).status_code == 200
    assert time.monotonic() - start >= 1.4
    with pytest.raises(httpx.TimeoutException):
        get(be_url(em, "f", 0), timeout=0.3)
    em.set_faults("f", {"slow_seconds": 0})
    start = time.monotonic()
    assert get(fe_url(em, "f", 0)).status_code == 200
    assert time.monotonic() - start < 1.0


def test_fault_http_500_and_proc_forbidden(faulty):
    em = faulty
    em.set_faults("f", {"http_500": True})
    assert get(fe_url(em, "f", 0)).status_code == 500
    assert show_proc(em, "f", "/backends").status_code == 500
    em.set_faults("f", {"http_500": False, "proc_forbidden": True})
    assert get(fe_url(em, "f", 0)).status_code == 200
    forbidden = show_proc(em, "f", "/backends")
    assert forbidden.status_code == 401 and forbidden.content == b'{"status":"FAILED","code":"1"}'
    em.set_faults("f", {"proc_forbidden": False})
    assert show_proc(em, "f", "/backends").status_code == 200


def test_fault_bad_bodies(faulty):
    em = faulty
    em.set_faults("f", {"bad_body": "truncated"})
    with pytest.raises(httpx.RemoteProtocolError):
        get(fe_url(em, "f", 0))
    em.set_faults("f", {"bad_body": "garbage"})
    response = get(fe_url(em, "f", 0))
    assert response.status_code == 200
    assert len(parse_prometheus(response.text)) == 0
    with pytest.raises(ValueError):
        show_proc(em, "f", "/backends").json()
    em.set_faults("f", {"bad_body": None})
    clean = parse_prometheus(get(fe_url(em, "f", 0)).text)
    assert len(clean) > 60 and clean.bad_lines == 0


def test_fault_mysql_refused(faulty):
    em = faulty
    d = info(em, "f")
    em.set_faults("f", {"mysql_refused": True})
    for host in d["frontends"]:
        with pytest.raises(pymysql.err.OperationalError) as exc:
            pymysql.connect(host=host, port=d["query_port"], user="root", password="", connect_timeout=2)
        assert exc.value.args[0] == 2003
    assert get(fe_url(em, "f", 0)).status_code == 200
    assert show_proc(em, "f", "/frontends").status_code == 200
    em.set_faults("f", {"mysql_refused": False})
    assert query(em, "f", "SELECT current_version()")[1]


def test_control_api(faulty):
    em = faulty
    listing = control(em, "GET", "/")
    assert listing.status_code == 200
    assert [c["name"] for c in listing.json()["clusters"]] == list(CLUSTERS)

    bad = control(em, "POST", "/clusters/f/faults", {"explode": True})
    assert bad.status_code == 400
    assert "unknown fault switch" in bad.json()["error"] and "explode" in bad.json()["error"]
    bad_value = control(em, "POST", "/clusters/f/faults", {"bad_body": "weird"})
    assert bad_value.status_code == 400 and "bad_body" in bad_value.json()["error"]
    assert control(em, "POST", "/clusters/nope/faults", {"http_500": True}).status_code == 404
    assert control(em, "POST", "/clusters/f/teleport", {}).status_code == 404
    assert control(em, "POST", "/clusters/f/advance", {"seconds": -5}).status_code == 400
    assert get(fe_url(em, "f", 0)).status_code == 200, "rejected changes change nothing"

    ok = control(em, "POST", "/clusters/f/faults", {"http_500": True, "be_down": [0]})
    assert ok.status_code == 200
    assert ok.json()["http_500"] is True and ok.json()["be_down"] == [0]
    assert get(fe_url(em, "f", 0)).status_code == 500
    with pytest.raises(httpx.ConnectError):
        get(be_url(em, "f", 0), timeout=2)
    assert control(em, "GET", "/clusters/f").json()["faults"]["http_500"] is True

    cleared = control(em, "POST", "/clusters/f/faults", NO_FAULTS)
    assert cleared.status_code == 200 and cleared.json() == {**NO_FAULTS, "slow_seconds": 0.0}
    assert get(fe_url(em, "f", 0)).status_code == 200
    assert get(be_url(em, "f", 0)).status_code == 200


def test_control_api_workload(emulator):
    em = emulator(ClusterSpec("w", profile="3.3", workload=exact_workload(qps=100)))
    assert fe_metric_sum(em, "w", "starrocks_fe_qps") == pytest.approx(100, abs=1e-6)
    response = control(em, "POST", "/clusters/w/workload", {"qps": 250})
    assert response.status_code == 200 and response.json()["workload"]["qps"] == 250.0
    assert fe_metric_sum(em, "w", "starrocks_fe_qps") == pytest.approx(250, abs=1e-6)
    assert control(em, "POST", "/clusters/w/workload", {"nope": 1}).status_code == 400


# ---------------------------------------------------------------------------- several clusters


def test_several_clusters_on_one_emulator(emulator):
    em = emulator(
        ClusterSpec("one", profile="3.3"),
        ClusterSpec("two", profile="2.5", fes=3, bes=1),
        ClusterSpec("three", profile="shared-data", fes=1, bes=2),
    )
    described = em.describe()
    assert [d["name"] for d in described] == ["one", "two", "three"]
    fe_hosts = [h for d in described for h in d["frontends"]]
    be_hosts = [b["host"] for d in described for b in d["backends"]]
    assert len(set(fe_hosts + be_hosts)) == len(fe_hosts + be_hosts) == 2 + 3 + 1 + 3 + 1 + 2
    assert len({d["http_port"] for d in described}) == 1
    assert len({d["query_port"] for d in described}) == 1
    assert len({d["be_http_port"] for d in described}) == 1

    for d in described:
        for index, _host in enumerate(d["frontends"]):
            rows = proc_json(em, d["name"], "/frontends", index)
            ips = [r["IP"] if isinstance(r, dict) else r[1] for r in rows]
            assert ips == d["frontends"]
        _, rows = query(em, d["name"], "SELECT current_version()")
        assert list(rows[0].values()) == [d["version"]]
        leader_metrics = get(fe_url(em, d["name"], 0)).text
        assert f'node_info{{type="fe_node_num", state="total"}} {len(d["frontends"])}' in leader_metrics
    # a fault on one cluster leaves the others alone
    em.set_faults("two", {"http_500": True})
    assert get(fe_url(em, "two", 0)).status_code == 500
    assert get(fe_url(em, "one", 0)).status_code == 200
    assert get(fe_url(em, "three", 0)).status_code == 200


# ---------------------------------------------------------------------------- the load curve


def test_load_curve_integrates_exactly_weekends_are_quieter_and_flat_is_flat():
    from starmon.emulator.load import DAY, Workload, is_weekend

    w = Workload(drift_origin=1_795_000_000.0)
    t0 = w.drift_origin - 9.3 * DAY
    # the integral is the curve's: a midpoint sum over 1-minute steps (knots are 5 minutes apart)
    steps = int(9 * DAY // 60)
    numeric = sum(w.daily(t0 + (i + 0.5) * 60) for i in range(steps)) * 60
    assert w.daily_integral(t0, t0 + steps * 60) == pytest.approx(numeric, rel=1e-6)
    assert w.daily_integral(t0, t0 + 5 * DAY) == pytest.approx(
        w.daily_integral(t0, t0 + 2.2 * DAY) + w.daily_integral(t0 + 2.2 * DAY, t0 + 5 * DAY), rel=1e-12
    )
    days = [d * DAY for d in range(int(t0 // DAY) + 1, int(t0 // DAY) + 15)]
    mean = {d: w.daily_integral(d, d + DAY) / DAY for d in days}
    weekend = [m for d, m in mean.items() if is_weekend(d)]
    weekday = [m for d, m in mean.items() if not is_weekend(d)]
    assert len(weekend) == 4 and max(weekend) < 0.6 * min(weekday)
    assert sum(mean.values()) / len(mean) == pytest.approx(1.0, abs=0.08)  # about 1 over whole weeks
    # a weekday's peak is in business hours, its trough at night; the load never stops
    weekday_start = next(d for d in days if not is_weekend(d))
    hourly = [w.daily(weekday_start + h * 3600) for h in range(24)]
    assert 9 <= hourly.index(max(hourly)) <= 17 and min(hourly) > 0
    flat = Workload(daily_amplitude=0.0, noise=0.0, events=False)
    assert flat.daily(t0) == 1.0 and flat.daily_integral(t0, t0 + DAY) == DAY
