"""Fleet read benchmark (issue 16): every cluster's line at 200 clusters × 7 days, against one Overview.

`run(quick=False)` returns rows like bench_read's (`{"what", "compared_with", "target", "figures",
"met"}`); `python bench/bench_fleet.py [--quick]` prints them. Nothing is asserted.

How the data is generated
  * One cluster, 7 days, a round every 30 s: bench_read.build_one (20,160 snapshots, 100,800 node
    rows, fixed seed), then its hours rolled up by starmon.rollup (hourly_snapshots, node_hourly).
  * 200 clusters (20 with quick=True): that cluster's `metrics_snapshots`, `hourly_snapshots` and
    `node_hourly` copied per cluster, interleaved round by round as a collector writes them, floats
    scaled per cluster; 20 events per cluster over the week and a firing critical alert on every
    tenth. `node_snapshots` are not copied: the fleet never reads them (the Overview's figure
    comes from the 1-cluster file, which has them).
  * The Overview read is bench_read.overview_read (cards, problems, dead nodes, aggregates, 4 series)
    plus read.forecast, the disk forecast the Overview page draws beside them.
Timings are the best of a few runs with a warm page cache; the first run is shown beside them. The
fleet's first run also fits every disk forecast, which later runs reuse until the hourly tier
changes (starmon.fleet keeps them), as a page rerun every 30 s does.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import sqlalchemy as sa  # noqa: E402
from bench_read import (  # noqa: E402
    SNAP_COLS,
    SNAP_FLOATS,
    STEP,
    _bulk,
    _new_store,
    best_of,
    build_one,
    cluster_name,
    ms,
    overview_read,
)

from starmon import rollup, schema  # noqa: E402
from starmon.fleet import Fleet  # noqa: E402
from starmon.read import Reader, parse_range  # noqa: E402
from starmon.read import forecast as read_forecast  # noqa: E402
from starmon.store import Store  # noqa: E402

HOURLY_COLS = [c.name for c in schema.hourly_snapshots.c]
NODE_HOURLY_COLS = [c.name for c in schema.node_hourly.c]
EVENTS_PER_CLUSTER = 20


def _floats(table: sa.Table) -> set[str]:
    return {c.name for c in table.c if isinstance(c.type, schema.Float)} - {"ts"}


def build_fleet(path: Path, template: Path, clusters: int, now: float) -> float:
    """`clusters` copies of the template's rounds and hourly tiers, plus events and alerts; seconds taken."""
    t0 = time.perf_counter()
    ids = _new_store(path, clusters)
    with _bulk(path) as con:
        con.execute("ATTACH DATABASE ? AS tmpl", (str(template),))
        con.execute("CREATE TEMP TABLE ks (k INTEGER PRIMARY KEY, cid INTEGER, f REAL)")
        con.executemany(
            "INSERT INTO ks VALUES (?, ?, ?)", [(k, ids[cluster_name(k)], 1 + 0.004 * k) for k in range(clusters)]
        )

        def copy(table: str, cols: list[str], floats: set[str], order: str, special: dict[str, str]) -> None:
            picked = ", ".join(special.get(c, f"t.{c} * k.f" if c in floats else f"t.{c}") for c in cols)
            con.execute(
                f"INSERT INTO main.{table} ({','.join(cols)}) SELECT {picked} "
                f"FROM tmpl.{table} t CROSS JOIN ks k ORDER BY {order}"
            )

        con.execute("BEGIN")
        n = clusters
        copy(
            "metrics_snapshots",
            SNAP_COLS,
            SNAP_FLOATS,
            "t.id, k.k",
            {"id": f"(t.id - 1) * {n} + k.k + 1", "cluster_id": "k.cid"},
        )
        copy("hourly_snapshots", HOURLY_COLS, _floats(schema.hourly_snapshots), "t.ts, k.k", {"cluster_id": "k.cid"})
        copy("node_hourly", NODE_HOURLY_COLS, _floats(schema.node_hourly), "t.ts, k.k", {"cluster_id": "k.cid"})
        week = 7 * 86400
        con.executemany(
            "INSERT INTO events (cluster_id, ts, kind, subject, severity) VALUES (?, ?, 'node_restarted', ?, 'info')",
            [
                (ids[cluster_name(k)], now - week + (e + 0.5) * week / EVENTS_PER_CLUSTER, f"BE 10.0.0.{e}")
                for k in range(clusters)
                for e in range(EVENTS_PER_CLUSTER)
            ],
        )
        con.executemany(
            "INSERT INTO alerts (cluster_id, rule, subject, state, severity, message, started_at, last_seen_at, "
            "notifications, silenced) VALUES (?, 'node_down', 'BE 10.0.0.5', 'firing', 'critical', 'down', ?, ?, 0, 0)",
            [(ids[cluster_name(k)], now - 600, now) for k in range(0, clusters, 10)],
        )
        con.execute("COMMIT")
        con.execute("DETACH DATABASE tmpl")
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[dict]:
    repeat = 3 if quick else 5
    clusters = 20 if quick else 200
    work = Path(tempfile.mkdtemp(prefix="starmon-bench-fleet-"))
    try:
        now = float(int(time.time()) // STEP * STEP)
        one = work / "one.db"
        cid, _ = build_one(one, now - 5)
        store = Store(f"sqlite:///{one}")
        rollup.roll_up_span(store, cid, now - 8 * 86400, now, STEP, now=now)
        reader = Reader(store)
        first_ov, overview, _ = best_of(lambda: overview_read(reader, cid, now), repeat)
        both = lambda: (overview_read(reader, cid, now), read_forecast(reader, cid, 7, now))  # noqa: E731
        first_fc, with_fc, _ = best_of(both, repeat)
        store.close()

        many = work / "fleet.db"
        built = build_fleet(many, one, clusters, now)
        store = Store(f"sqlite:///{many}")
        timings = {}
        for label in ("7d", "24h", "1h"):
            tr = parse_range(label, now)
            timings[label] = best_of(lambda tr=tr: Fleet(store).read(tr, now=now), repeat)
        found = timings["7d"][2]
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first, fleet_7d, _ = timings["7d"]
    ratio = fleet_7d / with_fc
    return [
        {
            "what": f"Fleet read (starmon.fleet.Fleet.read), 7d, {clusters} clusters × 7 days in one DB: newest "
            "round, QPS trend, events, firing critical alerts and an hourly disk forecast per cluster, ranked",
            "compared_with": "one cluster's Overview read on a 1-cluster DB: bench_read's overview_read plus "
            "read.forecast",
            "target": "within 3×",
            "figures": f"{ms(fleet_7d)} (first run, fitting every disk: {ms(first)}) vs {ms(with_fc)} "
            f"(first {ms(first_fc)}; without the "
            f"forecast {ms(overview)}, first {ms(first_ov)}) = {ratio:.2f}×; 24h {ms(timings['24h'][1])}, 1h "
            f"{ms(timings['1h'][1])}; {len(found)} clusters ranked, {len(found[0].qps_trend)} trend points each; "
            f"DB generated in {built:.1f} s",
            "met": ratio <= 3,
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 clusters rather than 200")
    args = parser.parse_args()
    for r in run(quick=args.quick):
        mark = {True: "MET", False: "MISSED", None: "-"}[r["met"]]
        print(f"{r['what']}\n   vs {r['compared_with']}\n   target: {r['target']}  [{mark}]\n   {r['figures']}\n")


if __name__ == "__main__":
    main()
