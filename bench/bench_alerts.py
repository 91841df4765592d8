"""Alert evaluation at 200 clusters: its cost per cluster-round, and what it adds to a round.

The collector evaluates every cluster's rules right after storing its round (reading the newest
round back, the dead nodes, the statistics and the cached disk forecast, then moving the alerts
in one transaction), so this cost is paid 200 times every interval. The clusters run in an
emulator process, as in bench_collect; the database is a SQLite file.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_collect import _configs, emulated  # noqa: E402  (bench/ is on the path)

from starmon.config import Config  # noqa: E402
from starmon.scheduler import Collector  # noqa: E402
from starmon.store import Store  # noqa: E402


def measure(n: int, repeat: int) -> dict:
    """Best round wall time with and without evaluation (alternating), then evaluation alone per cluster."""
    with emulated(n) as described, tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        collector = Collector(Config(db_url=url, clusters=_configs(described), timeout_seconds=20), Store(url))
        targets = collector.clusters()
        evaluate = collector._evaluate
        collector.run_round(targets)  # warm-up: connections, the disk forecast of each cluster fitted and cached
        best = {"with": float("inf"), "without": float("inf")}
        for _ in range(repeat):
            for label in best:
                collector._evaluate = evaluate if label == "with" else lambda cluster_id, name: None
                start = time.perf_counter()
                collector.run_round(targets)
                best[label] = min(best[label], time.perf_counter() - start)
        alone, cpu = float("inf"), float("inf")
        for _ in range(repeat):
            start, cpu_start = time.perf_counter(), time.process_time()
            for cid, cluster in targets:
                collector.alerts.after_round(cid, cluster.name)
            alone, cpu = min(alone, time.perf_counter() - start), min(cpu, time.process_time() - cpu_start)
        collector.close()
        collector.store.close()
    return {**best, "per_cluster": alone / n, "cpu_per_cluster": cpu / n}


def run(quick: bool = False) -> list[dict]:
    n = 20 if quick else 200
    got = measure(n, 2 if quick else 3)
    added = got["with"] - got["without"]
    return [
        {
            "what": f"Alert evaluation per cluster-round, {n} emulated clusters (every rule, SQLite)",
            "compared_with": "the same round without evaluation",
            "target": "<= 1 ms per cluster-round",
            "figures": f"{got['per_cluster'] * 1000:.2f} ms per cluster ({got['cpu_per_cluster'] * 1000:.2f} ms CPU), "
            f"evaluated one after another; round {got['with']:.2f} s with alerts, {got['without']:.2f} s "
            f"without ({added:+.2f} s, {added / got['without'] * 100:+.0f} %)",
            "met": got["per_cluster"] <= 0.001 if n == 200 else None,
        }
    ]


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(f"{row['what']}: {row['figures']}")
