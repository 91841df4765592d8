"""The workload from the audit log (issue 17), against the emulator over real sockets: incremental
reading counts each row once (across passes and collector restarts), no plugin and a refused SELECT
say so without failing the pass, the CLI prints what the emulator served, and statement text from
the cluster is shown literally."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from starmon import __main__ as cli
from starmon import audit, queries, running, schema, workload
from starmon.config import ClusterConfig
from starmon.emulator import ClusterSpec, auditlog
from starmon.emulator.proc import fe_time
from starmon.fetch import ClusterClient
from starmon.read import Reader, anchored, find_cluster, parse_range
from starmon.store import Store

from .browser import SCREENSHOTS, browser, count_rows, needs_chromium, page, visit, wait_until  # noqa: F401
from .fixtures import HOSTILE, add_cluster, app, seed_rounds, trace_values


def client_of(model) -> ClusterClient:
    return ClusterClient(ClusterConfig(model.name, model.leader.host, model.http_port, model.query_port), None, 5.0)


def one_pass(store: Store, cid: int, model, limit: int = audit.MAX_ROWS_PER_PASS) -> str:
    return asyncio.run(workload.audit_pass(store, cid, client_of(model), None, model.now(), limit))


def served(model, lo: float, hi: float) -> list[dict]:
    """The statements (session rows left out) the emulator's table holds between lo and hi."""
    return [r for r in auditlog.rows_between(model, lo, hi) if r["queryType"] not in ("connection", "disconnection")]


def totals(store: Store, cid: int) -> tuple[int, int]:
    u, w = schema.workload_users, schema.audit_watermarks
    with store.reader.connect() as conn:
        queries = conn.execute(sa.select(sa.func.sum(u.c.queries)).where(u.c.cluster_id == cid)).scalar()
        rows = conn.execute(sa.select(w.c.rows_read).where(w.c.cluster_id == cid)).scalar()
    return queries, rows


@pytest.fixture
def cluster(emulator, tmp_path):
    model = emulator(ClusterSpec("prod")).cluster("prod")
    model.audit.per_hour = 60.0  # a day is 1,440 statements: quick, and several per hour and user
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    cid = add_cluster(store, "prod", model.leader.host)
    yield model, store, cid, tmp_path
    store.close()


def test_passes_count_every_row_once_across_passes_limits_and_restarts(cluster):
    model, store, cid, tmp_path = cluster
    start = int(model.now())
    assert one_pass(store, cid, model, limit=500) == "ok"  # the first day, 500 rows at a time
    while totals(store, cid)[1] < len(served(model, start - 86400, start - audit.SETTLE_SECONDS)):
        before = totals(store, cid)[1]
        one_pass(store, cid, model, limit=500)
        assert 0 < totals(store, cid)[1] - before <= 500
    model.advance(1800)
    one_pass(store, cid, model)
    store.close()  # a collector restart: a new process, its cache and connections gone
    workload._caches.clear()
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    model.advance(1800)
    one_pass(store, cid, model)
    one_pass(store, cid, model)  # nothing new: nothing added
    expected = served(model, start - 86400, int(model.now()) - audit.SETTLE_SECONDS)
    assert totals(store, cid) == (len(expected), len(expected))
    a = schema.workload_table_access
    with store.reader.connect() as conn:
        counted = dict(
            conn.execute(sa.select(a.c.table_name, sa.func.sum(a.c.accesses)).group_by(a.c.table_name)).all()
        )
    known = Counter(name.rsplit(".", 1)[1] for r in expected for name in r["template"].tables)
    assert counted == dict(known)
    store.close()


def test_the_first_pass_reads_the_last_day_only(cluster):
    model, store, cid, _ = cluster
    now = int(model.now())
    one_pass(store, cid, model)
    assert totals(store, cid)[1] == len(served(model, now - 86400, now - audit.SETTLE_SECONDS))
    assert workload.watermark(store, cid).audit_ts <= fe_time(now - audit.SETTLE_SECONDS)


def test_no_plugin_and_no_grant_say_so_once_and_the_statistics_pass_still_runs(cluster, make_collector, caplog):
    model, store, _, _ = cluster
    collector = make_collector([client_of(model).cluster])
    cid = collector.store.cluster_ids()["prod"]
    model.audit.installed = False
    collector.run_statistics()
    collector.run_statistics()
    assert workload.status(collector.store, cid)["status"] == "not_installed"
    assert sum("audit log" in r.message for r in caplog.records) == 1  # said once, not every pass
    with collector.store.reader.connect() as conn:
        passes = conn.execute(sa.select(sa.func.count()).select_from(schema.data_statistics)).scalar()
    assert passes == 2
    model.audit.installed, model.audit.readable = True, False
    collector.run_statistics()
    assert workload.status(collector.store, cid)["status"] == "forbidden"


def run_cli(capsys, *args: str) -> tuple[int, dict | str]:
    code = cli.main(["queries", *args])
    out = capsys.readouterr()
    return code, json.loads(out.out) if "--json" in args and code == 0 else out.err


