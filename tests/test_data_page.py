"""The Data page shows the numbers the emulated catalogue was told to serve (issue 13, items 8, 9, 13).

Statistics passes come from the real statistics code reading an emulated cluster at two times
(`demo.ReplaySource`, the same queries and parsers as a live pass), so every size, count and
growth below is checked against `starmon.emulator.catalog`. AppTest checks what the page sends;
one Chromium test checks what a user sees (text drawn on the grid's canvas, the CSV file).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pytest
from playwright.sync_api import expect

from starmon import datastats
from starmon.config import ClusterConfig
from starmon.demo import ReplaySource
from starmon.emulator import ClusterSpec, catalog
from starmon.export import to_csv
from starmon.round import fetch_statistics
from starmon.store import Store

from .browser import SCREENSHOTS, browser, dashboard_env, dashboard_server, needs_chromium, page, visit  # noqa: F401
from .fixtures import HOSTILE_BOLD, HOSTILE_HTML, add_cluster, open_page, seed_rounds, trace_values, unescape

USER_TABLES = [t for t in catalog.TABLES if t.db != "_statistics_"]
# A refresh error longer than any cell, with text markdown and HTML would act on.
LONG_ERROR = f"{HOSTILE_BOLD} {HOSTILE_HTML} " + "Memory of query_pool exceed limit. " * 30 + "END"
FAILING_MV = "mv_top_customers"


def passes(store: Store, cluster_id: int, model, times: list[float], error: str = LONG_ERROR) -> None:
    """Statistics passes of the emulated catalogue at `times`, stored as the collector stores them;
    the failing MV's error replaced by `error`, as a cluster could send it."""
    for t in times:
        with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright's sync API runs one here
            stats, sizes = thread.submit(asyncio.run, fetch_statistics(ReplaySource(model, t))).result()
        assert stats["status"] == "ok", stats["error"]
        for mv in stats["materialized_views"]:
            if mv["name"] == FAILING_MV:
                mv["error"] = error
        store.write_statistics(cluster_id, {**stats, "ts": t}, sizes)


def size_at(model, name: str, t: float) -> int:
    return catalog.table_size(model, next(x for x in catalog.TABLES if x.name == name), t)


