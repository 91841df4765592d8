"""What the tests share, in one place: paths of the app, emulator and store helpers, seeded rounds.

Plain constants and functions live here; the pytest fixtures built on them live in conftest.py.
Test modules import from here, never from one another.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import socket
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from starmon import schema
from starmon.config import ClusterConfig, Config
from starmon.emulator import Emulator, Workload
from starmon.read import RANGES, TimeRange
from starmon.scheduler import Collector
from starmon.store import Store
from starmon.ui.text import WORD_JOINER

# -- paths -------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
# Copies of shared/starrocks/samples, so a fresh clone runs the tests on its own.
SAMPLES = Path(__file__).resolve().parent / "samples"
# The dashboard's frame script, and its pages as AppTest.switch_page wants them (relative to the frame).
MAIN = str(ROOT / "starmon" / "ui" / "main.py")
PAGES = ("overview", "performance", "resources", "data", "events", "queries", "alerts", "clusters")
PAGE = {name: f"../../pages/{name}.py" for name in PAGES}

# Text a cluster (or a link) could send that markdown, HTML or an autolink would act on.
HOSTILE_HTML = "<img src=x onerror=alert(1)>"
HOSTILE_LINK = "[click](javascript:alert(1))"
HOSTILE_BOLD = "**bold**"
HOSTILE_COLOR = ":red[x]"
HOSTILE_MATH = "$x$"
HOSTILE_URL = "https://evil.example/login"  # GFM would link these even when escaped
HOSTILE = (HOSTILE_HTML, HOSTILE_LINK, HOSTILE_BOLD, HOSTILE_COLOR, HOSTILE_MATH, HOSTILE_URL)


# -- text --------------------------------------------------------------------------------------------------


def unescape(text: str) -> str:
    """What the browser shows for markdown text escaped by starmon.ui.text.plain."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")


# -- emulated clusters ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exact_workload(**overrides) -> Workload:
    """A workload without noise, daily swing or random events, so numbers can be checked exactly."""
    return Workload(**{"noise": 0.0, "daily_amplitude": 0.0, "events": False, **overrides})


def cluster_configs(clusters: Emulator | list[dict], **overrides) -> tuple[ClusterConfig, ...]:
    """ClusterConfig entries pointing at every cluster of an emulator (admin user 'root'): an Emulator
    in this process, or what an emulator process described (starmon.emulator.process)."""
    described = clusters.describe() if isinstance(clusters, Emulator) else clusters
    fields = {"user": "root", "password": "", **overrides}
    return tuple(
        ClusterConfig(
            name=d["name"], fe_host=d["fe_host"], http_port=d["http_port"], query_port=d["query_port"], **fields
        )
        for d in described
    )


# -- databases -----------------------------------------------------------------------------------------------

# The storage, collector, rollup and read tests run on every engine given here. SQLite always;
# PostgreSQL when STARMON_TEST_PG_URL names a database the tests may empty (.ci/run sets it).
ENGINES = ["sqlite"] + (["postgresql"] if os.environ.get("STARMON_TEST_PG_URL") else [])


