"""What each hostile or broken answer costs a collector: time, peak memory, and what was stored.

The fake FE of the tests (tests/hostile_fe.py) serves each bad answer from this process; the
collector runs one round in a child process of its own, so its peak RSS is its own. The
figures go into docs/RELIABILITY.md's "hostile cluster" table (`python bench/bench_hostile.py`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from starmon.emulator import ClusterSpec, Emulator  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.hostile_fe import BE_METRICS, FE_METRICS, Answer, FakeCluster, TrickleSocket, be_row, fe_row  # noqa: E402

TIMEOUT = 3.0  # the probe's setting: `timeout_seconds = 3`

# The child: one round against the given FE, then what it cost, as JSON.
_CHILD = r"""
import json, re, sys, tempfile, time
from starmon.scheduler import Collector
from starmon.config import ClusterConfig, Config
from starmon.store import Store
fe_port, query_port, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{tmp}/bench.db"
    cluster = ClusterConfig("hostile", "127.0.0.1", fe_port, query_port)
    collector = Collector(Config(db_url=url, clusters=(cluster,), timeout_seconds=timeout), Store(url))
    started = time.monotonic()
    result = collector.run_round()[0]
    elapsed = time.monotonic() - started
    collector.close()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
peak_kib = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": elapsed, "rss_mib": peak_kib / 1024,
                  "status": result.status, "reason": result.reason}))