def decimal(n: float) -> str:
    """A size as the cards print it, written out here independently: decimal units, one decimal."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


@pytest.fixture
def catalogue(env, emulator):
    """Cluster `prod` with half an hour of rounds and passes of the emulated catalogue 23 h 55 min
    and 1 min ago (inside a 24h range, the first one interval after its start)."""
    model = emulator(ClusterSpec("prod")).cluster("prod")
    store = env["store"]
    cid = add_cluster(store)
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    now = time.time()
    env.update(model=model, cluster_id=cid, first=now - 86100, last=now - 60)
    passes(store, cid, model, [env["first"], env["last"]])
    return env


def frames(at) -> dict[str, object]:
    """The page's dataframes by their first column labels' tail (the table's own columns)."""
    out = {}
    for element in at.dataframe:
        labels = labels_of(element)
        key = "databases" if "share" in labels else "tables" if "size_bytes" in labels else "views"
        key = "schema" if "progress" in labels else key
        out.setdefault(key, []).append(element)
    return out


def labels_of(element) -> dict[str, str]:
    """Column name -> the header the browser shows (the hidden index left out)."""
    columns = json.loads(element.proto.columns)
    return {name: conf.get("label", name) for name, conf in columns.items() if name != "_index"}


def shown_cells(element) -> pd.DataFrame:
    """The text a styled table draws in each cell (the Styler's display values)."""
    return pa.ipc.open_stream(element.proto.arrow_data.styler.display_values).read_pandas()


# -- item 8 and 13: one set of tables, decimal sizes everywhere ----------------------------------------------


def test_cards_and_table_count_the_same_tables_in_decimal_units(catalogue):
    at = open_page("data")
    assert not at.exception, at.exception
    model, last = catalogue["model"], catalogue["last"]
    cards = {m.label: m.value for m in at.metric}
    [tables] = frames(at)["tables"]
    df = tables.value
    # _statistics_ is StarRocks' own: neither listed nor counted, nor in the total.
    assert "_statistics_" not in set(df["database"])
    assert cards["Tables"] == str(len(USER_TABLES)) == str(len(df))
    assert cards["Databases"] == str(len({t.db for t in USER_TABLES}))
    total = sum(size_at(model, t.name, last) for t in USER_TABLES)
    assert df["size_bytes"].sum() == total
    assert cards["Total size"] == decimal(total)  # ~6.6 TB; 1024-steps said 6.0 "TB"
    # Rows are largest first, and each size reads like the card: "2.7 TB", "398.5 MB", "2.0 KB".
    assert list(df["size_bytes"]) == sorted(df["size_bytes"], reverse=True)
    cells = shown_cells(tables).set_index(df["table"].to_numpy())
    for name in ("page_views", "products", "test_small"):
        assert cells.loc[name, "size_bytes"] == decimal(size_at(model, name, last)), name
    assert re.fullmatch(r"\d+\.\d (KB|MB|GB|TB)|\d+ B", cells.loc["fx_rates", "size_bytes"])


def test_growth_is_shown_beside_size_in_one_table(catalogue):
    """The largest and the fastest-growing tables were two near-identical lists: now one table,
    sortable by either, whose growth header says what it measures."""
    at = open_page("data")
    model, first, last = catalogue["model"], catalogue["first"], catalogue["last"]
    [tables] = frames(at)["tables"]
    df = tables.value.set_index("table")
    grown = size_at(model, "page_views", last) - size_at(model, "page_views", first)
    assert df.loc["page_views", "growth_bytes"] == grown > 0
    assert df.loc["customers", "growth_bytes"] == 0  # takes no loads
    cells = shown_cells(tables).set_index(df.index)
    assert cells.loc["page_views", "growth_bytes"] == "+" + decimal(grown)
    assert cells.loc["customers", "growth_bytes"] == "0 B"
    assert [s.value for s in at.subheader] == [
        "Size over time",
        "Databases",
        "Tables",
        "Materialized views",
        "Schema changes",
    ]
    assert labels_of(tables)["growth_bytes"] == "Growth over 24h"


def test_total_size_over_time_is_each_passes_total(catalogue):
    """The size chart draws one point per statistics pass of the range, each the pass's total
    (user tables only), on an axis in decimal bytes."""
    at = open_page("data")
    assert not at.exception, at.exception
    model, first, last = catalogue["model"], catalogue["first"], catalogue["last"]
    [chart] = [
        c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["layout"]["title"]["text"] == "Total data size"
    ]
    figure = json.loads(chart.proto.spec)
    [trace] = figure["data"]
    sizes = trace_values(trace["y"])
    assert sizes == [sum(size_at(model, t.name, when) for t in USER_TABLES) for when in (first, last)]
    assert sizes[1] > sizes[0]  # page_views and friends take loads
    assert "markers" in trace["mode"]
    assert figure["layout"]["yaxis"]["ticksuffix"] == "B" and figure["layout"]["yaxis"]["tickformat"] == "~s"


def test_size_over_time_says_why_a_range_has_no_pass(env, emulator):
    """A range with no pass draws no axes: it says no pass read a size there, and when the newest was;
    the Databases section says it has no sizes either."""
    model = emulator(ClusterSpec("prod")).cluster("prod")
    store = env["store"]
    cid = add_cluster(store)
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    passes(store, cid, model, [time.time() - 3 * 3600])
    at = open_page("data", range="1h")
    assert not at.exception, at.exception
    [chart] = at.get("plotly_chart")
    [note] = json.loads(chart.proto.spec)["layout"]["annotations"]
    assert note["text"].startswith("<b>No data in this range</b>")
    assert "No statistics pass read the data size in the last 1h." in note["text"].replace("<br>", " ")
    assert "No statistics pass with table sizes in the last 1h." in [c.value for c in at.caption]
    assert "databases" not in frames(at)


def test_databases_sum_their_tables_at_the_last_pass(catalogue):
    at = open_page("data")
    model, last = catalogue["model"], catalogue["last"]
    [databases] = frames(at)["databases"]
    df = databases.value.set_index("database")
    expected = {}
    for t in USER_TABLES:
        size, count = expected.get(t.db, (0, 0))
        expected[t.db] = (size + size_at(model, t.name, last), count + 1)
    assert set(df.index) == set(expected)  # _statistics_ is StarRocks' own: not a user database
    for db, (size, count) in expected.items():
        assert (df.loc[db, "size_bytes"], df.loc[db, "tables"]) == (size, count), db
    assert list(df["size_bytes"]) == sorted(df["size_bytes"], reverse=True)
    total = sum(size for size, _ in expected.values())
    assert df["share"].sum() == pytest.approx(100)
    cells = shown_cells(databases).set_index(df.index)
    biggest = df.index[0]
    assert cells.loc[biggest, "size_bytes"] == decimal(expected[biggest][0])
    assert cells.loc[biggest, "share"] == f"{100 * expected[biggest][0] / total:.1f} %"
    assert labels_of(databases)["share"] == "Share"
    [caption] = [unescape(c.value) for c in at.caption if c.value.startswith("Sizes as of") and "database" in c.value]
    assert "_statistics_, information_schema" in caption  # literally, not "statistics" in italics


def test_growth_says_since_when_history_began_inside_the_range(env, emulator):
    model = emulator(ClusterSpec("prod")).cluster("prod")
    store = env["store"]
    cid = add_cluster(store)
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    now = time.time()
    passes(store, cid, model, [now - 3 * 3600])
    at = open_page("data")
    [tables] = frames(at)["tables"]
    assert labels_of(tables)["growth_bytes"] == "Growth"
    assert tables.value["growth_bytes"].isna().all()
    assert any(
        "Growth needs two statistics passes inside the range; the last 24h has one" in c.value for c in at.caption
    )
    passes(store, cid, model, [now - 60])
    at = open_page("data")
    [tables] = frames(at)["tables"]
    assert re.fullmatch(r"Growth since [A-Z][a-z]{2} \d\d \d\d:\d\d", labels_of(tables)["growth_bytes"])


def test_headers_are_words_and_downloads_keep_machine_names(catalogue):
    at = open_page("data")
    found = frames(at)
    assert len(found["tables"]) == 1 and len(found["views"]) == 2 and len(found["schema"]) == 1
    assert len(found["databases"]) == 1
    for element in at.dataframe:
        columns = list(element.value.columns)
        assert all(re.fullmatch(r"[a-z_]+", c) for c in columns), columns  # what the CSV is written with
        headers = labels_of(element)
        assert set(headers) == set(columns), (headers, columns)
        for header in headers.values():
            assert "_" not in header and header[0].isupper(), header
    [tables] = found["tables"]
    assert list(tables.value.columns) == ["database", "table", "size_bytes", "rows", "growth_bytes"]


def test_a_styled_table_downloads_its_numbers():
    """The page shows sizes as text through a Styler; the CSV beside it keeps the bytes."""
    df = pd.DataFrame({"table": ["=cmd", "t"], "size_bytes": [6_540_000_000_000, None]})
    styled = df.style.format({"size_bytes": lambda v: f"{v / 1e12:.1f} TB"}, na_rep="n/a")
    assert to_csv(styled) == to_csv(df) == b"table,size_bytes\n'=cmd,6540000000000.0\nt,\n"


# -- item 9: what is missing reads "n/a" ------------------------------------------------------------------------


def test_missing_values_read_n_a(catalogue):
    at = open_page("data")
    assert at.dataframe and all(e.proto.placeholder == "n/a" for e in at.dataframe)
    [changes] = frames(at)["schema"]
    progress = changes.value.set_index("table")["progress"]
    assert progress["order_items"] == "45%"
    assert pd.isna(progress["sessions"])  # StarRocks sent "N/A": missing, like every other gap
    views = frames(at)["views"][-1].value.set_index("name")  # all materialized views
    assert views.loc["mv_daily_revenue", ["error", "inactive_reason"]].isna().all()


def test_what_starrocks_sends_for_nothing_is_missing():
    jobs = [
        {"_db": "d", "TableName": t, "State": "PENDING", "Progress": p, "CreateTime": "NULL", "Msg": ""}
        for t, p in (("a", "N/A"), ("b", "n/a"), ("c", "45%"))
    ]
    changes = datastats.summarize([], [], None, jobs)["schema_changes"]
    assert [(c["progress"], c["created"], c["message"]) for c in changes] == [
        (None, None, None),
        (None, None, None),
        ("45%", None, None),
    ]


def test_starrocks_own_databases_are_not_the_users_tables():
    rows = [
        {"TABLE_SCHEMA": db, "TABLE_NAME": "t", "DATA_LENGTH": "10", "TABLE_ROWS": "1"}
        for db in ("sales", "_statistics_", "information_schema", "sys", "starrocks_monitor")
    ]
    tables = datastats.table_sizes(rows)
    assert [t["db_name"] for t in tables] == ["sales"]
    stats = datastats.summarize(tables, ["sales", "_statistics_", "information_schema", "sys"], None, None)
    assert (stats["database_count"], stats["table_count"], stats["total_data_bytes"]) == (1, 1, 10)


# -- item 13: a failing MV's whole error, as text ------------------------------------------------------------


def test_failing_views_errors_can_be_read_whole_as_text(catalogue):
    at = open_page("data")
    assert [e.label for e in at.expander][:1] == ["Full messages"]
    codes = [c.value for c in at.code]
    assert LONG_ERROR in codes  # st.code: shown as it is, never as markdown or HTML
    assert "base-table schema changed for columns: amount" in codes  # the inactive view's reason
    labels = [unescape(c.value) for c in at.caption]
    assert f"sales.{FAILING_MV}, refresh error:" in labels
    assert "finance.mv_ledger_summary, why inactive:" in labels


# -- in a browser ---------------------------------------------------------------------------------------------

# Every string the page draws on a canvas (the dataframes' cells and headers) with where it went
# on the screen: [text, x, y] in page pixels.
RECORD_CANVAS_TEXT = """
window.__drawn = [];
const fill = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const at = this.getTransform().transformPoint(new DOMPoint(x, y));
    const box = this.canvas.getBoundingClientRect();
    window.__drawn.push([String(text), box.left + at.x / devicePixelRatio, box.top + at.y / devicePixelRatio]);
    return fill.call(this, text, x, y, ...rest);
};
"""


@needs_chromium
def test_data_page_in_a_browser(tmp_path, emulator, page):
    """What the user sees: sizes like the cards, "n/a" and never "None", Title-Case headers, sorting
    by number, the whole error as text, and a CSV in bytes."""
    model = emulator(ClusterSpec("prod")).cluster("prod")
    config = '[[clusters]]\nname = "prod"\nfe_host = "127.0.0.1"\nhttp_port = 1\n'
    env = dashboard_env(tmp_path, demo=False, collector=False, config=config)
    db_url = env["STARMON_DB_URL"]
    store = Store(db_url)
    store.sync_clusters((ClusterConfig("prod", "127.0.0.1", 1),))
    cid = store.cluster_ids()["prod"]
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    now = time.time()
    passes(store, cid, model, [now - 86100, now - 60])
    store.close()
    page.add_init_script(RECORD_CANVAS_TEXT)
    page.set_viewport_size({"width": 1440, "height": 900})
    with dashboard_server(tmp_path, env) as url:
        visit(page, f"{url}/data?cluster=prod")
        grids = page.get_by_test_id("stDataFrame")
        tables = grids.nth(1)  # the Databases grid comes first
        expect(tables).to_be_visible()
        page.wait_for_timeout(1000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "data-tables.png"))

        # Sorting by Size is by number (as text, "398.5 MB" would sort after "2.7 TB"). The grid sits
        # below the size chart and the Databases grid: its header is found where it was drawn, before
        # anything scrolls, then clicked at the same place in the grid once scrolled into view.
        box = tables.bounding_box()
        headers = [d for d in page.evaluate("window.__drawn") if d[0] == "Size" and box["y"] <= d[2] <= box["y"] + 60]
        _, x, y = headers[-1]
        tables.scroll_into_view_if_needed()
        moved = tables.bounding_box()
        page.mouse.click(moved["x"] + x - box["x"] + 5, moved["y"] + y - box["y"])
        page.wait_for_timeout(800)
        sizes = tables.locator("tbody td[aria-colindex='3']").all_inner_texts()  # the grid's own values
        order = [int(size) for size in sizes]
        assert len(order) > 3 and order == sorted(order), sizes

        page.get_by_text("All materialized views").click()
        page.get_by_text("Full messages").click()
        page.wait_for_timeout(1500)
        drawn = {text for text, _, _ in page.evaluate("window.__drawn")}
        assert "None" not in drawn and "N/A" not in drawn, sorted(drawn)
        assert "n/a" in drawn
        assert {"Database", "Table", "Size", "Rows", "Growth over 24h", "Progress", "Refresh error"} <= drawn
        assert decimal(size_at(model, "page_views", now - 60)) in drawn  # "2.7 TB": as the cards print sizes
        assert "_statistics_" not in drawn
        total = page.get_by_test_id("stMetric").filter(has_text="Total size")
        expect(total).to_contain_text(decimal(sum(size_at(model, t.name, now - 60) for t in USER_TABLES)))

        # The whole error, as text: its markdown and HTML are characters on the screen.
        block = page.get_by_test_id("stCode").filter(has_text="END")
        expect(block).to_contain_text(LONG_ERROR)

        # The CSV holds bytes under machine names.
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").nth(1).click()
        rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
        assert rows[0] == ["database", "table", "size_bytes", "rows", "growth_bytes"]
        csv_rows = {r[1]: r for r in rows[1:]}
        first_size = size_at(model, "page_views", now - 86100)
        assert csv_rows["page_views"][2] == str(size_at(model, "page_views", now - 60))
        assert csv_rows["page_views"][4] == str(size_at(model, "page_views", now - 60) - first_size)
