"""`python bench/run.py [--quick]`: every benchmark, side by side with its baseline, as a table.

Benchmarks print figures; they never fail. `--quick` shrinks the inputs for a smoke run. Two
run on their own: bench_hostile.py (what each hostile answer costs: docs/RELIABILITY.md) and
bench_sessions.py (real Chromium sessions, which need the browser installed).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_alerts  # noqa: E402
import bench_api  # noqa: E402
import bench_audit  # noqa: E402
import bench_collect  # noqa: E402
import bench_fleet  # noqa: E402
import bench_parse  # noqa: E402
import bench_read  # noqa: E402
import bench_replay  # noqa: E402
import bench_retention  # noqa: E402
import bench_selfmetrics  # noqa: E402


def main() -> int:
    quick = "--quick" in sys.argv
    started = time.perf_counter()
    rows = []
    for module in (
        bench_parse,
        bench_collect,
        bench_alerts,
        bench_read,
        bench_fleet,
        bench_replay,
        bench_retention,
        bench_selfmetrics,
        bench_api,
        bench_audit,
    ):
        rows += module.run(quick=quick)
    print(
        f"starmon benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.machine()}{' (quick)' if quick else ''}\n"
    )
    print("| what | compared with | target | figures | met |")
    print("|---|---|---|---|---|")
    for row in rows:
        met = {True: "yes", False: "**no**", None: "–"}[row["met"]]
        print(f"| {row['what']} | {row['compared_with']} | {row['target']} | {row['figures']} | {met} |")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
