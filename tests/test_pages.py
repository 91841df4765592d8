"""Dashboard pages through Streamlit's AppTest: the frame, the five pages and their acceptance criteria.

Every test runs the real frame script (`starmon/ui/main.py`) against a fresh SQLite store
seeded through `starmon.store.Store`, so what the pages show is checked against known numbers.
Links with unknown or hostile parameters are in test_links.py; text from a cluster shown as
text, in test_cluster_text.py.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon.config import ClusterConfig
from starmon.emulator import ClusterSpec
from starmon.read import TimeRange, parse_range
from starmon.secrets import Secrets
from starmon.store import Store
from starmon.ui import frame

from .fixtures import (
    BES,
    DEAD_BE,
    PAGE,
    add_cluster,
    app,
    bucket,
    cluster_rows,
    exact_workload,
    figures,
    open_page,
    seed_rounds,
    trace_values,
    unescape,
)

# -- set-up ----------------------------------------------------------------------------------------------


def texts(elements) -> list[str]:
    return [unescape(e.value) for e in elements]


def snapshot_rows(store: Store, cluster_id: int) -> list[tuple]:
    with store.reader.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT id, status FROM metrics_snapshots WHERE cluster_id = ? ORDER BY id", (cluster_id,)
        ).fetchall()


# -- 1. every page renders -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", list(PAGE))
def test_every_page_renders_against_a_seeded_store(seeded_with_problems, page):
    at = open_page(page)
    assert not at.exception, at.exception
    headers = texts(at.header)
    assert headers and headers[0].startswith(page.capitalize()), headers
    if page == "overview":
        assert len(at.metric) == 15  # 14 health cards and the disk forecast
    if page == "performance":
        figs = figures(at)
        assert set(figs) == {
            "Queries and requests per second",
            "Query latency",
            "Failed queries",
            "QPS per FE",
            "p99 latency per FE",
            "Open connections",
            "Running queries (busiest BE/CN)",
            "Transactions per second",
            "Loads per second",
            "Routine-load lag",
        }
        assert [t["name"] for t in figs["Queries and requests per second"]["data"]] == ["QPS", "RPS"]
        assert [t["name"] for t in figs["Query latency"]["data"]] == ["p50", "p95", "p99"]
        assert [t["name"] for t in figs["QPS per FE"]["data"]] == ["FE 10.0.0.1"]
        assert [t["name"] for t in figs["Transactions per second"]["data"]] == ["begun", "committed", "failed"]
        assert [t["name"] for t in figs["Loads per second"]["data"]] == ["finished", "failed or rejected"]
        units = {title: fig["layout"]["yaxis"]["title"]["text"] for title, fig in figs.items()}
        assert units["Transactions per second"] == "transactions/s" and units["Loads per second"] == "loads/s"
        assert units["Routine-load lag"] == "messages" and units["Open connections"] == "connections"
    if page == "resources":
        figs = figures(at)
        assert set(figs) == {
            "CPU per node",
            "Memory per node",
            "Disk used per node",
            "FE JVM heap used",
            "Disk used: history and forecast",
            "Memory used per node, bytes",
            "Disk I/O utilisation (busiest disk)",
            "Compaction score",
            "Network received per node",
            "Network sent per node",
            "Tablets per node",
            "FE JVM heap used, bytes",
            "FE JVM GC time",
        }
        averaged = ("CPU per node", "Memory per node", "Disk used per node", "Memory used per node, bytes")
        for title in averaged + ("Disk I/O utilisation (busiest disk)", "Network received per node"):
            names = [t["name"] for t in figs[title]["data"]]
            assert names == [f"BE {h}" for h in BES] + ["cluster average"], (title, names)
        for title in ("Compaction score", "Tablets per node"):  # the busiest node matters, not a mean
            assert [t["name"] for t in figs[title]["data"]] == [f"BE {h}" for h in BES], title
        for title in ("FE JVM heap used", "FE JVM heap used, bytes", "FE JVM GC time"):
            assert [t["name"] for t in figs[title]["data"]] == ["FE 10.0.0.1"], title
        units = {title: fig["layout"]["yaxis"]["title"]["text"] for title, fig in figs.items()}
        assert units["Network sent per node"] == "bytes/s" and units["FE JVM GC time"] == "ms/s"
        assert units["Memory used per node, bytes"] == "bytes" and units["Disk I/O utilisation (busiest disk)"] == "%"
        [nodes] = at.dataframe
        assert sorted(nodes.value["host"]) == ["10.0.0.1", *BES]


# -- 2. the cards show the newest snapshot ---------------------------------------------------------------


def test_overview_cards_show_the_newest_snapshot(seeded_with_problems):
    at = open_page("overview")
    assert not at.exception
    [badge] = [m.value for m in at.sidebar.markdown]
    assert re.fullmatch(r":green-badge\[:material/schedule: collected \d+ (s|min) ago\]", badge), badge
    cards = {}
    for m in at.metric:
        dot, title = m.label.split(" ", 1)
        cards[title] = (dot, m.value)
    assert len(cards) == 15
    # Two hours of history are not enough for a forecast, and the card says so.
    assert cards["Disk 95 % forecast"] == (":gray[●]", "insufficient data")
    assert any(re.search(r"needs \d\.\d more hours of history", unescape(c.value)) for c in at.caption)
    assert cards["QPS"] == (":green[●]", "123.4/s")
    assert cards["p99 latency"] == (":green[●]", "456 ms")
    assert cards["Disk used"] == (":red[●]", "91.2 %")
    assert cards["BE alive"][1] == "2/3"
    assert cards["BE alive"][0] == ":orange[●]"  # one dead BE: warning
    assert cards["FE alive"] == (":green[●]", "1/1")
    assert cards["Avg memory"] == (":gray[●]", "n/a")
    assert cards["Avg CPU"] == (":green[●]", "30.0 %")

    assert "What is wrong now" in texts(at.subheader)
    problems = texts(at.error) + texts(at.warning)
    assert any(p.startswith(f"BE {DEAD_BE} down — since ") for p in problems), problems
    # critical, so an error; no collector evaluated the seeded rounds, so its alert is still to come
    assert "disk used 91.2 % > 90.0 % — alert pending: fires after 1m" in texts(at.error)
    assert not any("10.0.0.2" in p or "10.0.0.4" in p for p in problems)


def test_overview_of_past_dates_shows_the_cluster_as_it_was(env):
    """Custom dates in the past: the cards and problems of the range's last round, not of now."""
    cid = add_cluster(env["store"])
    now = time.time()
    then = {"status": "partial", "collect_ms": 9, "qps": 12.5, "backend_total": 3, "backend_alive": 2}
    dead = [{"role": "BE", "host": DEAD_BE, "alive": False}]
    env["store"].write_rounds(
        cid,
        [
            ({"ts": now - 2 * 86400 - 60, **then, "qps": 99.0}, dead),
            ({"ts": now - 2 * 86400, **then}, dead),
            (
                {"ts": now - 5, "status": "ok", "collect_ms": 9, "qps": 123.4, "backend_total": 3, "backend_alive": 3},
                [],
            ),
        ],
    )
    today = datetime.now(UTC).date()
    at = open_page("overview", range="custom", start=str(today - timedelta(days=3)), end=str(today - timedelta(days=1)))
    assert not at.exception
    cards = {m.label.split(" ", 1)[1]: m.value for m in at.metric}
    assert cards["QPS"] == "12.5/s" and cards["BE alive"] == "2/3"
    [subheader] = [t for t in texts(at.subheader) if t.startswith("What was wrong at ")]
    assert any(p.startswith(f"BE {DEAD_BE} down — since ") for p in texts(at.warning)), texts(at.warning)
    assert "Nothing is wrong right now." not in texts(at.success)
    assert "The forecast is as of now" in " ".join(texts(at.caption))
    # custom dates that end today show the newest round: that is now
    at = open_page("overview", range="custom", start=str(today - timedelta(days=3)), end=str(today))
    assert {m.label.split(" ", 1)[1]: m.value for m in at.metric}["QPS"] == "123.4/s"
    assert "What is wrong now" in texts(at.subheader)


