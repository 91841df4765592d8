"""Shared pytest fixtures: emulated clusters, collectors and stores on SQLite files, the dashboard's
environment and seeded clusters. The plain helpers they are built on are in fixtures.py."""

from __future__ import annotations

import shutil
import signal
from contextlib import ExitStack

import pytest

from starmon import demo
from starmon.config import Config
from starmon.emulator import ClusterSpec, Emulator
from starmon.emulator.process import emulator_process
from starmon.scheduler import Collector
from starmon.store import Store

from .browser import Dashboard, count_rows, dashboard_env, dashboard_server

# exact_workload and free_port are only re-exported: the collector's test modules (test_collector,
# test_faults, test_hostile, test_emulator, being rewritten with the collector) still import them from
# here. Every other module imports helpers from fixtures.py.
from .fixtures import (  # noqa: F401
    ENGINES,
    NEWEST,
    add_cluster,
    clear_caches,
    cluster_configs,
    exact_workload,
    free_port,
    fresh_url,
    seed_rounds,
    use_dashboard,
)
from .strategies import ENV_PW

# -- the run itself -------------------------------------------------------------------------------------------


def pytest_configure(config):
    """Let the processes the tests start be stopped by SIGINT again, when this run was started with it ignored.

    A script's background job (`python -m pytest ... &`) starts with SIGINT ignored, and a child inherits
    that: every collector and emulator the tests stop with SIGINT, as Ctrl-C stops them, then ran on
    until the test's 10 or 20 s wait killed it, and the tests that check a clean exit failed. A handled
    SIGINT is reset to the default in a child, so the children stop as they do from a terminal.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# -- emulated clusters ---------------------------------------------------------------------------------------


@pytest.fixture
def emulator():
    """Start an Emulator in this process for the given specs; every one started is stopped after the test."""
    started: list[Emulator] = []

    def start(*specs: ClusterSpec, **kwargs) -> Emulator:
        emu = Emulator(list(specs) or [ClusterSpec()], **kwargs).start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def two_clusters_in_a_process(tmp_path):
    """`python -m starmon.emulator --clusters 2` on free loopback ports, so the readers of the test do not
    slow the clusters' answers; yields their ClusterConfigs."""
    with emulator_process(
        "--clusters", "2", "--name", "emulated", "--host", "127.0.0.1", log=tmp_path / "emulator.log"
    ) as clusters:
        yield cluster_configs(clusters)


# -- the demo's replayed week ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_week_file(tmp_path_factory):
    """The demo's week replayed once per test run into a SQLite file: (path, live model, cluster id, now).

    A replay takes 20-30 s; the modules that read the week copy this file (demo_week) rather than
    each replaying their own. The emulator is stopped: the model is only asked what it served.
    """
    path = tmp_path_factory.mktemp("demo-week") / "demo.db"
    store = Store(f"sqlite:///{path}")
    emulator, cluster_id = demo.start(store)
    try:
        model = emulator.cluster(demo.DEMO_NAME)
        now = model.now()  # the replay's script counts back from a moment later
        demo.backfill(store, model, cluster_id)
    finally:
        emulator.stop()
        store.close()
    return path, model, cluster_id, now


@pytest.fixture(scope="module")
def demo_week(demo_week_file, tmp_path_factory):
    """A module's own copy of the replayed demo week, free to change: (store, model, cluster id, now, directory)."""
    path, model, cluster_id, now = demo_week_file
    tmp = tmp_path_factory.mktemp("week")
    for part in path.parent.glob(f"{path.name}*"):  # the file, and a WAL if one was left
        shutil.copy(part, tmp / part.name)
    store = Store(f"sqlite:///{tmp / path.name}")
    yield store, model, cluster_id, now, tmp
    store.close()


_DEMO_USER = "demo_dashboard"
_STOP_DEMO, _LAST_DEMO_USER = pytest.StashKey(), pytest.StashKey()


