"""`python bench/run.py --quick` runs end to end and its correctness columns hold.

Benchmarks print figures and never fail on speed; this only checks that every benchmark
still runs against the current code, that the parser still returns exactly the samples
prometheus_client does, and that every emulated cluster of the round benchmark was read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .fixtures import ROOT


def test_quick_benchmarks_run_and_agree():
    env = dict(os.environ)
    if os.environ.get("STARMON_TEST_PG_URL"):  # the retention benchmark runs where PostgreSQL is
        env["STARMON_BENCH_PG_URL"] = os.environ["STARMON_TEST_PG_URL"]
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert len(rows) >= 10, done.stdout
    parse_rows = [r for r in rows if r.startswith("| Parse ")]
    assert len(parse_rows) == 3 and all("identical: yes" in r for r in parse_rows), parse_rows
    rounds = re.findall(r"starmon [\d.]+ s \((\d+)/(\d+) ok", done.stdout)
    assert rounds and all(ok == total for ok, total in rounds), rounds
    api = [r for r in rows if r.startswith("| GET /api/")]
    assert len(api) == 2 and all("(0 errors)" in r for r in api), api  # every call of the load answered
    [retention] = [r for r in rows if r.startswith("| Retention pass")]
    assert ("skipped" in retention) == (not os.environ.get("STARMON_TEST_PG_URL")), retention
    [replay] = [r for r in rows if r.startswith("| demo replay, 1 day (1,440 rounds)")]  # the quick replay: one day
    assert re.search(r"\| [\d.]+ s at load", replay), replay
    fleet = [r for r in rows if r.startswith("| Fleet read (starmon.fleet.Fleet.read), 7d, 20 clusters")]
    assert len(fleet) == 1, fleet