def test_overview_says_nothing_is_wrong_for_a_healthy_cluster(env):
    cid = add_cluster(env["store"])
    seed_rounds(env["store"], cid, hours=0.5, dead_rounds=0)
    at = open_page("overview")
    assert not at.exception
    assert not at.error and not at.warning
    assert [s.value for s in at.success] == ["Nothing is wrong right now."]
    assert all(m.label.startswith(":green[●]") for m in at.metric if "QPS" not in m.label and "forecast" not in m.label)


# -- 3. the range changes the query window ---------------------------------------------------------------


def qps_points(at: AppTest) -> int:
    trace = figures(at)["Queries and requests per second"]["data"][0]
    assert trace["name"] == "QPS"
    return len(trace_values(trace["y"]))


def test_range_in_the_link_sets_the_window_and_bucket(seeded_with_problems):
    short = open_page("performance", range="1h")
    assert not short.exception
    assert short.caption[0].value.startswith(f"Last 1h, {bucket('1h')} s buckets")
    assert bucket("1h") == 30

    day = open_page("performance")  # no ?range=: the default 24h
    assert day.caption[0].value.startswith(f"Last 24h, {bucket('24h')} s buckets")

    week = open_page("performance", range="7d")
    assert week.caption[0].value.startswith(f"Last 7d, {bucket('7d')} s buckets")
    assert bucket("7d") == 404

    # Two hours of rounds a minute apart: 1h sees half of them, 24h all of them (one per bucket).
    assert 58 <= qps_points(short) <= 62
    assert 115 <= qps_points(day) <= 120
    assert qps_points(week) < qps_points(day)