def fresh_url(engine: str, tmp_path: Path) -> str:
    """A database URL with no starmon tables in it yet."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'starmon.db'}"
    url = os.environ["STARMON_TEST_PG_URL"]
    engine_ = sa.create_engine(url)
    # Every table there, not only today's schema's: a table another version of starmon left (one
    # referencing clusters) would otherwise block dropping the rest.
    found = sa.MetaData()
    found.reflect(engine_)
    found.drop_all(engine_)
    engine_.dispose()
    return url


# -- the clusters table --------------------------------------------------------------------------------------


def cluster_rows(store: Store) -> list[dict]:
    """Every row of the clusters table, in the order they were added."""
    with store.reader.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(schema.clusters).order_by(schema.clusters.c.id))]


def add_cluster(store: Store, name: str = "prod", host: str = "10.0.0.1") -> int:
    """Declare one more cluster as starmon.toml does, keeping the ones declared before (and any added
    through the Clusters page, which the file does not touch); returns its id."""
    declared = tuple(ClusterConfig.from_row(r) for r in cluster_rows(store) if r["source"] == "file" and r["enabled"])
    store.sync_clusters(declared + (ClusterConfig(name, host),))
    return store.cluster_ids()[name]


# -- rounds ----------------------------------------------------------------------------------------------------

BES = ("10.0.0.2", "10.0.0.3", "10.0.0.4")
DEAD_BE = "10.0.0.3"


def seed_rounds(
    store: Store,
    cluster_id: int,
    *,
    hours: float = 2,
    step: int = 60,
    fe: str = "10.0.0.1",
    bes: tuple[str, ...] = BES,
    dead: str | None = DEAD_BE,
    dead_rounds: int = 5,
    node_error: str = "heartbeat timed out",
    newest: dict | None = None,
) -> float:
    """One round per `step` s over the last `hours`, every field of a snapshot filled; returns the newest ts.

    BE `dead` is down (with `node_error`) for the last `dead_rounds` rounds, which are "partial"; with
    `dead` None or `dead_rounds` 0 every round is "ok". BE disks fill at different rates, the first BE
    fastest, so a forecast over enough hours names it. The newest round's snapshot gets `newest`.
    """
    now = time.time()
    times = [now - 5 - i * step for i in range(int(hours * 3600 / step))][::-1]
    rounds = []
    for i, ts in enumerate(times):
        down = dead is not None and i >= len(times) - dead_rounds
        be_used = [5 * 10**11 + i * 10**9 // (n + 1) for n in range(len(bes))]
        qps = 50.0 + i % 7
        snapshot = {
            "ts": ts,
            "status": "partial" if down else "ok",
            "error": None,
            "collect_ms": 12,
            "qps": qps,
            "rps": 60.0 + i % 5,
            "query_latency_p50": 20.0,
            "query_latency_p95": 80.0,
            "query_latency_p99": 150.0,
            "query_error_rate": 0.1,
            "query_timeout_rate": 0.0,
            "frontend_total": 1,
            "frontend_alive": 1,
            "backend_total": len(bes),
            "backend_alive": len(bes) - down,
            "avg_cpu_usage": 30.0,
            "avg_memory_usage": 40.0,
            "disk_usage_pct": 100 * sum(be_used) / (len(bes) * 10**12),
            "disk_total_bytes": len(bes) * 10**12,
            "disk_used_bytes": sum(be_used),
            "tablet_count": 1200,
            "max_compaction_score": 5.0,
            "txn_running": 2,
            "load_running": 1,
            "fe_jvm_heap_used_bytes": 2 * 2**30,
            "fe_jvm_heap_max_bytes": 8 * 2**30,
            "connections": 12 + i % 3,
            "running_queries": 3 + i % 4,
            "txn_begin_per_second": 0.5,
            "txn_success_per_second": 0.48,
            "txn_failed_per_second": 0.02,
            "load_finished_per_second": 0.2,
            "load_failed_per_second": 0.02,
            "routine_load_lag": 20_000 + 100 * (i % 9),
        }
        nodes = [
            {
                "role": "FE",
                "host": fe,
                "alive": True,
                "is_leader": True,
                "version": "3.3.5",
                "qps": qps,
                "query_latency_p99": 150.0,
                "jvm_heap_used_bytes": 2 * 2**30,
                "jvm_heap_max_bytes": 8 * 2**30,
                "jvm_gc_ms_per_second": 0.5 + i % 3,
                "cpu_pct": 10.0,
                "mem_pct": 25.0,
            }
        ]
        for n, host in enumerate(bes):
            alive = not (down and host == dead)
            nodes.append(
                {
                    "role": "BE",
                    "host": host,
                    "alive": alive,
                    "version": "3.3.5",
                    "cpu_pct": 20.0 + 10 * n if alive else None,
                    "mem_pct": 30.0 + n if alive else None,
                    "disk_total_bytes": 10**12,
                    "disk_used_bytes": be_used[n],
                    "tablet_count": 400,
                    "mem_used_bytes": (20 + n) * 10**9 if alive else None,
                    "compaction_score": 10.0 + n if alive else None,
                    "disk_io_util_pct": 20.0 + 5 * n if alive else None,
                    "net_receive_bytes_per_second": (2 + n) * 10**6 if alive else None,
                    "net_send_bytes_per_second": (1 + n) * 10**6 if alive else None,
                    "error": None if alive else node_error,
                }
            )
        rounds.append((snapshot, nodes))
    if newest:
        rounds[-1][0].update(newest)
    store.write_rounds(cluster_id, rounds)
    return times[-1]


# The newest round of the `seeded_with_problems` fixture: a BE down, the disk past critical, no memory figure.
NEWEST = {
    "qps": 123.4,
    "query_latency_p99": 456.0,
    "disk_usage_pct": 91.2,
    "backend_total": 3,
    "backend_alive": 2,
    "avg_memory_usage": None,
}


# -- days of history, copied from real rounds (contention and load) -----------------------------------------

HISTORY_DAYS = 3
HISTORY_STEP = 30  # seconds between seeded rounds, as the default interval


def real_rounds(configs: tuple[ClusterConfig, ...], tmp_path) -> dict[str, tuple[dict, list[dict]]]:
    """One real round of every cluster, collected into a scratch file: the templates of history."""
    scratch = Store(f"sqlite:///{tmp_path / 'template.db'}")
    collector = Collector(Config(db_url=scratch.url, clusters=configs, timeout_seconds=2.0), scratch)
    try:
        results = collector.run_round()
        assert all(r.status == "ok" for r in results), results
        templates = {}
        s, n = schema.metrics_snapshots, schema.node_snapshots
        for cid, cluster in collector.clusters():
            with scratch.reader.connect() as conn:  # the rows as stored, whatever the collector holds in memory
                snapshot = dict(conn.execute(sa.select(s).where(s.c.cluster_id == cid)).one()._mapping)
                nodes = [dict(r._mapping) for r in conn.execute(sa.select(n).where(n.c.snapshot_id == snapshot["id"]))]
            templates[cluster.name] = (snapshot, nodes)
    finally:
        collector.close()
        scratch.close()
    return templates


def seed_history(
    store: Store,
    cluster_id: int,
    template: tuple[dict, list[dict]],
    *,
    end: float,
    days: float = HISTORY_DAYS,
    step: int = HISTORY_STEP,
    chunk: int = 2000,
) -> int:
    """Copies of a real round (snapshot and node rows) every `step` s over the `days` before `end`,
    with a daily QPS swing and disks that fill steadily. Returns the rounds written.

    Bulk inserts (one statement per chunk) keep this to a few seconds; the live rounds that
    follow go through the collector's own write path.
    """
    s, n = schema.metrics_snapshots, schema.node_snapshots
    snapshot, nodes = template
    skip = {"id", "snapshot_id", "cluster_id", "ts"}
    snapshot = {k: v for k, v in snapshot.items() if k not in skip}
    nodes = [{k: v for k, v in node.items() if k not in skip} for node in nodes]
    count = int(days * 86400 / step)
    with store.reader.connect() as conn:
        next_id = (conn.execute(sa.select(sa.func.max(s.c.id))).scalar() or 0) + 1
    for first in range(0, count, chunk):
        snaps, node_rows = [], []
        for i in range(first, min(first + chunk, count)):
            ts = end - (count - i) * step
            swing = 1 + 0.3 * math.sin(2 * math.pi * ts / 86400)
            fill = 0.8 + 0.2 * i / count  # disks were 20 % emptier `days` ago
            snap = {**snapshot, "id": next_id, "cluster_id": cluster_id, "ts": ts}
            for key in ("qps", "rps"):
                if snap[key] is not None:
                    snap[key] *= swing
            if snap["disk_used_bytes"] is not None:
                snap["disk_used_bytes"] = int(snap["disk_used_bytes"] * fill)
                snap["disk_usage_pct"] = 100 * snap["disk_used_bytes"] / snap["disk_total_bytes"]
            snaps.append(snap)
            for node in nodes:
                row = {**node, "snapshot_id": next_id, "cluster_id": cluster_id, "ts": ts}
                if row["disk_used_bytes"] is not None:
                    row["disk_used_bytes"] = int(row["disk_used_bytes"] * fill)
                if row["qps"] is not None:
                    row["qps"] *= swing
                node_rows.append(row)
            next_id += 1
        with store.writer.begin() as conn:
            conn.execute(s.insert(), snaps)
            conn.execute(n.insert(), node_rows)
    return count


def store_with_history(configs: tuple[ClusterConfig, ...], tmp_path, db_url: str) -> dict[str, int]:
    """Fill the database at `db_url` with the given clusters and HISTORY_DAYS of history each, up to now,
    copied from one real round of each; returns the cluster ids by name."""
    templates = real_rounds(configs, tmp_path)
    store = Store(db_url)
    try:
        store.sync_clusters(configs)
        ids = store.cluster_ids()
        now = time.time()
        for name, template in templates.items():
            seed_history(store, ids[name], template, end=now)
    finally:
        store.close()
    return ids


# -- the dashboard in this process (AppTest) -------------------------------------------------------------------


def clear_caches() -> None:
    """Empty Streamlit's caches: the dashboard's loaders keep the Store and the Config per process."""
    st.cache_data.clear()
    st.cache_resource.clear()


def use_dashboard(monkeypatch, db_url: str, config: Path) -> None:
    """Point the dashboard run by AppTest at this database and config file, with no encryption key
    from the environment and empty caches."""
    monkeypatch.setenv("STARMON_DB_URL", db_url)
    monkeypatch.setenv("STARMON_CONFIG", str(config))
    monkeypatch.delenv("STARMON_SECRET_KEY", raising=False)
    monkeypatch.delenv("STARMON_SECRET_KEY_FILE", raising=False)
    clear_caches()


def app(**query) -> AppTest:
    """The frame script as an AppTest, not run yet, opened with these link parameters."""
    at = AppTest.from_file(MAIN, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def open_page(page: str, **query) -> AppTest:
    """Run the frame once (its default page, the Overview), then switch to `page` and run it: a visitor
    who opens the dashboard and picks a page in the sidebar."""
    at = app(**query).run()
    if page != "overview":
        at.switch_page(PAGE[page]).run()
    return at


def open_link(page: str, **query) -> AppTest:
    """Open `page` straight from a link with these query parameters: one run, on that page."""
    at = app(**query)
    if page != "overview":
        at.switch_page(PAGE[page])
    return at.run()


def bucket(label: str) -> int:
    """The bucket in seconds the pages draw a relative range (1h, 24h, ...) with."""
    return TimeRange(0, RANGES[label], label).bucket


def figures(at: AppTest) -> dict[str, dict]:
    """Plotly figures on the page by title."""
    out = {}
    for el in at.get("plotly_chart"):
        fig = json.loads(el.proto.spec)
        out[fig["layout"]["title"]["text"]] = fig
    return out


def trace_values(array) -> list:
    """A trace's x or y: a plain list, or Plotly's typed-array encoding {"dtype", "bdata"}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


