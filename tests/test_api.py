"""The HTTP API on `streamlit run app.py`, called over HTTP as a script would call it.

One server for the module, over a SQLite file seeded with two hours of rounds of `prod` (the
numbers checked below are the seeded ones) and an empty cluster `spare`, both pointing at
closed loopback ports so a refresh finishes at once. The first tests run while the dashboard
is open; `signed_in` then adds an account, which closes the API to calls without a token.
"""

from __future__ import annotations

import time

import httpx
import pytest

from starmon import audit, events, queries, tokens, users, workload
from starmon.config import ClusterConfig, load_config
from starmon.emulator import ClusterSpec, auditlog
from starmon.read import Reader
from starmon.round import REFRESH_COOLDOWN_SECONDS
from starmon.statements import ShapeCache
from starmon.store import Store

from .browser import dashboard_env, dashboard_server
from .fixtures import free_port, seed_rounds

HOURS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    closed = free_port()
    clusters = "".join(
        f'[[clusters]]\nname = "{name}"\nfe_host = "127.0.0.1"\nhttp_port = {closed}\nquery_port = {closed}\n'
        for name in ("prod", "spare")
    )
    env = dashboard_env(tmp, demo=False, collector=False, config=clusters) | {"HOME": str(tmp)}
    db_url = env["STARMON_DB_URL"]
    store = Store(db_url)
    store.sync_clusters(tuple(ClusterConfig(n, "127.0.0.1", closed, closed) for n in ("prod", "spare")))
    ids = store.cluster_ids()
    newest = seed_rounds(store, ids["prod"], hours=HOURS, newest={"qps": 123.4, "query_latency_p99": 456.0})
    with dashboard_server(tmp, env) as url:
        yield {
            "url": url + "/api",
            "store": store,
            "config": load_config(env),
            "ids": ids,
            "newest": newest,
            "log": tmp / "streamlit.log",
        }
    store.close()


def get(server, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server["url"] + path, timeout=30, **kwargs)


def assert_error(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"error"} and answer.json()["error"]["code"] == code
    return answer.json()["error"]


# -- open: no account ------------------------------------------------------------------------------


def test_clusters_by_id_or_name(server):
    listed = {c["name"]: c for c in get(server, "/clusters").json()}
    assert listed["prod"]["id"] == server["ids"]["prod"] and listed["prod"]["status"] == "partial"
    assert listed["spare"]["status"] is None and listed["spare"]["collected_at"] is None
    by_id = get(server, f"/clusters/{server['ids']['prod']}/overview/health").json()
    assert by_id == get(server, "/clusters/prod/overview/health").json() | {"range": by_id["range"]}


def test_overview_is_the_seeded_rounds(server):
    data = get(server, "/clusters/prod/overview", params={"range": "24h"}).json()
    assert data["cluster_id"] == server["ids"]["prod"] and data["cluster"] == "prod"
    assert data["real_time"]["qps"] == 123.4 and data["real_time"]["query_latency_p99"] == 456.0
    assert data["real_time"]["avg_memory_usage"] == 40.0 and data["real_time"]["status"] == "partial"
    assert data["aggregated"]["p99_latency_ms"] == 456.0  # the worst round of the range
    assert data["aggregated"]["availability_pct"] == 100.0  # partial rounds are up
    cards = {c["key"]: c for c in data["health_cards"]}
    assert (cards["be_dead"]["value"], cards["be_dead"]["total"], cards["be_dead"]["display"]) == (2, 3, "2/3")
    assert any("10.0.0.3" in p for p in data["problems"])
    trends = data["trends"]
    assert trends["bucket_seconds"] == 58 and 0 < len(trends["time"]) <= 1500
    assert all(len(v) == len(trends["time"]) for v in trends["series"].values())
    assert max(trends["series"]["qps"]) > 86  # the newest round's 123.4, alone or averaged with one of <= 56