"""


def _metrics_with(line: str, value: str) -> str:
    return FE_METRICS.replace(line, f"{line.rsplit(' ', 1)[0]} {value}")


def _cases(quick: bool) -> list[tuple[str, callable]]:
    """(what the cluster sends, how to make the fake send it)."""

    def fe(route, answer):
        return lambda f: f.fe.routes.__setitem__(route, answer)

    def be(**columns):
        return lambda f: f.set_lists([fe_row(f.fe.port)], [be_row(f.be.port, **columns)])

    def many_bes(f):
        f.set_lists(
            [fe_row(f.fe.port)],
            [be_row(free_port(), 20000 + i, IP=f"127.1.{i // 250}.{i % 250 + 1}") for i in range(5000)],
        )

    big = 40 if quick else 300
    return [
        ("a sane FE and BE (baseline)", lambda f: None),
        ("FE /metrics trickled at 1 byte/s", fe("/metrics", Answer(FE_METRICS, trickle=1.0))),
        (
            "show_proc /backends trickled at 1 byte/s",
            fe("/api/show_proc?path=/backends", Answer(json.dumps([be_row(0)]), trickle=1.0)),
        ),
        ("a counter of NaN", fe("/metrics", Answer(_metrics_with("starrocks_fe_query_total 1000", "NaN")))),
        ("a counter of +Inf", fe("/metrics", Answer(_metrics_with("starrocks_fe_query_total 1000", "+Inf")))),
        ("a counter of 1e30", fe("/metrics", Answer(_metrics_with("starrocks_fe_query_total 1000", "1e30")))),
        ("a QPS gauge of -5", fe("/metrics", Answer(FE_METRICS + "starrocks_fe_qps -5\n"))),
        ("TotalCapacity `1e309 B`", be(TotalCapacity="1e309 B")),
        ("TotalCapacity `-5.000 GB`", be(TotalCapacity="-5.000 GB")),
        ("a BE whose IP is `1.2.3.4:99`", be(IP="1.2.3.4:99")),
        (f"a {big} MB /metrics body", fe("/metrics", Answer(b"starrocks_fe_unread 1\n" * (big * 2**20 // 22)))),
        (
            "500,000 label lines of a metric starmon reads",
            lambda f: f.be.routes.__setitem__(
                "/metrics", Answer(BE_METRICS + "".join(f'starrocks_be_cpu{{mode="m{i}"}} 1\n' for i in range(500_000)))
            ),
        ),
        ("5,000 BEs in show_proc", many_bes),
    ]


def _one_round(fake: FakeCluster, query_port: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(fake.fe.port), str(query_port), str(TIMEOUT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        return {
            "seconds": float("nan"),
            "rss_mib": float("nan"),
            "status": "crashed",
            "reason": done.stderr.strip().splitlines()[-1],
        }
    return json.loads(done.stdout)


def _short(reason: str | None) -> str:
    reason = reason or ""
    return (reason[:160] + "…") if len(reason) > 160 else reason


def run(quick: bool = False) -> list[dict]:
    rows = []
    for what, serve in _cases(quick):
        fake = FakeCluster()
        try:
            serve(fake)
            figures = _one_round(fake, free_port())
        finally:
            fake.stop()
        rows.append({"what": what, **figures})
    trickle, fake = TrickleSocket(every=1.0), FakeCluster()
    try:
        rows.append({"what": "a MySQL port that trickles its handshake at 1 byte/s", **_one_round(fake, trickle.port)})
    finally:
        trickle.stop()
        fake.stop()
    rows.append(_loop(10 if quick else 45))
    return [
        {
            "what": f"Hostile cluster: {r['what']}",
            "compared_with": "the sane baseline's time and RSS",
            "target": "round ends within the deadline (9 s); stored; bounded memory",
            "figures": (
                f"{r['status']} in {r['seconds']:.2f} s, peak RSS {r['rss_mib']:.0f} MiB; {_short(r['reason'])}"
                if "rss_mib" in r
                else r["figures"]
            ),
            "met": None,
        }
        for r in rows
    ]


_LOOP_CHILD = """
import json, sys, tempfile, threading, time
import sqlalchemy as sa
from starmon import schema
from starmon.scheduler import Collector
from starmon.config import ClusterConfig, Config
from starmon.store import Store
seconds, healthy, hostile = float(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{tmp}/bench.db"
    clusters = (ClusterConfig("healthy", *healthy), ClusterConfig("hostile", *hostile))
    collector = Collector(Config(db_url=url, clusters=clusters, interval_seconds=5, timeout_seconds=3.0), Store(url))
    thread = threading.Thread(target=collector.run_forever, daemon=True)
    thread.start()
    time.sleep(seconds)
    collector.stop()
    thread.join(30)
    with collector.store.reader.connect() as conn:
        counts = dict(conn.execute(sa.select(schema.clusters.c.name, sa.func.count())
                                   .join(schema.metrics_snapshots).group_by(schema.clusters.c.name)).all())
print(json.dumps(counts))
"""


def _loop(seconds: int) -> dict:
    """The loop at interval 5 s, timeout 3 s: rounds stored for a healthy cluster beside a trickling one."""
    emu = Emulator([ClusterSpec("healthy", "3.3")]).start()
    fake = FakeCluster()
    fake.fe.routes["/metrics"] = Answer(FE_METRICS, trickle=1.0)
    try:
        d = emu.describe()[0]
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _LOOP_CHILD,
                str(seconds),
                json.dumps([d["fe_host"], d["http_port"], d["query_port"]]),
                json.dumps(["127.0.0.1", fake.fe.port, free_port()]),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
        counts = json.loads(done.stdout) if done.returncode == 0 else {}
    finally:
        fake.stop()
        emu.stop()
    expected = seconds // 5 + 1
    return {
        "what": f"the loop for {seconds} s (interval 5 s) beside an FE trickling /metrics",
        "figures": f"healthy cluster: {counts.get('healthy', 0)} rounds stored of {expected} due; "
        f"trickling cluster: {counts.get('hostile', 0)}",
    }


def main() -> int:
    quick = "--quick" in sys.argv
    print("| what the cluster sends | figures |")
    print("|---|---|")
    for row in run(quick):
        print(f"| {row['what'].removeprefix('Hostile cluster: ')} | {row['figures']} |")
    return 0


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # the fake's handler threads end noisily on stop
    sys.exit(main())
