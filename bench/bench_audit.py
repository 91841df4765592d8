"""The workload from the audit log (issue 17): statements per second with and without the digest
cache, and one statistics pass over 100,000 new audit rows (aggregate and store), with its memory.

Inputs are the emulator's seeded audit rows at a fixed clock: a day of 100,000 statements of
a dozen shapes, most with no `digest` (the plugin fills it only for slow queries), as a busy
cluster's audit table holds them.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starmon import audit, workload  # noqa: E402
from starmon.emulator import auditlog  # noqa: E402
from starmon.emulator.model import ClusterModel, Workload  # noqa: E402
from starmon.emulator.profiles import PROFILES  # noqa: E402
from starmon.statements import ShapeCache, parse_shape  # noqa: E402
from starmon.store import Store  # noqa: E402

T = 1_790_000_000.0


def audit_rows(n: int) -> list[dict]:
    """n audit rows of the last day, as the driver hands them to a pass (the template left out)."""
    model = ClusterModel(
        "bench",
        PROFILES["3.3"],
        ["127.0.0.1"],
        ["127.0.0.2"],
        http_port=8030,
        query_port=9030,
        be_http_port=8040,
        workload=Workload(seed=1),
        clock=lambda: T,
    )
    model.audit.per_hour = n / 24
    rows = auditlog.rows_between(model, T - 86400, T)[:n]
    for row in rows:
        row.pop("template")
    return rows


def run(quick: bool = False) -> list[dict]:
    n = 20_000 if quick else 100_000
    rows = audit_rows(n)
    started = time.perf_counter()
    audit.aggregate(rows, ShapeCache())
    cached = len(rows) / (time.perf_counter() - started)
    sample = rows[:2000]
    started = time.perf_counter()
    for row in sample:
        parse_shape(row["stmt"])
    uncached = len(sample) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        cid = store.write(lambda conn: conn.exec_driver_sql(_CLUSTER).lastrowid)
        started = time.perf_counter()
        workload.write_pass(store, cid, audit.OK, None, audit.aggregate(rows, ShapeCache()), T)
        seconds = time.perf_counter() - started
        store.close()
    tracemalloc.start()  # slows Python several times over: a run of its own
    audit.aggregate(rows, ShapeCache())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [
        {
            "what": f"audit statements parsed per second, {len(rows):,} rows",
            "compared_with": "parsing every statement (no digest cache)",
            "target": "the cache pays",
            "figures": f"{cached:,.0f}/s with the cache, {uncached:,.0f}/s without ({cached / uncached:.0f}x)",
            "met": cached > 10 * uncached,
        },
        {
            "what": f"one statistics pass over {len(rows):,} new audit rows (aggregated and stored, MySQL aside)",
            "compared_with": "",
            "target": "a few seconds, memory bounded",
            "figures": f"{seconds:.1f} s; aggregating peaks at {peak / 1e6:.1f} MB beyond the rows read",
            "met": seconds < 10,
        },
    ]


_CLUSTER = (
    'INSERT INTO clusters (name, fe_host, http_port, query_port, "user", tls, tls_verify, enabled, source, '
    "updated_at, tags) VALUES ('bench', '127.0.0.1', 8030, 9030, 'root', 0, 1, 1, 'file', 0, '[]')"
)

if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['what']}: {row['figures']}")