def test_events_of_the_range(server):
    cid, now = server["ids"]["prod"], time.time()
    server["store"].write_events(
        cid,
        [
            events.event(now - 2 * 86400, "node_down", "BE 10.0.0.9"),  # outside 24h
            events.event(now - 600, "node_down", "BE 10.0.0.9", error="<b>x</b>"),
            events.event(now - 300, "node_up", "BE 10.0.0.9", down_seconds=300, restarted=False),
        ],
    )
    answer = get(server, "/clusters/prod/events", params={"range": "24h"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["cluster_id"] == cid and data["cluster"] == "prod" and data["range"]["label"] == "24h"
    assert [(e["kind"], e["subject"], e["severity"]) for e in data["events"]] == [
        ("node_down", "BE 10.0.0.9", "critical"),
        ("node_up", "BE 10.0.0.9", "info"),
    ]
    assert data["events"][0]["details"] == {"error": "<b>x</b>"}
    assert data["events"][1]["details"] == {"down_seconds": 300, "restarted": False}
    assert len(get(server, f"/clusters/{cid}/events", params={"range": "7d"}).json()["events"]) == 3
    etag = answer.headers["ETag"]
    assert get(server, "/clusters/prod/events", headers={"If-None-Match": etag}).status_code == 304
    server["store"].write_events(cid, [events.event(now - 60, "leader_changed", "FE 10.0.0.2", previous="FE 10.0.0.1")])
    assert get(server, "/clusters/prod/events", headers={"If-None-Match": etag}).status_code == 200
    assert_error(get(server, "/clusters/prd/events"), 404, "not_found")
    assert_error(get(server, "/clusters/prod/events", params={"range": "2y"}), 422, "invalid_request")


def test_the_cli_and_the_api_read_the_same_overview(server):
    from starmon.overview_json import overview  # what `python -m starmon overview` prints

    now_api = get(server, "/clusters/prod/overview/health", params={"range": "6h"}).json()
    cli = overview(Reader(server["store"]), "prod", "6h", server["config"])
    assert [c["display"] for c in cli["health_cards"]] == [c["display"] for c in now_api["health_cards"]]
    assert cli["problems"] == now_api["problems"]


def test_performance_resources_and_data_stats(server):
    perf = get(server, "/clusters/prod/overview/performance", params={"range": "1h"}).json()
    assert perf["cluster_series"]["bucket_seconds"] == 30
    assert set(perf["cluster_series"]["series"]) >= {"qps", "rps", "query_latency_p95", "query_timeout_rate"}
    series = perf["cluster_series"]["series"]  # issue 18's panels, as the Performance page draws them
    assert series["txn_begin_per_second"][0] == 0.5 and series["routine_load_lag"][0] >= 20_000
    assert {"connections", "running_queries", "load_failed_per_second"} <= set(series)
    assert [(f["role"], f["host"]) for f in perf["per_fe"]] == [("FE", "10.0.0.1")]
    res = get(server, "/clusters/prod/overview/resources").json()
    assert [n["host"] for n in res["per_node"]] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert res["per_node"][0]["series"]["cpu_pct"][0] == 20.0 and res["jvm_heap"][0]["series"]["heap_pct"][0] == 25.0
    assert res["per_node"][0]["series"]["net_receive_bytes_per_second"][0] == 2e6
    assert res["jvm_heap"][0]["series"]["jvm_gc_ms_per_second"][0] is not None
    assert {n["host"]: n["alive"] for n in res["nodes"]}["10.0.0.3"] is False
    assert res["forecast"]["cluster"]["subject"] == "cluster"
    stats = get(server, "/clusters/prod/overview/data-stats").json()
    assert stats["collected_at"] is None and stats["largest_tables"] == []  # no statistics pass was seeded


def test_data_stats_carry_the_workload_the_queries_page_shows(server, emulator):
    """Tables by access, slow queries, active and top users and the audit status: one read with
    the Queries page and the CLI (queries.summary), over a day of the emulator's audit rows."""
    store, cid = server["store"], server["ids"]["prod"]
    before = get(server, "/clusters/prod/overview/data-stats").json()
    assert before["audit"] == "pending" and before["top_tables_by_access"] == [] and before["active_users_24h"] == 0
    model = emulator(ClusterSpec("prod")).cluster("prod")
    model.audit.per_hour = 60.0
    now = time.time()
    rows = [{k: v for k, v in r.items() if k != "template"} for r in auditlog.rows_between(model, now - 86400, now)]
    workload.write_pass(store, cid, audit.OK, None, audit.aggregate(rows, ShapeCache()), now)

    stats = get(server, "/clusters/prod/overview/data-stats", params={"range": "24h"}).json()
    cli = queries.report(Reader(store), "prod", "24h")
    assert stats["audit"] == "ok" and stats["audit_message"] is None
    for key in ("top_tables_by_access", "slow_queries", "top_users", "active_users_1h", "active_users_24h"):
        assert stats[key] == cli[key], key
    assert stats["top_tables_by_access"] and stats["slow_queries"] and stats["active_users_24h"] > 1
    slowest = stats["slow_queries"][0]
    assert slowest["query_ms"] == max(r["query_ms"] for r in stats["slow_queries"]) and len(slowest["stmt"]) <= 200
    busiest = stats["top_tables_by_access"][0]
    assert busiest["access_count"] == max(t["access_count"] for t in stats["top_tables_by_access"])
    assert stats["collected_at"] is None  # still no statistics pass: the workload comes from the audit pass


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/clusters/nope/overview", {}, 404, "not_found"),
        ("/clusters/prod/overview", {"range": "2w"}, 422, "invalid_request"),
        ("/clusters/prod/overview", {"range": "custom", "start": "2026-01-02"}, 400, "bad_request"),
        (
            "/clusters/prod/overview",
            {"range": "custom", "start": "2026-01-02", "end": "2026-01-01"},
            400,
            "bad_request",
        ),
        ("/clusters/prod/overview", {"range": "24h", "start": "2026-01-02"}, 400, "bad_request"),
        ("/clusters/prod/overview/data-stats", {"limit": "0"}, 422, "invalid_request"),
        ("/nothing/here", {}, 404, "not_found"),
        ("/clusters/a%0Ab/overview", {}, 404, "not_found"),  # a newline in the path stays the API's
    ],
)
def test_errors_are_json(server, path, params, status, code):
    error = assert_error(get(server, path, params=params), status, code)
    assert "Traceback" not in error["message"] and "<" not in error["message"]