def test_range_widget_changes_the_window(seeded_with_problems):
    at = open_page("performance")
    assert at.caption[0].value.startswith("Last 24h")
    at.segmented_control(key="range").set_value("6h").run()
    assert not at.exception
    assert at.caption[0].value.startswith(f"Last 6h, {bucket('6h')} s buckets")
    assert 115 <= qps_points(at) <= 120
    at.segmented_control(key="range").set_value("1h").run()
    assert at.caption[0].value.startswith("Last 1h, 30 s buckets")
    assert 58 <= qps_points(at) <= 62


def test_custom_range_renders_every_page(seeded_with_problems):
    at = open_page("performance")
    at.segmented_control(key="range").set_value("custom").run()
    assert not at.exception
    assert [d.label for d in at.date_input] == ["From", "To (inclusive)"]
    # The default custom range is the 7 days before today plus today, read from hourly rows; the
    # fixture's two hours of rounds were never rolled up, and the chart says so rather than draw nothing.
    caption = at.caption[0].value
    assert re.match(r"[A-Z][a-z]{2} \d\d – [A-Z][a-z]{2} \d\d, \d+ s buckets", caption), caption
    size = int(re.search(r"(\d+) s buckets", caption).group(1))
    assert size == TimeRange(0, 8 * 86400, "custom").bucket
    qps = figures(at)["Queries and requests per second"]
    assert not qps["data"] and "not rolled up yet" in qps["layout"]["annotations"][0]["text"]
    for page in ("overview", "resources", "data"):
        at.switch_page(PAGE[page]).run()
        assert not at.exception, (page, at.exception)


# -- 4. refresh collects a round, rate-limited ------------------------------------------------------------