def pytest_collection_modifyitems(config, items):
    """Run the modules that read the session's demo dashboard one after another, where the first
    of them stood, so the dashboard can stop after the last test that reads it (see
    pytest_runtest_teardown): its collector would otherwise load the machine under the
    timing-sensitive tests that follow (test_contention, test_load)."""
    reading = [item for item in items if _DEMO_USER in getattr(item, "fixturenames", ())]
    if not reading:
        return
    users = {item.module for item in reading}
    first = next(i for i, item in enumerate(items) if item.module in users)
    grouped = [item for item in items if item.module in users]
    items[:] = items[:first] + grouped + [item for item in items[first:] if item.module not in users]
    config.stash[_LAST_DEMO_USER] = [item for item in items if item in reading][-1]


def pytest_runtest_teardown(item, nextitem):
    """After the last test that reads the demo dashboard, stop it (if it was started)."""
    if item is item.config.stash.get(_LAST_DEMO_USER, None):
        item.config.stash.get(_STOP_DEMO, lambda: None)()


@pytest.fixture(scope="session")
def demo_dashboard(tmp_path_factory, pytestconfig):
    """`streamlit run app.py` with nothing configured, so the demo starts and is collected: one server,
    once it holds a round, for the browser tests that only look at the demo's pages (test_browser,
    test_offline, test_resources_page, test_workload, test_wrong_now). It stops after the last of them.

    Each of those modules used to start its own, and two waited for the week's replay (25-30 s each);
    none of them changes what the server holds. test_first_minutes starts its own: the replay as a
    new user sees it is its point.
    """
    tmp = tmp_path_factory.mktemp("demo-dashboard")
    env, db = dashboard_env(tmp, demo=True), tmp / "starmon.db"
    with ExitStack() as running:
        url = running.enter_context(dashboard_server(tmp, env, ready=lambda: count_rows(db, "metrics_snapshots") > 0))
        pytestconfig.stash[_STOP_DEMO] = running.close
        yield Dashboard(url, env, db)


# -- databases and collectors --------------------------------------------------------------------------------


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path) -> str:
    """An empty database on each engine in turn."""
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def make_collector(tmp_path):
    """Build a Collector over a fresh SQLite file (or the given URL) for the given clusters."""
    made: list[Collector] = []

    def make(clusters, *, timeout: float = 2.0, db=None, url: str | None = None) -> Collector:
        url = url or f"sqlite:///{db or tmp_path / 'starmon.db'}"
        config = Config(db_url=url, clusters=tuple(clusters), timeout_seconds=timeout)
        collector = Collector(config, Store(url))
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()
        collector.store.close()


# -- the dashboard -------------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh database and config file for the dashboard, and clean Streamlit caches around the test.

    The dashboard's loaders cache the Store and the Config per process, so every page test
    starts from cleared caches and its own files.
    """
    db = tmp_path / "starmon.db"
    config = tmp_path / "starmon.toml"
    config.write_text("interval_seconds = 30\n")
    use_dashboard(monkeypatch, f"sqlite:///{db}", config)
    store = Store(f"sqlite:///{db}")
    yield {"db": db, "config": config, "store": store}
    store.close()
    clear_caches()


@pytest.fixture
def seeded_with_problems(env):
    """Cluster `prod` with two hours of rounds a minute apart; the newest has NEWEST's values (a BE down,
    the disk past critical), and BE 10.0.0.3 is down for the last five. Adds cluster_id and newest_ts."""
    cid = add_cluster(env["store"])
    env["cluster_id"] = cid
    env["newest_ts"] = seed_rounds(env["store"], cid, newest=NEWEST)
    return env


@pytest.fixture
def seeded_healthy(env):
    """Cluster `prod` with an hour of rounds a minute apart and nothing wrong: no page warns about it."""
    cid = add_cluster(env["store"])
    env["cluster_id"] = cid
    env["newest_ts"] = seed_rounds(env["store"], cid, hours=1, dead=None)
    return env


# -- input from the environment ------------------------------------------------------------------------------


@pytest.fixture
def pw_env(monkeypatch):
    """ENV_PW set, the other variable generated declarations may name unset."""
    monkeypatch.setenv(ENV_PW, "from-the-environment")
    monkeypatch.delenv("STARMON_TEST_NOT_SET_ANYWHERE", raising=False)