def test_cli_prints_what_the_emulator_served(cluster, capsys, monkeypatch):
    model, store, cid, tmp_path = cluster
    monkeypatch.setenv("STARMON_DB_URL", f"sqlite:///{tmp_path / 'starmon.db'}")
    (tmp_path / "starmon.toml").write_text("")
    monkeypatch.setenv("STARMON_CONFIG", str(tmp_path / "starmon.toml"))
    now = int(model.now())
    one_pass(store, cid, model)
    code, data = run_cli(capsys, "--cluster", "prod", "--range", "24h", "--json")
    assert code == 0, data
    assert data["audit"] == "ok" and data["audit_message"] is None
    rows = served(model, now - 86400, now - audit.SETTLE_SECONDS)
    accesses, users = Counter(), {}
    for r in rows:
        for name in r["template"].tables:
            accesses[name] += 1
            users.setdefault(name, set()).add(r["user"])
    top = {f"{t['catalog']}.{t['database']}.{t['table']}": t for t in data["top_tables_by_access"]}
    assert {k: v["access_count"] for k, v in top.items()} == dict(accesses)
    assert {k: v["unique_users"] for k, v in top.items()} == {k: len(v) for k, v in users.items()}
    assert set(data["top_tables_by_access"][0]) >= {"database", "table", "access_count", "unique_users", "last_access"}
    slowest = sorted(rows, key=lambda r: -r["queryTime"])[0]
    assert data["slow_queries"][0]["query_ms"] == slowest["queryTime"]
    assert data["slow_queries"][0]["stmt"] == slowest["stmt"][:200]
    assert data["active_users_24h"] == len({r["user"] for r in rows})
    recent = [r for r in rows if r["timestamp"] >= fe_time(now - 3600)]
    assert data["active_users_1h"] == len({r["user"] for r in recent})
    by_user = Counter(r["user"] for r in rows)
    assert {u["user"]: u["queries"] for u in data["top_users"]} == dict(by_user.most_common(10))
    failed = Counter(r["errorCode"] for r in rows if r["state"] == "ERR")
    assert Counter({f["error_code"]: 0 for f in data["failures"]}) + failed == failed
    assert sum(f["queries"] for f in data["failures"]) == sum(failed.values()) > 0
    model.audit.installed = False
    model.advance(600)
    one_pass(store, cid, model)
    code, data = run_cli(capsys, "--cluster", "prod", "--range", "24h", "--json")
    assert data["audit"] == "not_installed" and "INSTALL PLUGIN" in data["audit_message"]
    assert run_cli(capsys, "--cluster", "nope", "--json")[0] == 2


def test_statement_text_from_the_cluster_is_shown_literally(cluster, env):
    model, store, cid, _ = cluster  # the same database file as the dashboard's (env)
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    t = int(model.now()) - 3600
    for i, text in enumerate(HOSTILE):
        row = {c: None for c in model.profile.audit_columns}
        row.update(
            queryId=f"hostile-{i}",
            timestamp=fe_time(t + i),
            queryType="slow_query",
            user=text,
            db="sales",
            state="EOF",
            queryTime=10_000_000 + i,
            stmt=f"SELECT '{text}' FROM `{text}`",
        )
        model.audit.extra.append((t + i, row))
    one_pass(store, cid, model)
    at = app(cluster="prod", range="24h").run()
    at.switch_page("../../pages/queries.py").run()
    assert not at.exception
    frames = [el.value for el in at.dataframe]
    slow = next(f for f in frames if "stmt" in f.columns)
    for text in HOSTILE:
        assert f"SELECT '{text}' FROM `{text}`" in set(slow["stmt"])
        assert text in set(slow["user_name"])
    shown = " ".join(str(getattr(el, "value", "")) for kind in ("markdown", "caption", "info") for el in at.get(kind))
    for text in HOSTILE:
        assert text not in shown


def test_the_queries_pages_headers_are_words(cluster, env):
    """Every column a table of the Queries page shows has a header in words, as on the other pages."""
    model, store, cid, _ = cluster
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    one_pass(store, cid, model)
    at = app(cluster="prod", range="24h").run()
    at.switch_page("../../pages/queries.py").run()
    assert not at.exception
    assert len(at.dataframe) >= 4  # top tables, slow queries, top users, the mix (running now when asked)
    for element in at.dataframe:
        columns = json.loads(element.proto.columns)
        for name in element.value.columns:
            header = columns.get(name, {}).get("label", name)
            assert "_" not in header and header[0].isupper(), (name, header)


