"""The demo's replay benchmark (issue 18): how long the 7-day history takes to replay.

`run(quick=False)` returns rows like the other benchmarks' (`{"what", "compared_with", "target",
"figures", "met"}`); `python bench/bench_replay.py [--quick]` prints them. Nothing is asserted.

What is measured
  * The emulator's load curve alone: `Workload.daily_integral` over ten days (what FE counters ask
    every round) for 200 clusters at once, cold (their curves computed), then calls per second warm.
  * One BE's whole `/metrics` answer rendered (exposition.be_metrics), as served over HTTP.
  * `demo.backfill` of the full week (1 day with quick=True) into a fresh SQLite file: every round
    through the real parsers, its events, the hourly statistics and audit passes, the rollups.
    The load on the machine is printed beside it: on a shared machine it moves the figure most.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starmon import demo  # noqa: E402
from starmon.emulator import exposition  # noqa: E402
from starmon.emulator.load import Workload  # noqa: E402
from starmon.store import Store  # noqa: E402


def _per_second(call, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        call(i)
    return n / (time.perf_counter() - started)


def run(quick: bool = False) -> list[dict]:
    days = 1 if quick else demo.HISTORY_DAYS
    t0 = 1_795_000_000.0
    clusters = [Workload(seed=1000 + i, drift_origin=t0) for i in range(200)]  # seeds no other call used
    started = time.perf_counter()
    for w in clusters:  # what 200 emulated clusters' first round asks: FE counters since 10 days ago
        w.daily_integral(t0 - 10 * 86400, t0)
    cold_ms = 1000 * (time.perf_counter() - started)
    warm = clusters[0]
    warm_rate = _per_second(lambda i: warm.daily_integral(t0 - 10 * 86400, t0 + (i % 1440) * 60.0), 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/demo.db")
        emulator, cluster_id = demo.start(store)
        try:
            model = emulator.cluster(demo.DEMO_NAME)
            be = model.backends[0]
            answer = exposition.be_metrics(model, be, model.now())
            render_ms = 1000 / _per_second(lambda i: exposition.be_metrics(model, be, model.now()), 100)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            rounds = demo.backfill(store, model, cluster_id, days=days)
            seconds = time.perf_counter() - started
        finally:
            emulator.stop()
            store.close()
    return [
        {
            "what": "emulator load curve (Workload.daily_integral over 10 days)",
            "compared_with": "the sine it replaced: one math.cos per call",
            "target": "–",
            "figures": f"200 clusters' first calls (cold) {cold_ms:.0f} ms; then {warm_rate:,.0f} calls/s",
            "met": None,
        },
        {
            "what": "one BE /metrics answer rendered",
            "compared_with": "–",
            "target": "–",
            "figures": f"{render_ms:.2f} ms, {len(answer.splitlines())} lines, {len(answer):,} B",
            "met": None,
        },
        {
            "what": f"demo replay, {days} day{'s' if days > 1 else ''} ({rounds:,} rounds)",
            "compared_with": "docs/BENCHMARKS.md's earlier figures",
            "target": "–",
            "figures": f"{seconds:.1f} s at load {load:.1f} ({1000 * seconds / max(rounds, 1):.1f} ms a round)",
            "met": None,
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="replay one day instead of seven")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(f"| {row['what']} | {row['compared_with']} | {row['target']} | {row['figures']} | – |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
