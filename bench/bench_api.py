"""`GET /api/clusters/{id}/overview` under 20 concurrent clients, against the in-process read.

`run(quick=False)` returns rows like bench/run.py's; `python bench/bench_api.py [--quick]` prints
them. Nothing is asserted.

The server is `streamlit run app.py` as a user starts it, over a SQLite file holding benchdb's
7 days (1 with --quick) of rounds of one cluster (2 FEs, 3 BEs, every 30 s), which starmon.toml points at an
emulated cluster: the embedded collector stores a live round every 5 s throughout, so answers
keep changing (no conditional requests: every call gets the whole overview). The baseline is
`overview_json.overview(..., detail=True)` called in the benchmark's own process on the same file, one at
a time: what the API serialises. Target (issue 14): the API's p95 within 3x of the baseline's.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

import benchdb  # noqa: E402

from starmon import overview_json, read  # noqa: E402
from starmon.config import Config  # noqa: E402
from starmon.emulator import ClusterSpec, Emulator  # noqa: E402
from starmon.store import Store  # noqa: E402

CLIENTS = 20
INTERVAL = 5  # seconds between the collector's rounds during the run


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _server(work: Path, db: Path, emulator: Emulator) -> tuple[subprocess.Popen, str]:
    d = emulator.describe()[0]
    (work / "starmon.toml").write_text(
        f"interval_seconds = {INTERVAL}\n[[clusters]]\nname = {benchdb.cluster_name(0)!r}\n"
        f"fe_host = {d['fe_host']!r}\nhttp_port = {d['http_port']}\nquery_port = {d['query_port']}\n".replace("'", '"')
    )
    port = 8700 + os.getpid() % 200
    env = {
        **os.environ,
        "STARMON_DB_URL": f"sqlite:///{db}",
        "STARMON_CONFIG": str(work / "starmon.toml"),
        "STARMON_DEMO": "0",
        "STARMON_SECRET_KEY_FILE": str(work / "secret.key"),
    }
    args = ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", *args, "--browser.gatherUsageStats", "false"],
        cwd=ROOT.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{url}/api/clusters", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the dashboard did not answer /api/clusters within 60 s")


async def _load(url: str, seconds: float) -> tuple[list[float], int]:
    """CLIENTS clients asking one after another for `seconds`; latencies in seconds, and errors."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            answer = await http.get(url)
            latencies.append(time.perf_counter() - t0)
            errors += answer.status_code != 200

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return latencies, errors


def run(quick: bool = False) -> list[dict]:
    seconds = 2 if quick else 20  # quick: a smoke run (test_bench), not a figure
    rows = []
    with tempfile.TemporaryDirectory(prefix="starmon-bench-api-") as tmp:
        work = Path(tmp)
        db = work / "api.db"
        held = benchdb.held_rounds(quick)
        benchdb.build_one(db, time.time(), held)
        emulator = Emulator([ClusterSpec(benchdb.cluster_name(0))]).start()
        proc, url = _server(work, db, emulator)
        try:
            store = Store(f"sqlite:///{db}")
            reader, config = read.Reader(store), Config(db_url=store.url)
            for label in ("24h", "7d"):
                api = f"{url}/api/clusters/{benchdb.cluster_name(0)}/overview?range={label}"
                httpx.get(api, timeout=60)  # warm: imports, caches, the forecast's first fit
                latencies, errors = asyncio.run(_load(api, seconds))
                inproc = []
                for _ in range(10 if quick else 30):
                    t0 = time.perf_counter()
                    overview_json.overview(reader, benchdb.cluster_name(0), label, config, detail=True)
                    inproc.append(time.perf_counter() - t0)
                api_p95, base_p95 = _p(latencies, 95), _p(inproc, 95)
                rows.append(
                    {
                        "what": f"GET /api/clusters/{{id}}/overview?range={label}, {CLIENTS} concurrent clients, "
                        f"collector storing a round every {INTERVAL} s, {benchdb.days(held)} held",
                        "compared_with": "overview_json.overview(detail=True) in-process, one call at a time",
                        "target": "p95 within 3x of the in-process p95",
                        "figures": f"{len(latencies) / seconds:.1f} requests/s, p50 {_p(latencies, 50) * 1000:.0f} ms, "
                        f"p95 {api_p95 * 1000:.0f} ms ({errors} errors); in-process p50 "
                        f"{_p(inproc, 50) * 1000:.0f} ms, p95 {base_p95 * 1000:.0f} ms = {api_p95 / base_p95:.1f}x",
                        "met": api_p95 <= 3 * base_p95,
                    }
                )
            store.close()
        finally:
            proc.terminate()
            proc.wait(20)
            emulator.stop()
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"| {row['what']} | {row['compared_with']} | {row['target']} | {row['figures']} | {row['met']} |")
