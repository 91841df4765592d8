"""starmon's own /metrics: the collector's values against what was seeded, and the real server's answer.

The collector tests read a seeded SQLite store through a private registry; the server tests start
`streamlit run app.py` and check the answer's content type, that `promtool check metrics` (Debian's
`prometheus` package, installed by .ci/run) accepts it, and who may scrape it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from starmon import read, selfmetrics, tokens, users
from starmon.store import Store

from .browser import dashboard_env, dashboard_server
from .fixtures import ROOT, add_cluster, seed_rounds

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian: apt-get install prometheus; .ci/run installs it)"
)


def scrape(store: Store, now: float, collector: selfmetrics.ClusterCollector | None = None):
    """The exposition text and a value getter, as Prometheus would read them at `now`."""
    collector = collector or selfmetrics.ClusterCollector(store, 7)
    collector.clock = lambda: now
    registry = CollectorRegistry(auto_describe=False)  # as selfmetrics.registry builds it, with this clock
    registry.register(collector)
    return generate_latest(registry).decode(), registry.get_sample_value


def test_headline_values_in_base_units(seeded_with_problems):
    env = seeded_with_problems
    text, value = scrape(env["store"], env["newest_ts"] + 5)
    prod = {"cluster": "prod"}
    assert value("starmon_cluster_up", prod) == 1  # partial: reached, with a BE down
    assert value("starmon_cluster_last_round_timestamp_seconds", prod) == env["newest_ts"]
    assert value("starmon_cluster_round_duration_seconds", prod) == 0.012
    assert value("starmon_cluster_queries_per_second", prod) == 123.4
    assert value("starmon_cluster_query_latency_p99_seconds", prod) == pytest.approx(0.456)
    assert value("starmon_cluster_query_error_ratio", prod) == pytest.approx(0.001)
    assert value("starmon_cluster_disk_usage_ratio", prod) == pytest.approx(0.912)
    assert value("starmon_cluster_disk_capacity_bytes", prod) == 3 * 10**12
    assert value("starmon_cluster_nodes_alive", {**prod, "role": "BE"}) == 2
    assert value("starmon_cluster_nodes", {**prod, "role": "BE"}) == 3
    assert value("starmon_cluster_nodes_alive", {**prod, "role": "FE"}) == 1
    # a minute apart for two hours: the last hour holds 60 rounds, the last 5 partial
    rounds = {s: value("starmon_cluster_rounds_last_hour", {**prod, "status": s}) for s in ("ok", "partial", "down")}
    assert rounds == {"ok": 55, "partial": 5, "down": 0}
    assert "# TYPE starmon_cluster_rounds_last_hour gauge" in text


def test_the_reads_work_on_every_engine(db_url):
    store = Store(db_url)
    try:
        newest = seed_rounds(store, add_cluster(store), hours=0.5, dead=None, newest={"qps": 7.5})
        store.write_round(add_cluster(store, "dark", "10.9.0.1"), {"ts": newest, "status": "down", "collect_ms": 1}, [])
        _, value = scrape(store, newest + 5)
    finally:
        store.close()
    assert value("starmon_cluster_queries_per_second", {"cluster": "prod"}) == 7.5
    assert value("starmon_cluster_rounds_last_hour", {"cluster": "prod", "status": "ok"}) == 30
    assert (value("starmon_cluster_up", {"cluster": "prod"}), value("starmon_cluster_up", {"cluster": "dark"})) == (
        1,
        0,
    )


def test_a_down_cluster_is_up_0_and_unknown_values_are_left_out(env):
    store = env["store"]
    cid = add_cluster(store, "dark", "10.9.0.1")
    add_cluster(store, "new", "10.9.0.2")  # never collected
    ts = seed_rounds(store, cid, hours=0.5, dead=None)
    store.write_round(cid, {"ts": ts + 60, "status": "down", "error": "connection refused", "collect_ms": 5000}, [])
    text, value = scrape(store, ts + 65)
    dark = {"cluster": "dark"}
    assert value("starmon_cluster_up", dark) == 0
    assert value("starmon_cluster_round_duration_seconds", dark) == 5.0
    assert value("starmon_cluster_rounds_last_hour", {**dark, "status": "down"}) == 1
    for name in ("queries_per_second", "query_latency_p99_seconds", "disk_usage_ratio", "nodes_alive"):
        assert f'starmon_cluster_{name}{{cluster="dark"' not in text  # NULL is left out, never 0
    # known zeros stay: no round of `new` in the last hour; but nothing else is known about it
    assert value("starmon_cluster_rounds_last_hour", {"cluster": "new", "status": "ok"}) == 0
    assert all(line.startswith("starmon_cluster_rounds_last_hour{") for line in text.splitlines() if '"new"' in line)


def test_disabled_clusters_are_left_out(seeded_with_problems):
    store = seeded_with_problems["store"]
    store.write(lambda conn: conn.exec_driver_sql("UPDATE clusters SET enabled = 0"))
    text, _ = scrape(store, seeded_with_problems["newest_ts"] + 5)
    assert 'cluster="prod"' not in text


def test_every_metric_is_in_the_readme_table(seeded_with_problems):
    documented = set(re.findall(r"`(starmon_cluster_\w+)`", (ROOT / "README.md").read_text()))
    names = {family.name for family in selfmetrics.ClusterCollector(seeded_with_problems["store"], 7).collect()}
    assert names and names <= documented, names - documented


@pytest.fixture
def growing(env):
    """Cluster `prod` with 8 hours of rounds 5 minutes apart and disks filling: enough for a forecast."""
    cid = add_cluster(env["store"])
    env["cluster_id"] = cid
    env["newest_ts"] = seed_rounds(env["store"], cid, hours=8, step=300, dead=None)
    return env


def test_time_to_full_is_the_forecast_in_seconds_and_counts_down(growing):
    store, now = growing["store"], growing["newest_ts"] + 5
    days = read.forecast(read.Reader(store), growing["cluster_id"], 7, now).headline["days_to_full"]
    assert days is not None and days > 0
    collector = selfmetrics.ClusterCollector(store, 7)
    _, value = scrape(store, now, collector)
    assert value("starmon_cluster_disk_time_to_full_seconds", {"cluster": "prod"}) == pytest.approx(days * 86400)
    _, value = scrape(store, now + 100, collector)  # the fit is kept; the time left still runs
    assert value("starmon_cluster_disk_time_to_full_seconds", {"cluster": "prod"}) == pytest.approx(days * 86400 - 100)


def test_a_fit_is_redone_only_after_a_new_round_and_refit_seconds(growing, monkeypatch):
    store, cid, now = growing["store"], growing["cluster_id"], growing["newest_ts"] + 5
    fits = []
    real = read.forecast
    monkeypatch.setattr(read, "forecast", lambda *a, **k: fits.append(a[1]) or real(*a, **k))
    collector = selfmetrics.ClusterCollector(store, 7)
    scrape(store, now, collector)
    assert fits == [cid]
    store.write_round(cid, {"ts": now + 25, "status": "ok", "collect_ms": 10}, [])
    scrape(store, now + 30, collector)  # a new round, but the fit is young
    scrape(store, now + selfmetrics.REFIT_SECONDS + 60, collector)
    assert fits == [cid, cid]
    scrape(store, now + 3 * selfmetrics.REFIT_SECONDS, collector)  # old, but no newer round: same data
    assert fits == [cid, cid]


def test_a_scrape_fits_within_its_budget_oldest_first(env, monkeypatch):
    store = env["store"]
    for name in ("a", "b", "c"):
        newest = seed_rounds(store, add_cluster(store, name, f"10.8.0.{len(name)}"), hours=8, step=300, dead=None)
    monkeypatch.setattr(selfmetrics, "FIT_BUDGET_SECONDS", 0.0)  # one fit per scrape
    collector = selfmetrics.ClusterCollector(store, 7)
    dated = []
    for _ in range(3):
        text, _ = scrape(store, newest + 5, collector)
        dated.append(text.count("starmon_cluster_disk_time_to_full_seconds{"))
    assert dated == [1, 2, 3]


def test_route_answers_text_format_0_0_4(seeded_with_problems):
    client = TestClient(Starlette(routes=[selfmetrics.route(seeded_with_problems["store"], 7)]))
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'starmon_cluster_queries_per_second{cluster="prod"} 123.4' in answer.text
    assert client.post("/metrics").status_code == 405  # read-only


def test_with_accounts_a_scrape_needs_a_token(seeded_with_problems):
    store = seeded_with_problems["store"]
    users.add(store, "ann", "viewer", "viewer-pass-1")
    token = tokens.create(store, "prometheus", "viewer")
    client = TestClient(Starlette(routes=[selfmetrics.route(store, 7, limiter=tokens.FailureLimiter(limit=3))]))
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "starmon_cluster" not in refused.text
    assert client.get("/metrics", headers={"Authorization": "Bearer smt_wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"Basic {token}"}).status_code == 401
    limited = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})  # 3 failures: wait now
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_single_sign_on_closes_it_too(seeded_with_problems):
    client = TestClient(Starlette(routes=[selfmetrics.route(seeded_with_problems["store"], 7, oidc=lambda: True)]))
    assert client.get("/metrics").status_code == 401


@needs_promtool
def test_promtool_accepts_the_collector_output(seeded_with_problems):
    text, _ = scrape(seeded_with_problems["store"], seeded_with_problems["newest_ts"] + 5)
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check


# -- the real server ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` over a store with a seeded cluster and a token; no demo, no collector."""
    tmp = tmp_path_factory.mktemp("selfmetrics")
    env = dashboard_env(tmp, demo=False, collector=False)
    db_url = env["STARMON_DB_URL"]
    store = Store(db_url)
    seed_rounds(store, add_cluster(store), hours=8, step=300, dead=None)
    with dashboard_server(tmp, env) as url:
        yield url, store
    store.close()


@needs_promtool
def test_the_server_answers_metrics_that_promtool_accepts(server):
    url, _ = server
    answer = httpx.get(f"{url}/metrics", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'starmon_cluster_up{cluster="prod"} 1.0' in answer.text
    assert 'starmon_cluster_disk_time_to_full_seconds{cluster="prod"}' in answer.text
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=answer.text, capture_output=True, text=True)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check


def test_the_server_asks_for_a_token_once_accounts_exist(server):
    url, store = server
    users.add(store, "ann", "viewer", "viewer-pass-1")
    token = tokens.create(store, "prometheus", "viewer")
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
