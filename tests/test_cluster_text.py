"""Text from a cluster (node hosts, errors, database, table, MV and schema-change names, user names) is
shown as text on every page: never as markdown, HTML or a link, in charts' legends neither."""

from __future__ import annotations

import html
import json
import re
import time

import pytest
from hypothesis import given
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon.secrets import Secrets
from starmon.ui.text import plain

from .fixtures import (
    HOSTILE,
    HOSTILE_BOLD,
    HOSTILE_COLOR,
    HOSTILE_HTML,
    HOSTILE_LINK,
    HOSTILE_MATH,
    PAGES,
    add_cluster,
    open_link,
    open_page,
    seed_rounds,
    unescape,
)
from .strategies import FAST, shown_text

_MARKDOWN_KINDS = (
    "markdown",
    "caption",
    "warning",
    "error",
    "info",
    "success",
    "header",
    "subheader",
    "title",
    "toast",
    "exception",
)


def markdown_texts(at: AppTest) -> list[str]:
    """Every string Streamlit renders as markdown: bodies of text elements, labels and help of everything."""
    out = [e.value for kind in _MARKDOWN_KINDS for e in at.get(kind) if isinstance(e.value, str)]

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        for field in ("label", "help", "body"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value:
                out.append(value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def unescaped(text: str) -> str:
    """The text with every backslash-escaped character blanked: what is left renders as markdown."""
    return re.sub(r"\\.", "\x00", text, flags=re.S)


@pytest.fixture
def hostile(env):
    store = env["store"]
    alpha = add_cluster(store, "alpha")
    seed_rounds(
        store,
        alpha,
        hours=7,
        step=600,
        fe=HOSTILE_COLOR,
        bes=(HOSTILE_BOLD, HOSTILE_HTML, "10.0.0.4"),
        dead=HOSTILE_HTML,
        dead_rounds=3,
        node_error=HOSTILE_LINK,
    )
    now = time.time()
    tables = [
        {"db_name": db, "table_name": name, "data_bytes": 10**9 * (i + 1), "row_count": 10 * i}
        for i, (db, name) in enumerate(zip(HOSTILE, reversed(HOSTILE)))
    ]
    for ts, grow in ((now - 3600, 0), (now - 60, 1)):
        store.write_statistics(
            alpha,
            {
                "ts": ts,
                "status": "partial",
                "error": "; ".join(HOSTILE),
                "collect_ms": 40,
                "database_count": 5,
                "table_count": 5,
                "total_data_bytes": 15 * 10**9,
                "total_rows": 100,
                "mv_total": 5,
                "mv_active": 0,
                "mv_inactive": 5,
                "mv_failed": 5,
                "schema_change_running": 5,
                "schema_change_pending": 0,
                "top_tables": [
                    {"db": t["db_name"], "table": t["table_name"], "bytes": t["data_bytes"], "rows": t["row_count"]}
                    for t in tables
                ],
                "materialized_views": [
                    {"db": h, "name": h, "active": False, "inactive_reason": h, "state": "FAILED", "error": h}
                    for h in HOSTILE
                ],
                "schema_changes": [
                    {
                        "db": h,
                        "table": h,
                        "state": "RUNNING",
                        "progress": "50%",
                        "created": "2026-01-01 00:00:00",
                        "message": h,
                    }
                    for h in HOSTILE
                ],
            },
            [{**t, "data_bytes": t["data_bytes"] + grow * 10**8} for t in tables],
        )
    beta = add_cluster(store, "beta", "10.0.1.1")
    seed_rounds(
        store,
        beta,
        hours=1,
        step=300,
        dead=None,
        newest={"status": "partial", "error": f"show_proc /backends: {HOSTILE_LINK}"},
    )
    gamma = add_cluster(store, "gamma", "10.0.2.1")
    seed_rounds(store, gamma, hours=1, step=300, dead=None, newest={"status": "down", "error": HOSTILE_MATH})
    secrets = Secrets.from_environment(store.key_file())
    registry.add(
        store, secrets, {"name": "delta", "fe_host": "10.0.3.1", "user": HOSTILE_HTML + HOSTILE_BOLD, "password": "pw"}
    )
    return env


@given(shown_text(60))
@FAST
def test_plain_shows_any_text_as_it_is(text):
    assert unescape(plain(text)) == text


@pytest.mark.parametrize(
    "text",
    ["bob@example.com", "www.evil.example", "WWW.evil.example", "https://evil.example/x", "mailto:bob@example.com"],
)
def test_plain_breaks_what_markdown_would_link(text):
    shown = re.sub(r"\\(.)", r"\1", plain(text))  # escapes resolved, as the browser does
    assert not re.search(r"@(?!\u2060)|(?i:www)\.|://", shown), shown
    assert shown.replace("\u2060", "") == text


def test_text_from_the_cluster_is_shown_literally_on_every_page(hostile):
    seen: list[str] = []
    for cluster in ("alpha", "beta", "gamma", "delta"):
        for page in PAGES:
            at = open_link(page, cluster=cluster)
            assert not at.exception, (cluster, page, at.exception)
            assert at.selectbox(key="cluster").value == cluster
            texts = markdown_texts(at)
            for text in texts:
                for bad in HOSTILE:
                    assert bad not in unescaped(text), (cluster, page, bad, text)
                # GFM links "https://..." even when escaped: a word joiner must sit after the ":".
                assert "://evil" not in re.sub(r"\\(.)", r"\1", text), (cluster, page, text)
            for chart in at.get("plotly_chart"):  # Plotly renders <a>, <b>, ... in trace names
                for trace in json.loads(chart.proto.spec)["data"]:
                    named = trace.get("name", "") + trace.get("hovertemplate", "")
                    assert "<" not in named.replace("<extra>", "").replace("</extra>", ""), (cluster, page, trace)
                    seen.append(html.unescape(trace.get("name", "")))
            seen += [unescape(t) for t in texts]
    # The names are shown (escaped), not dropped: each reached at least one markdown element.
    for bad in HOSTILE:
        assert any(bad in text for text in seen), bad
    assert any(f"BE {HOSTILE_HTML} down — since" in text for text in seen)
    assert f"BE {HOSTILE_HTML}" in seen and f"BE {HOSTILE_BOLD}" in seen  # chart legends, as text
    assert any(f"BE {HOSTILE_BOLD} first" in text for text in seen)  # the disk forecast
    pending = " — alert pending: fires after"  # no collector evaluated these rounds
    assert any(t.startswith(f"partial collection: show_proc /backends: {HOSTILE_LINK}{pending}") for t in seen)
    assert any(t.startswith(f"cluster unreachable: {HOSTILE_MATH}{pending}") for t in seen)


def test_data_page_renders_cluster_text_literally(env):
    store = env["store"]
    cid = add_cluster(store, "x_y", "10.0.0.1")
    seed_rounds(store, cid, hours=0.5, dead_rounds=0)
    now = time.time()
    for ts, size in ((now - 1800, 10**9), (now - 60, 2 * 10**9)):
        tables = [
            {"db_name": "sales", "table_name": HOSTILE_HTML, "data_bytes": size, "row_count": 1000},
            {"db_name": HOSTILE_LINK, "table_name": "orders", "data_bytes": size // 2, "row_count": 10},
        ]
        store.write_statistics(
            cid,
            {
                "ts": ts,
                "status": "partial",
                "error": f"materialized views: {HOSTILE_LINK}",
                "collect_ms": 40,
                "database_count": 2,
                "table_count": 2,
                "total_data_bytes": size * 3 // 2,
                "total_rows": 1010,
                "mv_total": 1,
                "mv_active": 0,
                "mv_inactive": 1,
                "mv_failed": 1,
                "schema_change_running": 1,
                "schema_change_pending": 0,
                "top_tables": [
                    {"db": t["db_name"], "table": t["table_name"], "bytes": t["data_bytes"], "rows": t["row_count"]}
                    for t in tables
                ],
                "materialized_views": [
                    {
                        "db": "sales",
                        "name": HOSTILE_HTML,
                        "active": False,
                        "inactive_reason": HOSTILE_LINK,
                        "state": "FAILED",
                        "error": HOSTILE_LINK,
                    }
                ],
                "schema_changes": [
                    {
                        "db": "sales",
                        "table": HOSTILE_HTML,
                        "state": "RUNNING",
                        "progress": "50%",
                        "created": "2026-01-01 00:00:00",
                        "message": HOSTILE_LINK,
                    }
                ],
            },
            tables,
        )

    at = open_page("data")
    assert not at.exception, at.exception
    assert unescape(at.header[0].value) == "Data · x_y"
    shown = [
        e.value
        for kind in ("markdown", "caption", "warning", "error", "info", "success", "header", "subheader")
        for e in getattr(at, kind)
    ]
    assert shown
    for text in shown:
        assert "[click](javascript:" not in text, text
        assert not re.search(r"(?<!\\)<img", text), text
    assert any(
        unescape(w.value) == f"The last pass was partial: materialized views: {HOSTILE_LINK}" for w in at.warning
    )
    # The names are still there, as plain cells.
    frames = [df.value for df in at.dataframe]
    cells = {str(v) for df in frames for v in df.to_numpy().ravel()}
    assert HOSTILE_HTML in cells and HOSTILE_LINK in cells
    tables = next(df for df in frames if "growth_bytes" in df.columns)  # the Tables grid (Databases comes first)
    growth = tables.set_index("table")
    assert growth.loc[HOSTILE_HTML, "growth_bytes"] == 10**9