def test_wrong_method_is_json(server):
    assert_error(httpx.delete(server["url"] + "/clusters"), 405, "method_not_allowed")


def test_custom_range_is_bucketed_like_the_pages(server):
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(server["newest"], UTC).date().isoformat()
    data = get(
        server, "/clusters/prod/overview/performance", params={"range": "custom", "start": day, "end": "2099-01-01"}
    )
    assert data.status_code == 400  # more than 90 days
    end = datetime.fromtimestamp(server["newest"] + 86400, UTC).date().isoformat()
    data = get(
        server, "/clusters/prod/overview/performance", params={"range": "custom", "start": day, "end": end}
    ).json()
    assert data["range"]["label"] == "custom" and data["cluster_series"]["bucket_seconds"] in (58, 116)


def test_etag_answers_304_until_a_new_round(server):
    first = get(server, "/clusters/prod/overview/health", params={"range": "7d"})
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = get(server, "/clusters/prod/overview/health", params={"range": "7d"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = get(server, "/clusters/prod/overview/health", params={"range": "24h"}, headers={"If-None-Match": etag})
    assert other.status_code == 200  # another question, another tag
    seed_rounds(server["store"], server["ids"]["prod"], hours=0.02, step=30, dead=None)
    newer = get(server, "/clusters/prod/overview/health", params={"range": "7d"}, headers={"If-None-Match": etag})
    assert newer.status_code == 200 and newer.headers["etag"] != etag


def test_open_api_is_read_only(server):
    error = assert_error(httpx.post(server["url"] + "/clusters/spare/refresh"), 403, "forbidden")
    assert "read-only" in error["message"] and "users add" in error["message"]


# -- with an account: tokens -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_in(server):
    store = server["store"]
    users.add(store, "ann", "admin", "admin-pass-1")
    return {"admin": tokens.create(store, "ops", "admin"), "viewer": tokens.create(store, "grafana", "viewer")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_every_call_needs_a_token(server, signed_in):
    answer = get(server, "/clusters")
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert_error(get(server, "/clusters", headers=bearer("smt_not-a-token")), 401, "unauthorized")
    assert get(server, "/clusters", headers=bearer(signed_in["viewer"])).status_code == 200
    assert get(server, "/clusters/prod/overview", headers=bearer(signed_in["admin"])).status_code == 200


def test_viewer_cannot_refresh_and_admin_can_once_per_cooldown(server, signed_in):
    viewer = httpx.post(server["url"] + "/clusters/spare/refresh", headers=bearer(signed_in["viewer"]))
    assert "viewer" in assert_error(viewer, 403, "forbidden")["message"]
    admin = bearer(signed_in["admin"])
    done = httpx.post(server["url"] + "/clusters/spare/refresh", headers=admin, timeout=60)
    assert done.status_code == 200, done.text
    assert done.json()["cluster"] == "spare" and done.json()["status"] == "down"  # nothing listens there
    listed = {c["name"]: c for c in get(server, "/clusters", headers=admin).json()}
    assert listed["spare"]["status"] == "down"
    again = httpx.post(server["url"] + "/clusters/spare/refresh", headers=admin)
    assert_error(again, 429, "rate_limited")
    assert 1 <= int(again.headers["retry-after"]) <= REFRESH_COOLDOWN_SECONDS


def test_a_revoked_token_is_refused_at_once(server, signed_in):
    token = tokens.create(server["store"], "temp", "viewer")
    assert get(server, "/clusters", headers=bearer(token)).status_code == 200
    tokens.revoke(server["store"], "temp")
    assert_error(get(server, "/clusters", headers=bearer(token)), 401, "unauthorized")


def test_tokens_never_appear_in_answers_or_the_log(server, signed_in):
    seen = b""
    for path in ("/clusters", "/clusters/prod/overview", "/clusters/prod/overview/resources", "/openapi.json"):
        seen += get(server, path, headers=bearer(signed_in["admin"])).content
    assert signed_in["admin"].encode() not in seen
    assert signed_in["admin"] not in server["log"].read_text()
    stored = server["store"].read(lambda conn: conn.exec_driver_sql("SELECT token_hash FROM api_tokens").all())
    assert (tokens.digest(signed_in["admin"]),) in stored and all(len(h) == 64 for (h,) in stored)


def test_failed_calls_are_rate_limited_per_client(server, signed_in):
    """Last: it locks this client out for a minute."""
    answers = [get(server, "/clusters", headers=bearer(f"smt_guess{i}")).status_code for i in range(12)]
    assert answers[:1] == [401] and answers[-1] == 429
    limited = get(server, "/clusters", headers=bearer(signed_in["viewer"]))  # even a good token waits
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 61
