"""Read-path benchmarks: the Overview over 7 days, 1 vs 100 clusters, the page through AppTest, bytes per round.

`run(quick=False)` returns one row per measurement, `{"what", "compared_with", "target", "figures", "met"}`;
`python bench/bench_read.py [--quick]` prints them as a table. Nothing is asserted.

Inputs are deterministic: every database is generated from a fixed seed (numpy default_rng) into a
temporary directory that is removed afterwards. Timings are the best of a few repetitions
(time.perf_counter) with a warm OS page cache; the first (cold Store) run is shown beside them.

How the data is generated (bench/benchdb.py, shared with the other read benchmarks)
  * One cluster, 7 days (1 with quick=True), one round every 30 s: 20,160 `metrics_snapshots` rows and
    5 `node_snapshots` rows per round (2 FEs and 3 BEs; BE 3 is dead for the last 20 rounds). The reads
    always ask for 7 days, so with quick=True they go through the same code over fewer rows.
  * N clusters (100, or 10 with quick=True): the 1-cluster database copied N times, interleaved round
    by round as a collector writes them, every float scaled by a per-cluster factor.
  * Bytes per cluster-round: rounds written through `Store.write_round` (the collector's path), one
    transaction per cluster per round, WAL checkpointed before each file-size reading.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import pandas as pd  # noqa: E402
from benchdb import (  # noqa: E402
    NODES_PER_ROUND,
    STEP,
    as_dicts,
    build_many,
    build_one,
    cluster_name,
    days,
    file_bytes,
    held_rounds,
    make_rounds,
    new_store,
)

from starmon import health, wrong_now  # noqa: E402
from starmon.config import Config  # noqa: E402
from starmon.read import MAX_POINTS, Reader, find_cluster, health_at, parse_range  # noqa: E402
from starmon.read import forecast as read_forecast  # noqa: E402
from starmon.store import Store  # noqa: E402

SERIES = ["qps", "query_latency_p99", "avg_cpu_usage", "disk_usage_pct"]
MAIN = str(ROOT / "starmon" / "ui" / "main.py")
SETTINGS = Config(db_url="")  # the default cards and alert rules: what wrong_now.problems judges by

# -- timing helpers ----------------------------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first run, best run) in seconds, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times[0], min(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


# -- the two read paths ----------------------------------------------------------------------------------


def figure_json(df: pd.DataFrame) -> str:
    """The chart as st.plotly_chart pays for it: 4 traces, serialised."""
    from starmon.ui import charts

    fig = charts.lines(df, {c: c for c in SERIES}, "Overview, 7 days", "UTC")
    return fig.to_json()


def overview_read(reader: Reader, cluster_id: int, now: float, chart: bool = False) -> dict:
    """What the Overview reads: newest and first snapshots, dead nodes, aggregates, cards, problems and the
    4 bucketed series; with `chart`, also the figure built from them and serialised."""
    tr = parse_range("7d", now)
    state = health_at(reader, cluster_id, tr)
    agg = reader.aggregates(cluster_id, tr)
    df = reader.series(cluster_id, tr, SERIES)
    return {
        "cards": state.cards,
        "problems": wrong_now.problems(reader, find_cluster(reader, cluster_id), state, SETTINGS, tr, now),
        "aggregates": agg,
        "points": len(df),
        "dead": state.dead_nodes,
        "json": len(figure_json(df)) if chart else None,
    }


def naive_read(store: Store, cluster_id: int, now: float) -> dict:
    """Every raw row of the 7 days into pandas, cards from its ends, a figure of every point."""
    tr = parse_range("7d", now)
    with store.reader.connect() as conn:
        df = pd.read_sql(
            sa_text("SELECT * FROM metrics_snapshots WHERE cluster_id = :c AND ts >= :a AND ts <= :b ORDER BY ts"),
            conn,
            params={"c": cluster_id, "a": tr.start, "b": tr.end},
        )
    values = health.cards(df.iloc[-1].to_dict(), df.iloc[0].to_dict())
    df["time"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    return {"cards": values, "points": len(df), "json": len(figure_json(df))}


def sa_text(sql: str):
    import sqlalchemy as sa

    return sa.text(sql)


# -- 1 and 2: read path --------------------------------------------------------------------------------------


def bench_read_path(work: Path, quick: bool, rows: list[dict]) -> dict:
    repeat = 3 if quick else 5
    now = float(int(time.time()) // STEP * STEP)
    one = work / "one.db"
    rounds = held_rounds(quick)
    cid, gen_one = build_one(one, now - 5, rounds)
    store = Store(f"sqlite:///{one}")
    reader = Reader(store)
    first_fast, fast, result = best_of(lambda: overview_read(reader, cid, now), repeat)
    _, charted, with_chart = best_of(lambda: overview_read(reader, cid, now, chart=True), repeat)
    first_naive, naive, naive_result = best_of(lambda: naive_read(store, cid, now), repeat)
    _, fc_one, _ = best_of(lambda: read_forecast(reader, cid, 7, now), repeat)
    store.close()
    ratio = naive / fast
    rows.append(
        {
            "what": f"Overview read path, 7d, 1 cluster ({rounds:,} snapshots, {rounds * NODES_PER_ROUND:,} node "
            "rows): Reader.latest, first_in, dead_nodes, aggregates, health.cards/problems and Reader.series "
            "of 4 columns",
            "compared_with": "naive: pd.read_sql of all columns for 7 days + go.Figure of 4 traces of every point "
            "+ to_json()",
            "target": "≥ 10× faster; ≤ 1,500 points per series",
            "figures": f"{ms(fast)} vs naive {ms(naive)} = {ratio:.1f}× (first runs {ms(first_fast)} vs "
            f"{ms(first_naive)}); with the same figure built from the buckets and serialised: "
            f"{ms(charted)} = {naive / charted:.1f}×; {result['points']} points per series vs "
            f"{naive_result['points']:,}; figure JSON {with_chart['json'] / 1024:,.0f} KiB vs "
            f"{naive_result['json'] / 1024:,.0f} KiB; DB generated in {gen_one:.1f} s, {mib(file_bytes(one))}",
            "met": ratio >= 10 and result["points"] <= MAX_POINTS,
        }
    )

    clusters = 10 if quick else 100
    many = work / "many.db"
    gen_many = build_many(many, one, clusters)
    size_many = file_bytes(many)
    store = Store(f"sqlite:///{many}")
    reader = Reader(store)
    ids = store.cluster_ids()
    picks = sorted({ids[cluster_name(0)], ids[cluster_name(clusters // 2)], ids[cluster_name(clusters - 1)]})
    per_cluster, firsts, fcs = [], [], []
    for pick in picks:
        first, best, res = best_of(lambda pick=pick: overview_read(reader, pick, now), repeat)
        assert res["points"] == result["points"]
        per_cluster.append(best)
        firsts.append(first)
        fcs.append(best_of(lambda pick=pick: read_forecast(reader, pick, 7, now), repeat)[1])
    store.close()
    worst = max(per_cluster)
    with sqlite3.connect(many) as con:
        n_snap = con.execute("SELECT count(*) FROM metrics_snapshots").fetchone()[0]
        n_node = con.execute("SELECT count(*) FROM node_snapshots").fetchone()[0]
    rows.append(
        {
            "what": f"Same read path, {clusters} clusters × {days(rounds)} in one DB ({n_snap:,} snapshots, "
            f"{n_node:,} node rows, rounds interleaved as a collector writes them)",
            "compared_with": "the 1-cluster figure above",
            "target": "within 2×",
            "figures": f"{' / '.join(ms(t) for t in per_cluster)} (clusters {', '.join(map(str, picks))}; first runs "
            f"{' / '.join(ms(t) for t in firsts)}) vs {ms(fast)} = {worst / fast:.2f}× worst; "
            f"generated in {gen_many:.1f} s, {mib(size_many)} "
            f"({size_many / (n_snap or 1):,.0f} B per cluster-round)",
            "met": worst <= 2 * fast,
        }
    )
    rows.append(
        {
            "what": "Disk-full forecast (read.forecast, 7 days of 10-minute buckets, cluster and per BE), which the "
            "Overview recomputes whenever a new round lands",
            "compared_with": f"1 cluster vs {clusters} clusters in one DB",
            "target": "(informational)",
            "figures": f"{ms(fc_one)} vs {' / '.join(ms(t) for t in fcs)} = {max(fcs) / fc_one:.2f}× worst",
            "met": None,
        }
    )
    return {
        "one": one,
        "rounds": rounds,
        "many": many,
        "clusters": clusters,
        "size_many": size_many,
        "n_snap": n_snap,
        "now": now,
    }


# -- 3: the page through AppTest --------------------------------------------------------------------------------


def bench_page(work: Path, one: Path, rounds: int, quick: bool, rows: list[dict]) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    repeat = 3 if quick else 5
    config = work / "starmon.toml"
    config.write_text("interval_seconds = 30\n")
    saved = {
        k: os.environ.get(k) for k in ("STARMON_DB_URL", "STARMON_CONFIG", "STARMON_DEMO", "STARMON_EMBEDDED_COLLECTOR")
    }
    os.environ.update(
        STARMON_DB_URL=f"sqlite:///{one}", STARMON_CONFIG=str(config), STARMON_DEMO="0", STARMON_EMBEDDED_COLLECTOR="0"
    )
    logging.disable(logging.WARNING)  # AppTest outside a server warns about the missing runtime on every run
    st.cache_data.clear()
    st.cache_resource.clear()

    def page(label: str, cold: bool) -> Callable[[], object]:
        def go():
            if cold:
                st.cache_data.clear()
            at = AppTest.from_file(MAIN, default_timeout=120)
            at.query_params["range"] = label
            at.run()
            if at.exception:
                raise RuntimeError(f"Overview failed: {at.exception}")
            return len(at.metric)

        return go

    try:
        out = {}
        for label in ("7d", "1h"):
            page(label, False)()  # warm up
            _, warm, cards = best_of(page(label, False), repeat)
            _, cold, _ = best_of(page(label, True), repeat)
            out[label] = (warm, cold, cards)
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        logging.disable(logging.NOTSET)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    (w7, c7, cards), (w1, c1, _) = out["7d"], out["1h"]
    rows.append(
        {
            "what": f"Overview page through AppTest (frame + page, {cards} cards), 7d range, 1 cluster with "
            f"{days(rounds)}, "
            "cached loaders warm",
            "compared_with": "the same page with the 1h range",
            "target": "within 2×",
            "figures": f"{ms(w7)} vs {ms(w1)} = {w7 / w1:.2f}× (best of {repeat} after one warm-up)",
            "met": w7 <= 2 * w1,
        }
    )
    rows.append(
        {
            "what": "Same, st.cache_data cleared before every run (what the first view after a new round pays)",
            "compared_with": "the same page with the 1h range, cache cleared",
            "target": "within 2×",
            "figures": f"{ms(c7)} vs {ms(c1)} = {c7 / c1:.2f}× (best of {repeat})",
            "met": c7 <= 2 * c1,
        }
    )


# -- 4: bytes on disk per cluster-round ------------------------------------------------------------------------


def bench_bytes(work: Path, quick: bool, read_info: dict, rows: list[dict]) -> None:
    clusters = 10
    warmup, measured = (60, 240) if quick else (120, 1440)
    path = work / "bytes.db"
    ids = new_store(path, clusters)
    now = float(int(time.time()) // STEP * STEP)
    snaps, nodes = make_rounds(warmup + measured, now)
    rounds = as_dicts(snaps, nodes)
    store = Store(f"sqlite:///{path}")
    order = [ids[cluster_name(k)] for k in range(clusters)]

    def write(block) -> float:
        t0 = time.perf_counter()
        for snap, ns in block:
            for cid in order:
                store.write_round(cid, snap, ns)
        return time.perf_counter() - t0

    write(rounds[:warmup])
    before = file_bytes(path)
    took = write(rounds[warmup:])
    after = file_bytes(path)
    store.close()
    per_round = (after - before) / (measured * clusters)

    if read_info["clusters"] == 10:
        week, week_rounds = read_info["size_many"], read_info["n_snap"]
    else:
        week_db = work / "week10.db"
        build_many(week_db, read_info["one"], 10)
        week, week_rounds = file_bytes(week_db), read_info["rounds"] * 10
        week_db.unlink()
    per_week_round = week / week_rounds
    big = read_info["size_many"] / read_info["n_snap"]
    rows.append(
        {
            "what": f"Bytes on disk per cluster-round (1 snapshot + {NODES_PER_ROUND} node rows, with their indexes)",
            "compared_with": f"file growth over {measured} rounds × {clusters} clusters written by Store.write_round "
            f"(after {warmup} warm-up rounds), WAL checkpointed; and whole {days(read_info['rounds'])} × 10-cluster DB",
            "target": "≤ 2 KB (2,048 B) per cluster-round",
            "figures": f"{per_round:,.0f} B per cluster-round by growth ({ms(took / (measured * clusters))} per "
            f"write_round); {days(read_info['rounds'])} × 10 clusters = {mib(week)} = {per_week_round:,.0f} B per "
            "cluster-round"
            + (f" ({read_info['clusters']} clusters: {big:,.0f} B)" if read_info["clusters"] != 10 else ""),
            "met": max(per_round, per_week_round) <= 2048,
        }
    )


# -- entry points ----------------------------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="starmon-bench-read-"))
    try:
        info = bench_read_path(work, quick, rows)
        bench_page(work, info["one"], info["rounds"], quick, rows)
        info["many"].unlink()
        bench_bytes(work, quick, info, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def print_table(rows: list[dict]) -> None:
    mark = {True: "MET", False: "MISSED", None: "-"}
    for i, r in enumerate(rows, 1):
        print(
            f"{i}. {r['what']}\n   vs {r['compared_with']}\n   target: {r['target']}  [{mark[r['met']]}]\n"
            f"   {r['figures']}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (10 clusters), under a minute")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = run(quick=args.quick)
    print_table(rows)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
