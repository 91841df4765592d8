"""A collector that may not collect (another one writes the SQLite file) writes nothing at all.

It used to mirror starmon.toml's clusters into the database before finding the lock taken,
so `collector.py --once` beside a running dashboard disabled the dashboard's own clusters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from starmon import schema
from starmon.config import ClusterConfig, Config
from starmon.scheduler import Collector
from starmon.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _clusters(store: Store) -> list[tuple[str, bool]]:
    c = schema.clusters
    return store.read(
        lambda conn: [tuple(r) for r in conn.execute(sa.select(c.c.name, c.c.enabled).order_by(c.c.name))]
    )


def _running_dashboard(tmp_path: Path) -> Store:
    """A database whose writer lock is held (as a running dashboard holds it), with one cluster of its own."""
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    store.sync_clusters((ClusterConfig("mine", "127.0.0.1", 1, 1),))
    assert store.writer_lock().acquire()
    return store


def test_once_beside_a_running_collector_changes_nothing(tmp_path):
    store = _running_dashboard(tmp_path)
    (tmp_path / "starmon.toml").write_text('[[clusters]]\nname = "other"\nfe_host = "127.0.0.1"\n')
    env = {
        **os.environ,
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
        "STARMON_DB_URL": store.url,
        "STARMON_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "collector.py"), "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert "another collector" in done.stderr and "nothing collected" in done.stderr
    assert _clusters(store) == [("mine", True)]  # not disabled, and "other" not added
    store.close()


def test_an_idle_collector_loop_touches_no_cluster(tmp_path):
    store = _running_dashboard(tmp_path)
    config = Config(db_url=store.url, clusters=(ClusterConfig("other", "127.0.0.1", 1, 1),), interval_seconds=1)
    idle = Collector(config, Store(store.url))
    thread = threading.Thread(target=idle.run_forever, daemon=True)
    thread.start()
    time.sleep(2.5)  # a couple of its ticks
    idle.stop()
    thread.join(10)
    assert _clusters(store) == [("mine", True)]
    store.close()