def test_refresh_button_stores_one_new_round_and_is_rate_limited(env, emulator, monkeypatch):
    # a cooldown no slow re-render can outlast (AppTest runs the frame in this process)
    monkeypatch.setattr(frame, "REFRESH_COOLDOWN_SECONDS", 600)
    emu = emulator(ClusterSpec("live", workload=exact_workload()))
    d = emu.describe()[0]
    env["config"].write_text(
        "interval_seconds = 30\n[[clusters]]\n"
        f'name = "{d["name"]}"\nfe_host = "{d["fe_host"]}"\nhttp_port = {d["http_port"]}\n'
        f'query_port = {d["query_port"]}\nuser = "root"\n'
    )
    env["store"].sync_clusters((ClusterConfig(d["name"], d["fe_host"], d["http_port"], d["query_port"]),))
    cid = env["store"].cluster_ids()["live"]

    at = open_page("overview")
    assert not at.exception
    assert any("No data collected yet" in i.value for i in at.info)
    assert snapshot_rows(env["store"], cid) == []

    at.button(key="refresh").click().run()
    assert not at.exception, at.exception
    rows = snapshot_rows(env["store"], cid)
    assert len(rows) == 1 and rows[0][1] == "ok", rows
    assert len(at.metric) == 15  # the page now shows the collected round

    at.button(key="refresh").click().run()
    assert not at.exception
    assert len(snapshot_rows(env["store"], cid)) == 1
    waits = [i.value for i in at.sidebar.info]
    assert any("refresh again in" in w for w in waits), waits


