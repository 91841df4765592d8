"""Alert evaluation at 200 clusters: its cost per cluster-round, what it adds to a round, and the
replay of the demo week's alert history.

The collector evaluates every cluster's rules right after storing its round, from the round it
holds in memory (nothing read back), so this cost is paid 200 times every interval. Two cases:
nothing firing (a healthy fleet: the evaluation writes nothing) and one alert firing on every
cluster (the Avg CPU card's warning level set to 0 %: every evaluation updates it in a write
transaction). The clusters run in an emulator process, as in bench_collect; the database is a
SQLite file. The replay evaluates the demo's replayed week after its backfill (starmon.service).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_collect import _configs, emulated  # noqa: E402  (bench/ is on the path)

from starmon import alert_store, demo  # noqa: E402
from starmon.config import Config  # noqa: E402
from starmon.health import with_overrides  # noqa: E402
from starmon.scheduler import Collector  # noqa: E402
from starmon.store import Store  # noqa: E402


def measure(described: list[dict], repeat: int, firing: bool) -> dict:
    """Best round wall time with and without evaluation (alternating), then evaluation alone per cluster."""
    n = len(described)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        cards = with_overrides({"avg_cpu_usage": {"warning": 0.0, "critical": 100.0}}) if firing else ()
        config = Config(db_url=url, clusters=_configs(described), timeout_seconds=20, thresholds=cards)
        collector = Collector(config, Store(url))
        targets = collector.clusters()
        evaluate, held = collector._evaluate, {}

        def keep(cluster_id, name, snapshot, stored):
            held[cluster_id] = (name, snapshot, stored)
            evaluate(cluster_id, name, snapshot, stored)

        collector._evaluate = keep
        collector.run_round(targets)  # warm-up: connections, the disk forecast of each cluster fitted and cached
        best = {"with": float("inf"), "without": float("inf")}
        for _ in range(repeat):
            for label in best:
                collector._evaluate = keep if label == "with" else lambda *args: None
                start = time.perf_counter()
                collector.run_round(targets)
                best[label] = min(best[label], time.perf_counter() - start)
        alone, cpu = float("inf"), float("inf")
        for _ in range(repeat):
            start, cpu_start = time.perf_counter(), time.process_time()
            for cid, (name, snapshot, stored) in held.items():
                collector.alerts.after_round(cid, name, snapshot, stored)
            alone, cpu = min(alone, time.perf_counter() - start), min(cpu, time.process_time() - cpu_start)
        firing_now = len(alert_store.list_alerts(collector.store, states=("firing", "pending"), limit=10_000))
        collector.close()
        collector.store.close()
    return {**best, "per_cluster": alone / n, "cpu_per_cluster": cpu / n, "open": firing_now}


def replay(days: int) -> dict:
    """The demo's backfill of `days`, then the replay of its alert history, timed apart."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        store = Store(url)
        emulator, cluster_id = demo.start(store)
        try:
            model = emulator.cluster(demo.DEMO_NAME)
            start = time.perf_counter()
            rounds = demo.backfill(store, model, cluster_id, days=days)
            backfilled = time.perf_counter() - start
            start, cpu_start = time.perf_counter(), time.process_time()
            recorded = alert_store.replay_history(store, Config(url), cluster_id, demo.DEMO_NAME, time.time())
            took, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        finally:
            emulator.stop()
            store.close()
    return {"rounds": rounds, "backfill": backfilled, "replay": took, "cpu": cpu, "alerts": recorded}


def run(quick: bool = False) -> list[dict]:
    n = 20 if quick else 200
    rows = []
    with emulated(n) as described:
        for firing in (False, True):
            got = measure(described, 2 if quick else 3, firing)
            added = got["with"] - got["without"]
            case = f"one alert firing on every cluster ({got['open']} open)" if firing else "nothing firing"
            rows.append(
                {
                    "what": f"Alert evaluation per cluster-round, {n} emulated clusters, {case} (every rule, SQLite)",
                    "compared_with": "the same round without evaluation",
                    "target": "<= 1 ms per cluster-round",
                    "figures": f"{got['per_cluster'] * 1000:.3f} ms per cluster "
                    f"({got['cpu_per_cluster'] * 1000:.3f} ms CPU), evaluated one after another; round "
                    f"{got['with']:.2f} s with alerts, {got['without']:.2f} s without "
                    f"({added:+.2f} s, {added / got['without'] * 100:+.0f} %)",
                    "met": got["per_cluster"] <= 0.001 if n == 200 else None,
                }
            )
    what = f"Alert history replay of the demo's {demo.HISTORY_DAYS} replayed days"
    row = {
        "compared_with": "the backfill it follows",
        "target": "not noticeable beside the backfill (a background thread)",
        "met": None,
    }
    if quick:  # a day's backfill alone doubles this benchmark; tests/test_alert_history.py runs the replay
        return [*rows, {**row, "what": what, "figures": "skipped in --quick"}]
    got = replay(demo.HISTORY_DAYS)
    figures = f"{got['replay']:.2f} s ({got['cpu']:.2f} s CPU), {got['alerts']} alerts recorded; "
    return [
        *rows,
        {**row, "what": f"{what} ({got['rounds']:,} rounds)", "figures": figures + f"backfill {got['backfill']:.1f} s"},
    ]


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['what']}: {row['figures']}")
