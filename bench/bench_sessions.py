"""N real browser sessions on one `streamlit run app.py`: page times, and whether auto-refresh kept delivering.

tests/test_load.py drives 20 AppTest sessions: the dashboard's Python, but no browser, websocket
or fragment timer. This opens N Chromium sessions (Playwright contexts in one Chromium, as N
users) on the Overview of two emulated clusters, `range=24h`, over replayed history, while the
embedded collector stores a round every INTERVAL s. It prints, and asserts nothing:

- page time: from `goto` until the app is connected, a metric card is visible and the script is
  not running (p50 / p95 / max), and the same page for one session alone first (cold, warm);
- over a watch window with no reloads, which of the rounds stored in the window each session
  put on its screen. An in-page sampler notes, with the browser's clock, every change of the
  Overview caption ("Collected ... (N s ago)") and the QPS card; a change is matched to the
  stored round whose QPS reads as the card does (health.format_value) and whose timestamp is
  at most N s before the change was seen. The fragment redraws every INTERVAL s, unsynchronised
  with the collector, so one round can fall between two redraws now and then: "all but one",
  and the longest wait for a new round on screen, tell that apart from a session gone still.

Run it on a quiet machine: on 2 cores, 20 browsers compete with the server for the CPU.
`python bench/bench_sessions.py` (20 sessions, 60 s); `--sessions 3 --watch 20` to try it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from starmon import demo  # noqa: E402
from starmon.config import ClusterConfig  # noqa: E402
from starmon.emulator.model import ClusterModel, Workload  # noqa: E402
from starmon.emulator.process import emulator_process  # noqa: E402
from starmon.emulator.profiles import PROFILES  # noqa: E402
from starmon.health import format_value  # noqa: E402
from starmon.store import Store  # noqa: E402
from tests.browser import CHROMIUM, dashboard_server  # noqa: E402

INTERVAL = 5
# as tests/browser.py launches Chromium (Playwright adds its own no-throttling switches)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
CHROMIUM_ARGS += ["--disable-component-update", "--no-first-run"]
CLUSTER = '[[clusters]]\nname = "{name}"\nfe_host = "{fe_host}"\nhttp_port = {http_port}\nquery_port = {query_port}\n'
APP = "[data-testid='stApp']"
# Runs in every page: every 250 ms, note (browser time, caption, QPS card, connection) when it changed.
SAMPLER = """
window.__seen = [];
setInterval(() => {
  const cap = [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
    .map((e) => e.innerText).find((t) => t.startsWith("Collected ")) || null;
  const card = [...document.querySelectorAll("[data-testid='stMetric']")]
    .find((e) => (e.querySelector("[data-testid='stMetricLabel']") || {}).innerText?.includes("QPS"));
  const qps = card ? card.querySelector("[data-testid='stMetricValue']").innerText.trim() : null;
  const app = document.querySelector("[data-testid='stApp']");
  const state = app ? app.getAttribute("data-test-connection-state") : null;
  const last = window.__seen[window.__seen.length - 1] || [];
  if (last[1] !== cap || last[2] !== qps || last[3] !== state) window.__seen.push([Date.now(), cap, qps, state]);
}, 250);
"""
AGE = re.compile(r"\((\d+) (s|min|h|d) ago\)")
UNIT = {"s": 1, "min": 60, "h": 3600, "d": 86400}


def seed(url: str, described: list[dict], days: int) -> tuple[ClusterConfig, ...]:
    """Register the emulated clusters and replay `days` of their past, as the demo does for its own."""
    configs = tuple(ClusterConfig(d["name"], d["fe_host"], d["http_port"], d["query_port"]) for d in described)
    store = Store(url)
    store.sync_clusters(configs)
    ids = store.cluster_ids()
    for d in described if days else ():
        hosts = (d["frontends"], [be["host"] for be in d["backends"]])
        ports = {k: d[k] for k in ("http_port", "query_port", "be_http_port")}
        model = ClusterModel(d["name"], PROFILES[d["profile"]], *hosts, **ports, workload=Workload(**d["workload"]))
        demo.backfill(store, model, ids[d["name"]], days=days)
    store.close()
    return configs


def rounds(db: Path, since: float) -> dict[str, list[tuple[float, str]]]:
    """Rounds stored since `since`, per cluster: (ts, the QPS card's text for that round)."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT c.name, s.ts, s.qps FROM metrics_snapshots s JOIN clusters c ON c.id = s.cluster_id "
            "WHERE s.ts >= ? ORDER BY s.ts",
            (since,),
        ).fetchall()
    out: dict[str, list[tuple[float, str]]] = {}
    for name, ts, qps in rows:
        out.setdefault(name, []).append((ts, format_value(qps, "queries/s")))
    return out


def live_rounds(db: Path, since: float) -> int:
    """The fewest rounds any cluster stored since `since` (0 while the schema is being made)."""
    try:
        counts = [len(r) for r in rounds(db, since).values()]
    except sqlite3.Error:
        return 0
    return min(counts) if len(counts) == 2 else 0


def shown(seen: list, stored: list[tuple[float, str]]) -> tuple[dict[float, float], int]:
    """{round ts: when the session first showed it}, and how many caption changes matched no round."""
    first: dict[float, float] = {}
    unmatched = 0
    for at_ms, caption, qps, _ in seen:
        age = AGE.search(caption or "")
        if not age or qps is None:
            continue
        at = at_ms / 1000
        latest = at - int(age.group(1)) * UNIT[age.group(2)] + 1.5  # ts <= (drawn at) - age <= at - age
        candidates = [ts for ts, text in stored if text == qps and latest - 30 <= ts <= latest]
        if not candidates:
            unmatched += 1
            continue
        ts = max(candidates)
        first[ts] = min(first.get(ts, at), at)
    return first, unmatched


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def spread(values: list[float], digits: int = 1) -> str:
    return " / ".join(f"{x:.{digits}f}" for x in (pct(values, 50), pct(values, 95), max(values, default=0))) + " s"


def loadavg() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


async def open_session(browser, url: str, delay: float, timeout_ms: float):
    """One user: a fresh context on the Overview of one cluster; (page, seconds to settle or None, loads)."""
    await asyncio.sleep(delay)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.add_init_script(SAMPLER)
    loads = [0]
    page.on("load", lambda _: loads.__setitem__(0, loads[0] + 1))
    started = time.monotonic()
    try:
        await page.goto(url, timeout=timeout_ms)
        await page.wait_for_selector(f"{APP}[data-test-connection-state='CONNECTED']", timeout=timeout_ms)
        await page.locator("[data-testid='stMetric']").first.wait_for(state="visible", timeout=timeout_ms)
        await page.wait_for_selector(f"{APP}[data-test-script-state='notRunning']", timeout=timeout_ms)
    except Exception as exc:  # a failed session is counted; the others go on
        print(f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return page, None, loads
    return page, time.monotonic() - started, loads


async def drive(url: str, names: list[str], args) -> dict:
    """One session alone (cold, then warm), then the N sessions together, watched for args.watch s."""
    link = [f"{url}/?cluster={name}&range=24h" for name in names]
    timeout_ms = args.timeout * 1000
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alone = []
        for _ in range(2):
            page, took, _ = await open_session(browser, link[0], 0, timeout_ms)
            alone.append(took if took is not None else float("nan"))
            await page.context.close()
        print(
            f"Chromium {browser.version}: alone {[round(t, 2) for t in alone]} s; opening {args.sessions} sessions",
            file=sys.stderr,
        )
        opened = await asyncio.gather(
            *(open_session(browser, link[k % 2], k * args.stagger, timeout_ms) for k in range(args.sessions))
        )
        w0 = time.time()
        print(f"watching for {args.watch:.0f} s (+{INTERVAL + 5} s to draw the last rounds)", file=sys.stderr)
        await asyncio.sleep(args.watch)
        w1 = time.time()
        await asyncio.sleep(INTERVAL + 5)
        sessions = []
        for k, (page, took, loads) in enumerate(opened):
            seen = await page.evaluate("window.__seen || []") if took is not None else []
            sessions.append((names[k % 2], took, seen, loads[0]))
        chromium = browser.version
        await browser.close()
    return {"alone": alone, "sessions": sessions, "w0": w0, "w1": w1, "chromium": chromium}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions (default 20)")
    parser.add_argument("--watch", type=float, default=60, help="seconds to watch auto-refresh (default 60)")
    parser.add_argument("--stagger", type=float, default=0.25, help="seconds between session starts")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a session may take to settle")
    parser.add_argument("--history-days", type=int, default=3, help="days of history replayed first (0: none)")
    args = parser.parse_args()
    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "emulator.log"
        with emulator_process("--clusters", "2", "--name", "bench", "--host", "127.0.0.1", log=log) as described:
            db = tmp / "starmon.db"
            print(f"replaying {args.history_days} days of history", file=sys.stderr)
            configs = seed(f"sqlite:///{db}", described, args.history_days)
            names = [c.name for c in configs]
            clusters = "".join(CLUSTER.format(**d) for d in described)
            (tmp / "starmon.toml").write_text(f"interval_seconds = {INTERVAL}\ntimeout_seconds = 2.0\n{clusters}")
            env = dict(STARMON_DB_URL=f"sqlite:///{db}", STARMON_CONFIG=str(tmp / "starmon.toml"), STARMON_DEMO="0")
            server_start = time.time()
            print("starting streamlit run app.py (embedded collector on)", file=sys.stderr)
            with dashboard_server(tmp, env, ready=lambda: live_rounds(db, server_start) >= 1) as url:
                run = asyncio.run(drive(url, names, args))
                load_after = loadavg()
            stored = rounds(db, server_start)

    w0, w1, sessions = run["w0"], run["w1"], run["sessions"]
    expected = {n: [ts for ts, _ in stored.get(n, []) if w0 <= ts <= w1] for n in names}
    times = [took for _, took, _, _ in sessions if took is not None]
    delivered, waits, delays, every, all_but_one, unmatched, reloads, lost = [], [], [], 0, 0, 0, 0, 0
    for name, took, seen, loads in sessions:
        if took is None:
            continue
        first, missed = shown(seen, stored.get(name, []))
        got = [ts for ts in expected[name] if ts in first]
        delivered.append(len(got))
        every += len(got) == len(expected[name])
        all_but_one += len(got) >= len(expected[name]) - 1
        delays += [first[ts] - ts for ts in got]
        new_on_screen = sorted(at for at in first.values() if w0 <= at <= w1)
        waits.append(max(b - a for a, b in zip([w0, *new_on_screen], [*new_on_screen, w1])))
        unmatched += missed
        reloads += loads - 1
        lost += any(state != "CONNECTED" for at, _, _, state in seen if at / 1000 >= w0)
    ok = len(times)
    gaps = [b - a for ts in expected.values() for a, b in zip(ts, ts[1:])]
    per_cluster = " / ".join(str(len(expected[n])) for n in names)
    shown_counts = f"{min(delivered)} / {statistics.median(delivered):g} / {max(delivered)}" if delivered else "-"
    versions = (
        f"Python {platform.python_version()}, Streamlit {version('streamlit')}, Playwright {version('playwright')}"
    )
    rows = [
        ("sessions opened / settled", f"{args.sessions} / {ok} (stagger {args.stagger} s, range 24h)"),
        ("page time p50 / p95 / max", spread(times, 2)),
        ("the same page, one session alone (cold, warm)", " / ".join(f"{t:.2f}" for t in run["alone"]) + " s"),
        ("watch window, collector interval", f"{w1 - w0:.0f} s, {INTERVAL} s"),
        (f"rounds stored in the window ({' / '.join(names)}), max gap", f"{per_cluster}, {max(gaps, default=0):.1f} s"),
        ("rounds shown per session min / median / max", shown_counts),
        ("sessions that showed every round / all but one", f"{every} / {all_but_one} of {ok}"),
        ("longest wait for a new round on screen, per session p50 / p95 / max", spread(waits)),
        ("round to screen p50 / p95 / max", spread(delays)),
        ("reloads, sessions that lost the connection", f"{reloads}, {lost}"),
        ("caption changes matched to no round", str(unmatched)),
        ("machine", f"{os.cpu_count()} cores, {platform.machine()}"),
        ("load average (1 / 5 / 15 min) before → after", f"{load_before} → {load_after}"),
        ("versions", f"{versions}, Chromium {run['chromium']}"),
    ]
    print(f"\n## Browser sessions on one dashboard ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print("| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