# -- 5. empty states ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["overview", "performance", "resources", "data"])
def test_no_cluster_at_all(env, page):
    at = open_page(page)
    assert not at.exception
    assert any("No cluster is configured yet" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart") and not at.metric


def test_cluster_without_data(env):
    add_cluster(env["store"], "fresh", "10.0.0.9")
    for page in ("overview", "performance", "resources", "data"):
        at = open_page(page)
        assert not at.exception, (page, at.exception)
        assert any("No data collected yet" in unescape(i.value) for i in at.info), page
        assert not at.get("plotly_chart") and not at.metric


def test_data_page_without_statistics(seeded_with_problems):
    at = open_page("data")
    assert not at.exception
    assert any("No data-statistics pass yet" in i.value for i in at.info)


def test_unreachable_cluster_with_only_old_data(env):
    """The newest round is down and older than the range: pages explain, cards say n/a, nothing breaks."""
    cid = add_cluster(env["store"], "old", "10.0.3.1")
    env["store"].write_round(
        cid, {"ts": time.time() - 4 * 3600, "status": "down", "error": "connection refused", "collect_ms": 5000}, []
    )
    at = app(range="1h").run()
    assert not at.exception
    # no collector evaluated this round (none runs here): its alert is still to come
    assert [unescape(e.value) for e in at.error] == [
        "cluster unreachable: connection refused — alert pending: fires after 1m"
    ]
    cards = {m.label.split(" ", 1)[1]: m.value for m in at.metric}
    assert cards["Cluster status"] == "down" and cards["QPS"] == "n/a" and cards["BE alive"] == "n/a"
    assert [m.value for m in at.sidebar.markdown] == [":red-badge[:material/cloud_off: down: last round 4 h ago]"]
    for page in ("performance", "resources"):
        at.switch_page(PAGE[page]).run()
        assert not at.exception, (page, at.exception)
        assert all(not t.get("x") or not trace_values(t["x"]) for f in figures(at).values() for t in f["data"])


# -- 6. the clusters page --------------------------------------------------------------------------------


def add_form(at: AppTest, name: str, host: str, http_port: int = 8030, password: str = "") -> AppTest:
    """Fill the 'Add a cluster' form (the only form while no dashboard cluster exists) and press Save."""
    at.text_input[0].input(name)
    at.text_input[1].input(host)
    at.number_input[0].set_value(http_port)
    at.text_input[3].input(password)
    next(b for b in at.button if b.label == "Save").click()
    return at.run()


@pytest.mark.parametrize(
    "name, host, message",
    [
        ("new", "", "'fe_host' must be a non-empty host name or address"),
        ("new", "   ", "'fe_host' must be a non-empty host name or address"),
        ("", "10.0.0.5", "'name' must be 1-63 letters"),
        ("new", "evil host/x", "'fe_host' 'evil host/x' is not a valid host name or address"),
        ("prod", "10.0.0.5", "a cluster named 'prod' already exists"),
        ("PROD", "10.0.0.5", "a cluster named 'PROD' already exists"),
    ],
)
def test_clusters_page_rejects_bad_input_and_writes_nothing(seeded_with_problems, name, host, message):
    before = cluster_rows(seeded_with_problems["store"])
    at = open_page("clusters")
    assert [t.label for t in at.text_input] == ["Name", "FE host", "User", "Password", "Tags"]
    add_form(at, name, host, password="hunter2-secret")
    assert not at.exception
    errors = texts(at.error)
    assert any(message in e for e in errors), errors
    assert cluster_rows(seeded_with_problems["store"]) == before


def test_port_zero_cannot_be_saved(seeded_with_problems):
    """The browser keeps the port inputs within 1..65535 (Streamlit resets an out-of-range value to the
    default server-side), and the registry the form saves through refuses 0 itself and writes nothing."""
    store = seeded_with_problems["store"]
    at = open_page("clusters")
    assert {n.label: (n.min, n.max) for n in at.number_input} == {"HTTP port": (1, 65535), "MySQL port": (1, 65535)}
    add_form(at, "new", "10.0.0.5", http_port=0)
    assert not at.exception
    assert all(r["http_port"] >= 1 for r in cluster_rows(store))

    before = cluster_rows(store)
    secrets = Secrets.from_environment(store.key_file())
    for port in (0, 65536, -1):
        with pytest.raises(registry.ClusterError, match="'http_port' must be an integer from 1 to 65535"):
            registry.add(
                store,
                secrets,
                {"name": "other", "fe_host": "10.0.0.6", "http_port": port, "password": "pw"},
            )
    assert cluster_rows(store) == before


def test_clusters_page_adds_a_cluster_with_an_encrypted_password(seeded_with_problems):
    secret = "Sup3r-Secret-pa55word"
    at = open_page("clusters")
    add_form(at, "staging", "10.0.2.1", password=secret)
    assert not at.exception, at.exception
    assert not at.error
    rows = {r["name"]: r for r in cluster_rows(seeded_with_problems["store"])}
    assert set(rows) == {"prod", "staging"}
    added = rows["staging"]
    assert (added["source"], added["fe_host"], added["http_port"]) == ("ui", "10.0.2.1", 8030)
    assert added["password_encrypted"] and secret not in added["password_encrypted"]
    db = seeded_with_problems["db"]
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            assert secret.encode() not in path.read_bytes(), path
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["prod", "staging"]
    assert list(table["Password"]) == ["none", "stored (encrypted)"]
    assert not table.astype(str).apply(lambda col: col.str.contains(secret)).any().any()
    # Reopening the page later never shows it either.
    again = open_page("clusters")
    assert not again.exception
    assert secret not in again.dataframe[0].value.to_string()
    assert all(secret not in (t.value or "") for t in again.text_input)


# -- 7. auto-refresh -----------------------------------------------------------------------------------


def test_fragments_slide_a_relative_range_forward():
    """Auto-refresh redraws fragments without rerunning the frame: their range must follow the clock."""
    then = 1_790_000_000.0
    old = frame.slide(parse_range("1h", then), then)
    later = frame.slide(old, then + 300)
    assert later.label == "1h" and later.end - later.start == 3600
    assert then + 300 <= later.end < then + 300 + later.bucket and later.end > old.end
    custom = parse_range("custom", then, "2026-11-01", "2026-11-02")
    assert frame.slide(custom, then + 86400) == custom
