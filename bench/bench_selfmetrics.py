"""Scrape cost of starmon's own `GET /metrics` (starmon/selfmetrics.py) for many clusters.

`run(quick=False)` returns rows like bench/run.py's, `{"what", "compared_with", "target", "figures",
"met"}`; `python bench/bench_selfmetrics.py [--quick]` prints them. Nothing is asserted.

The database: N clusters (200, or 20 with --quick), each with one day of rounds every 30 s and
5 node rows per round (benchdb's deterministic generator, copied per cluster and interleaved
as a collector writes them). One day rather than bench_read's seven keeps the file near 1 GB;
the forecast's cost per cluster over seven days is bench_read's "Disk-full forecast" row.

A scrape is `generate_latest` of selfmetrics' private registry, as the route answers it. Three
cases: the first scrape (no forecast kept: it fits as many as FIT_BUDGET_SECONDS allows), how
many scrapes until every cluster has one, and a scrape with every forecast kept (what almost
every scrape costs). The clock is moved on by REFIT_SECONDS, with a new round for every cluster,
to time a scrape that has every forecast to redo again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

import benchdb  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from starmon import selfmetrics  # noqa: E402
from starmon.store import Store  # noqa: E402


def build(work: Path, clusters: int, end_ts: float) -> Path:
    """The N-cluster database, one day each: a 1-cluster template copied N times (benchdb.build_many)."""
    template, many = work / "one.db", work / "many.db"
    benchdb.build_one(template, end_ts, benchdb.DAY_ROUNDS)
    benchdb.build_many(many, template, clusters)
    template.unlink()
    return many


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(quick: bool = False) -> list[dict]:
    clusters = 20 if quick else 200
    work = Path(tempfile.mkdtemp(prefix="starmon-bench-selfmetrics-"))
    try:
        end_ts = time.time()
        built, path = timed(lambda: build(work, clusters, end_ts))
        store = Store(f"sqlite:///{path}")
        clock = [end_ts + 1]
        collector = selfmetrics.ClusterCollector(store, 7, clock=lambda: clock[0])
        registry = CollectorRegistry(auto_describe=False)  # as selfmetrics.registry builds it, with our clock
        registry.register(collector)
        scrape = lambda: generate_latest(registry)  # noqa: E731

        first, body = timed(scrape)
        fitted_first = len(collector._fits)
        scrapes, filling = 1, first
        while len(collector._fits) < clusters:
            took, body = timed(scrape)
            scrapes, filling = scrapes + 1, filling + took
        dated = body.count(b"starmon_cluster_disk_time_to_full_seconds{")
        warm = min(timed(scrape)[0] for _ in range(5))

        # every cluster gets a newer round and the fits age past REFIT_SECONDS: all are stale again
        store.write(
            lambda conn: conn.exec_driver_sql(
                "INSERT INTO metrics_snapshots (cluster_id, ts, status, collect_ms) "
                "SELECT id, ?, 'ok', 100 FROM clusters",
                (end_ts + 30,),
            )
        )
        clock[0] += selfmetrics.REFIT_SECONDS + 60
        stale, _ = timed(scrape)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per_fit = first / max(fitted_first, 1)
    return [
        {
            "what": f"GET /metrics scrape, {clusters} clusters × 1 day of rounds (every forecast kept)",
            "compared_with": "the first scrape, with no forecast kept yet",
            "target": "a scrape well under Prometheus' 10 s default timeout",
            "figures": f"{warm * 1000:.1f} ms warm (best of 5, {len(body) / 1024:.0f} KiB, {dated} clusters with a "
            f"disk-full date) vs first {first:.2f} s ({fitted_first} forecasts fitted, {per_fit * 1000:.0f} ms each; "
            f"budget {selfmetrics.FIT_BUDGET_SECONDS:g} s); every forecast present after {scrapes} scrapes "
            f"({filling:.1f} s in all); with every fit stale again: {stale:.2f} s; DB built in {built:.0f} s",
            "met": warm < 1.0 and max(first, stale) < 10.0,
        }
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 clusters instead of 200")
    for row in run(quick=parser.parse_args().quick):
        print(f"{row['what']}\n  vs {row['compared_with']}\n  target: {row['target']}\n  {row['figures']}")


if __name__ == "__main__":
    main()