# -- passwords that must not leak --------------------------------------------------------------------------------

PW = "Sup3r-S3cret-pw!"  # the emulator's admin password, configured for starmon


def needles(password: str) -> list[bytes]:
    """Every form the password could leak in."""
    basic = base64.b64encode(f"root:{password}".encode())
    return [
        password.encode(),
        password.encode("utf-16-le"),
        password.encode("utf-16-be"),
        quote(password).encode(),
        quote(password, safe="").encode(),
        base64.b64encode(password.encode()),
        basic,
        basic.decode().encode(),
    ]


def assert_absent(blob: bytes | str, where: str, *passwords: str) -> None:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    for password in passwords or (PW,):
        for needle in needles(password):
            assert needle not in data, f"{password!r} found in {where} as {needle!r}"
        if isinstance(blob, str):
            assert password.lower() not in blob.lower(), f"{password!r} found in {where}"


def ui_dump(at: AppTest) -> bytes:
    """Every element of the page: its serialized proto, text form, and value/label/help/placeholder."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(proto.SerializeToString())
            out.append(str(proto).encode("utf-8", "surrogateescape"))
        for attr in ("value", "label", "help", "placeholder"):
            try:
                value = getattr(node, attr)
            except Exception:  # some elements have no such attribute, or need a value they lack
                continue
            out.append(repr(value).encode("utf-8", "surrogateescape"))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(out)
