"""Fleet read benchmark (issue 16): every cluster's line at 200 clusters × 7 days, against one Overview.

`run(quick=False)` returns rows like bench_read's (`{"what", "compared_with", "target", "figures",
"met"}`); `python bench/bench_fleet.py [--quick]` prints them. Nothing is asserted.

How the data is generated
  * One cluster, 7 days, a round every 30 s: benchdb.build_one (20,160 snapshots, 100,800 node
    rows, fixed seed), then its hours rolled up by starmon.rollup (hourly_snapshots, node_hourly).
  * 200 clusters (20 with quick=True): that cluster's `metrics_snapshots`, `hourly_snapshots` and
    `node_hourly` copied per cluster (benchdb.copy_clusters), interleaved round by round as a
    collector writes them, floats scaled per cluster; 20 events per cluster over the week and a
    firing critical alert on every tenth. `node_snapshots` are not copied: the fleet never reads
    them (the Overview's figure comes from the 1-cluster file, which has them).
  * The Overview read is bench_read.overview_read (cards, problems, dead nodes, aggregates, 4 series)
    plus read.forecast, the disk forecast the Overview page draws beside them.
Timings are the best of a few runs with a warm page cache; the first run is shown beside them. A
read refits at most fleet.FITS_PER_READ clusters' disk forecasts (starmon.fleet keeps them until a
cluster's hourly tier changes or the hour turns), so two more rows are timed read by read: a fresh
process, which has fitted nothing yet, and the hour turning (every kept fit stale at once), each
until every cluster has its fit.
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

from bench_read import best_of, ms, overview_read  # noqa: E402
from benchdb import STEP, build_one, bulk, cluster_name, copy_clusters  # noqa: E402

from starmon import fleet, rollup  # noqa: E402
from starmon.fleet import Fleet  # noqa: E402
from starmon.read import Reader, parse_range  # noqa: E402
from starmon.read import forecast as read_forecast  # noqa: E402
from starmon.store import Store  # noqa: E402

EVENTS_PER_CLUSTER = 20


def build_fleet(path: Path, template: Path, clusters: int, now: float) -> float:
    """`clusters` copies of the template's rounds and hourly tiers, plus events and alerts; seconds taken."""
    t0 = time.perf_counter()
    n = clusters
    by_round = {"id": f"(t.id - 1) * {n} + k.k + 1", "cluster_id": "k.cid"}
    tiers = {"cluster_id": "k.cid"}
    ids = copy_clusters(
        path,
        template,
        clusters,
        {
            "metrics_snapshots": ("t.id, k.k", by_round),
            "hourly_snapshots": ("t.ts, k.k", tiers),
            "node_hourly": ("t.ts, k.k", tiers),
        },
    )
    week = 7 * 86400
    with bulk(path) as con:
        con.execute("BEGIN")
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
    return time.perf_counter() - t0


def refits(store: Store, label: str, now: float, repeat: int) -> tuple[float, float, int]:
    """The reads after the hour turns, `repeat` times (every kept fit stale at once): the best of the
    reads that refit FITS_PER_READ clusters, the slowest read of all, and how many reads it took
    until every cluster was refitted."""
    refitting, slowest, reads = [], 0.0, 0
    for turn in range(1, repeat + 1):
        at = now + turn * 3600  # a later hour: every cluster's hourly window moved
        done = 0
        while True:
            t0 = time.perf_counter()
            found = Fleet(store).read(parse_range(label, at), now=at)
            took = time.perf_counter() - t0
            done += 1
            slowest = max(slowest, took)
            if all(c.forecast_at == at for c in found):
                break
            refitting.append(took)  # a read that refitted a full share (the last may refit fewer)
        reads = max(reads, done)
    return min(refitting or [slowest]), slowest, reads


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
        cold, found = [], []  # a fresh process: never-fitted clusters are fitted FITS_PER_READ a read
        while not found or any(c.forecast_at is None for c in found):
            t0 = time.perf_counter()
            found = Fleet(store).read(parse_range("7d", now), now=now)
            cold.append(time.perf_counter() - t0)
        timings = {}
        for label in ("7d", "24h", "1h"):
            tr = parse_range(label, now)
            timings[label] = best_of(lambda tr=tr: Fleet(store).read(tr, now=now), repeat)
        refit, slowest, reads = refits(store, "7d", now, repeat)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fleet_7d = timings["7d"][1]
    ratio, refit_ratio = fleet_7d / with_fc, refit / with_fc
    usual = (
        f"{ms(fleet_7d)} vs {ms(with_fc)} (first {ms(first_fc)}; without the forecast {ms(overview)}, first "
        f"{ms(first_ov)}) = {ratio:.2f}×; 24h {ms(timings['24h'][1])}, 1h {ms(timings['1h'][1])}; "
        f"{len(found)} clusters ranked, {len(found[0].qps_trend)} trend points each; DB generated in {built:.1f} s"
    )
    refitted = (
        f"{ms(refit)} (best of the reads refitting {fleet.FITS_PER_READ} clusters after the hour turned, "
        f"{repeat} turns) vs {ms(with_fc)} = {refit_ratio:.2f}×; every cluster refitted in {reads} reads, the "
        f"slowest read {ms(slowest)}; a fresh process: {' / '.join(ms(t) for t in cold)} over {len(cold)} reads "
        "until every cluster had a forecast"
    )
    what = (
        f"Fleet read (starmon.fleet.Fleet.read), 7d, {clusters} clusters × 7 days in one DB: newest round, QPS "
        "trend, events, firing critical alerts and an hourly disk forecast per cluster, ranked"
    )
    compared = "one cluster's Overview read on a 1-cluster DB: bench_read's overview_read plus read.forecast"
    return [
        {"what": what, "compared_with": compared, "target": "within 3×", "figures": usual, "met": ratio <= 3},
        {
            "what": f"Same, the reads that refit disk forecasts (at most {fleet.FITS_PER_READ} clusters a read)",
            "compared_with": "the same",
            "target": "within 3×",
            "figures": refitted,
            "met": refit_ratio <= 3,
        },
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