def test_the_queries_page_shows_times_in_the_viewer_s_zone_and_charts_failures_with_plotly(cluster, env):
    """Audit times are stored in UTC and shown, like every time on the dashboard, in the viewer's
    zone; failed statements are a Plotly chart (Streamlit's Vega charts log warnings on every load)."""
    model, store, cid, _ = cluster
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    one_pass(store, cid, model)
    data = queries.report(Reader(store), "prod", "24h")
    at = app(cluster="prod", range="24h").run()
    at.switch_page("../../pages/queries.py").run()
    assert not at.exception
    tables = {tuple(el.value.columns)[:2]: el.value for el in at.dataframe}
    top = tables[("database", "table")]
    first = data["top_tables_by_access"][0]
    assert top["last_access"].iloc[0] == pd.Timestamp(first["last_access"])  # the same moment
    assert str(top["last_access"].dt.tz) == "UTC"  # AppTest's browser zone; the page converts to it
    figures = {json.loads(el.proto.spec)["layout"]["title"]["text"]: el for el in at.get("plotly_chart")}
    bars = json.loads(figures["Failed statements per hour"].proto.spec)["data"]
    assert sum(sum(trace_values(b["y"])) for b in bars) == sum(f["queries"] for f in data["failures"])
    assert {b["name"] for b in bars} == {str(f["error_code"]) for f in data["failures"]}


@pytest.mark.parametrize("profile,status", [("3.1", "ok"), ("2.5", "not_installed")])
def test_older_plugins_are_read_by_their_columns_and_no_plugin_is_said(emulator, tmp_path, profile, status):
    model = emulator(ClusterSpec("old", profile=profile)).cluster("old")
    model.audit.per_hour = 60.0
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    cid = add_cluster(store, "old", model.leader.host)
    now = int(model.now())
    assert one_pass(store, cid, model) == status
    expected = len(served(model, now - 86400, now - audit.SETTLE_SECONDS)) if status == "ok" else 0
    assert totals(store, cid)[1] == expected
    store.close()


@pytest.mark.parametrize("profile", ["3.1", "3.4"])
def test_running_now_reads_either_layout_of_current_queries(emulator, profile):
    model = emulator(ClusterSpec("live", profile=profile)).cluster("live")
    found = running.running_now(client_of(model).cluster, 5.0)
    assert found and all(r["user"] == "analyst" and r["scan_bytes"] > 10**9 for r in found)
    seconds = [r["exec_seconds"] for r in found]
    assert seconds == sorted(seconds, reverse=True) and 1.4 < seconds[-1] < 1.6  # 1.5 s, in ms or "1.500 s"
    assert all(r["cpu_seconds"] == pytest.approx(r["exec_seconds"] * 0.8, abs=0.01) for r in found)


def _grid(page, header: str):
    """The rows a dataframe holds (its accessible table, which the canvas draws) under the column `header`."""
    for grid in page.get_by_test_id("stDataFrame").all():
        headers = grid.locator("thead th").all_inner_texts()
        if header in headers:
            return headers, [row.locator("td").all_inner_texts() for row in grid.locator("tbody tr").all()]
    raise AssertionError(f"no dataframe has a column {header!r}")


def _report(db_url: str) -> dict:
    """What `python -m starmon queries` reads of the two lists the test checks, over the 7 days the
    page shows now (its end rounded up to the range's bucket, as every page rounds it)."""
    store = Store(db_url)
    try:
        reader, now = Reader(store), time.time()
        demo = find_cluster(reader, "demo")
        found = queries.summary(reader, demo, anchored(parse_range("7d", now)), now)
    finally:
        store.close()
    return {key: found[key] for key in ("range", "audit", "top_tables_by_access", "slow_queries")}


@needs_chromium
def test_the_demos_queries_page_shows_top_tables_and_slow_queries(demo_dashboard, page):
    """In Chromium, on the demo: the tables read most and the slowest queries the replayed audit
    passes stored, the same ones `python -m starmon queries` reads, on the session's demo dashboard
    (conftest's demo_dashboard). Its collector's statistics passes go on while the page is open, so
    the page is compared with a read that no pass changed around it."""
    url, db_url = demo_dashboard.url, demo_dashboard.env["STARMON_DB_URL"]
    wait_until(lambda: count_rows(demo_dashboard.db, "slow_queries") > 0, 240, "the demo's audit passes stored")
    visit(page, f"{url}/queries?range=7d")
    expect(page.get_by_text("days of history for demo")).to_have_count(0, timeout=180000)
    for _ in range(3):
        expected = _report(db_url)
        visit(page, f"{url}/queries?range=7d")
        assert page.get_by_test_id("stException").count() == 0
        expect(page.get_by_text("Top tables by access")).to_be_visible()
        tables = _grid(page, "Accesses")
        slow = _grid(page, "Statement (first 200 characters)")
        if _report(db_url) == expected:
            break
    else:
        pytest.fail("a statistics pass landed during every one of three visits")
    assert expected["audit"] == "ok" and expected["top_tables_by_access"] and expected["slow_queries"]
    top = dict(zip(tables[0], tables[1][0]))
    first = expected["top_tables_by_access"][0]
    assert (top["Database"], top["Table"]) == (first["database"], first["table"])
    assert top["Accesses"].replace(",", "") == str(first["access_count"])
    slowest = dict(zip(slow[0], slow[1][0]))
    assert slowest["Statement (first 200 characters)"] == expected["slow_queries"][0]["stmt"]
    assert slowest["Time (ms)"].replace(",", "") == str(expected["slow_queries"][0]["query_ms"])
    page.screenshot(path=str(SCREENSHOTS / "queries-demo.png"), full_page=True)
