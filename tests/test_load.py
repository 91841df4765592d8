"""Load: 20 dashboard sessions loading pages while `python collector.py` collects every second.

The dashboard's own script (`starmon/ui/main.py` and its pages) runs in 20 concurrent
AppTest sessions, one thread each, as Streamlit runs every browser session's script in a
thread of one server process; they share the process-wide caches (`st.cache_resource`
store, `st.cache_data` series) as real sessions do. Each session opens the Overview, then
moves through Performance, Resources, Data and back, again and again, until it has loaded
PAGES_PER_SESSION pages and the load has lasted STARMON_LOAD_SECONDS (default 20). Meanwhile
a separate `python collector.py` process (interval_seconds = 1) collects two clusters
served by a separate `python -m starmon.emulator` process, over three days of history.

Asserted (cannot flake on a slow machine): no session raises or shows an exception, every
session completes, every page draws its heading, and the collector keeps its schedule with
generous slack (rounds during the load >= half the elapsed seconds, gaps < 2.5 s). Page
times (p50/p95) and the collector's gaps are printed, not asserted.

Why AppTest and not browsers: 20 Chromium pages against `streamlit run app.py` on a 2-core
machine took 181 s for 100 page loads, with page loads timing out at 30 s; the browsers'
rendering, not starmon, was the bottleneck. AppTest in threads needs one shim
(`shared_runtime` below): AppTest sets and unsets Streamlit's Runtime singleton around every
run, which is not safe from several threads.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from streamlit.testing.v1 import AppTest

from .fixtures import MAIN, PAGE, ROOT, clear_caches, store_with_history, unescape, use_dashboard

SESSIONS = 20
PAGES_PER_SESSION = 5
MAX_PAGES_PER_SESSION = 40
LOAD_SECONDS = float(os.environ.get("STARMON_LOAD_SECONDS", "20"))
# (page file for switch_page, heading title); the first load of a session is the default page
TOUR = [(PAGE[name], name.capitalize()) for name in ("overview", "performance", "resources", "data")]
RANGES = ("1h", "24h", "7d")
MAX_GAP = 2.5

# plotly's own note when it converts pandas timestamps with sub-microsecond parts
pytestmark = pytest.mark.filterwarnings("ignore:Discarding nonzero nanoseconds:UserWarning")


@pytest.fixture
def shared_runtime(monkeypatch):
    """Make AppTest usable from many threads at once (AppTest's global state is per process).

    - Every AppTest run sets `Runtime._instance` to a mock and back to None when it ends, so
      one session finishing pulls the Runtime out from under another still running
      ("Runtime hasn't been created!"): a missing instance falls back to one shared mock.
    - Every run patches `config.get_option` to say `global.appTest = True` and unpatches it
      at the end; from several threads the patches unwind out of order, and a run that sees
      the original misses AppTest's bookkeeping (later a KeyError on a widget id): the
      option is set once for the whole test instead, and the original restored afterwards.
    - Every run compiles the pages into a fresh script cache, and CPython 3.11's compiler is
      not safe from several threads ("SystemError: AST constructor recursion depth
      mismatch"): all sessions share one script cache, as sessions of a Streamlit server do.
    """
    from streamlit import config
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner
    from streamlit.testing.v1.util import build_mock_config_get_option

    fallback = MagicMock(spec=Runtime)
    fallback.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    fallback.dataframe_source_mgr = DataframeSourceManager()
    fallback.cache_storage_manager = MemoryCacheStorageManager()
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: cls._instance or fallback))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(config, "get_option", build_mock_config_get_option({"global.appTest": True}))

    def patch_config_options(overrides):
        assert overrides == {"global.appTest": True}, overrides  # what AppTest asks for, already set
        return contextlib.nullcontext()

    monkeypatch.setattr(app_test, "patch_config_options", patch_config_options)
    scripts = ScriptCache()
    monkeypatch.setattr(app_test, "ScriptCache", lambda: scripts)
    monkeypatch.setattr(local_script_runner, "ScriptCache", lambda: scripts)
    yield
    Runtime._instance = None


def _rounds(db: Path, since: float, until: float) -> dict[str, list[float]]:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT c.name, s.ts FROM metrics_snapshots s JOIN clusters c ON c.id = s.cluster_id "
            "WHERE s.ts >= ? AND s.ts <= ? ORDER BY s.ts",
            (since, until),
        ).fetchall()
    out: dict[str, list[float]] = {}
    for name, ts in rows:
        out.setdefault(name, []).append(ts)
    return out


def _live(db: Path, since: float) -> tuple[dict[str, int], int]:
    """Live rounds per cluster since `since`, and statistics passes."""
    if not db.exists():
        return {}, 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            rounds = dict(
                conn.execute(
                    "SELECT c.name, count(*) FROM metrics_snapshots s JOIN clusters c "
                    "ON c.id = s.cluster_id WHERE s.ts >= ? GROUP BY c.name",
                    (since,),
                ).fetchall()
            )
            passes = conn.execute("SELECT count(*) FROM data_statistics").fetchone()[0]
    except sqlite3.OperationalError:
        return {}, 0
    return rounds, passes


def test_twenty_sessions_while_the_collector_runs(two_clusters_in_a_process, shared_runtime, tmp_path, monkeypatch):
    configs = two_clusters_in_a_process
    names = [c.name for c in configs]
    db = tmp_path / "starmon.db"
    url = f"sqlite:///{db}"
    store_with_history(configs, tmp_path, url)
    text = "interval_seconds = 1\nstatistics_interval_seconds = 600\ntimeout_seconds = 2.0\n"
    for c in configs:
        text += (
            f'\n[[clusters]]\nname = "{c.name}"\nfe_host = "{c.fe_host}"\nhttp_port = {c.http_port}\n'
            f'query_port = {c.query_port}\nuser = "root"\n'
        )
    (tmp_path / "starmon.toml").write_text(text)
    use_dashboard(monkeypatch, url, tmp_path / "starmon.toml")

    log = tmp_path / "collector.log"
    with log.open("w") as out:
        collector = subprocess.Popen(
            [sys.executable, "collector.py"], cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        started = time.time()
        deadline = time.monotonic() + 30
        while True:  # the collector is running: two live rounds of each cluster and a statistics pass
            rounds, passes = _live(db, started)
            if passes and len(rounds) == len(names) and min(rounds.values()) >= 2:
                break
            assert collector.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (rounds, passes, log.read_text())
            time.sleep(0.2)

        # Baseline: one session alone loads every page once (its caches warm for the others too).
        alone: dict[str, float] = {}
        at = AppTest.from_file(MAIN, default_timeout=120)
        at.query_params["cluster"] = names[0]
        for i, (path, title) in enumerate(TOUR):
            t = time.monotonic()
            (at.run() if i == 0 else at.switch_page(path).run())
            alone[title] = time.monotonic() - t
            assert not at.exception, [e.value for e in at.exception]

        times: dict[str, list[float]] = {title: [] for _, title in TOUR}
        failures: list[str] = []
        done: list[int] = []
        load_started = time.monotonic()

        def session(k: int) -> None:
            name = names[k % len(names)]
            at = AppTest.from_file(MAIN, default_timeout=120)
            at.query_params["cluster"] = name
            at.query_params["range"] = RANGES[k % len(RANGES)]
            loads = 0
            try:
                while loads < MAX_PAGES_PER_SESSION and (
                    loads < PAGES_PER_SESSION or time.monotonic() - load_started < LOAD_SECONDS
                ):
                    path, title = TOUR[loads % len(TOUR)]
                    t = time.monotonic()
                    if loads == 0:
                        at.run()
                    else:
                        at.switch_page(path).run()
                    took = time.monotonic() - t
                    if at.exception:
                        failures.append(f"session {k} {title}: {[e.value for e in at.exception]}")
                        return
                    headings = [unescape(h.value) for h in at.header]
                    if f"{title} · {name}" not in headings:
                        failures.append(f"session {k} {title}: headings {headings}")
                        return
                    times[title].append(took)
                    loads += 1
                done.append(loads)
            except Exception as exc:  # reported by the main thread
                failures.append(f"session {k}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")

        threads = [
            threading.Thread(target=session, args=(k,), name=f"load-session-{k}", daemon=True) for k in range(SESSIONS)
        ]
        load_t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, load_started + LOAD_SECONDS + 150 - time.monotonic()))
        load_t1 = time.time()
        assert collector.poll() is None, log.read_text()
    finally:
        collector.send_signal(signal.SIGINT)
        try:
            collector.wait(20)
        except subprocess.TimeoutExpired:
            collector.kill()
            collector.wait(10)
        clear_caches()  # loaders.store() holds an engine on this test's file

    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, hung
    assert not failures, failures[:5]
    assert len(done) == SESSIONS and min(done) >= PAGES_PER_SESSION, done

    elapsed = load_t1 - load_t0
    rounds = _rounds(db, load_t0, load_t1)
    gaps = {n: [b - a for a, b in zip(ts, ts[1:])] for n, ts in rounds.items()}
    everything = sorted(x for per in times.values() for x in per)
    p95 = statistics.quantiles(everything, n=20)[18]
    print(
        f"\n[load] {SESSIONS} sessions, {len(everything)} page loads in {elapsed:.1f} s; page time "
        f"p50 {statistics.median(everything):.2f} s, p95 {p95:.2f} s, max {everything[-1]:.2f} s; "
        + ", ".join(f"{title} p50 {statistics.median(v):.2f} s" for title, v in times.items() if v)
        + f"; collector rounds {', '.join(f'{n} {len(ts)}' for n, ts in rounds.items())}, "
        f"max gap {max(max(g) for g in gaps.values()):.2f} s; one session alone: "
        + ", ".join(f"{title} {t:.2f} s" for title, t in alone.items())
    )

    collector_log = log.read_text()
    for bad in ("Traceback", "ERROR", "database is locked"):
        assert bad not in collector_log, collector_log
    assert sorted(rounds) == sorted(names), rounds
    for name, ts in rounds.items():
        assert len(ts) >= 0.5 * elapsed - 1, (name, len(ts), elapsed)
        assert max(gaps[name]) < MAX_GAP, (name, gaps[name])
