"""What the dashboard server runs in the background: the demo (when wanted) and the collector.

`app.py` starts one Service per server process through Streamlit's `st.App` lifespan, so
reruns and browser sessions never start a second collector. The collector respects the
single-writer lock: if a standalone `python collector.py` already writes to the same
database, the embedded one stays idle.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import sqlalchemy as sa

from . import alert_store, demo, schema
from .config import env_setting, load_config
from .scheduler import Collector
from .secrets import Secrets
from .store import Store, StoreError

log = logging.getLogger(__name__)


class Service:
    """The background half of the dashboard: start() once, stop() on shutdown."""

    def __init__(self, environ: dict | None = None):
        self.environ = os.environ if environ is None else environ
        self.config = load_config(self.environ)
        self.store = Store(self.config.db_url)
        # Read now, so an unusable key or key file stops the start in one line instead of
        # surfacing later on a page or in the collector thread.
        self.secrets = Secrets.from_environment(self.store.key_file(), self.environ)
        self.emulator = None
        self.collector: Collector | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> Service:
        if demo.wanted(self.config, self.store, self.environ):
            self.emulator, cluster_id = demo.start(self.store)
            model = self.emulator.cluster(demo.DEMO_NAME)
            self._spawn("starmon-demo-history", lambda: self._demo_history(model, cluster_id))
        else:
            demo.retire(self.store)
        if env_setting("STARMON_EMBEDDED_COLLECTOR", self.environ) != "0":
            self.collector = Collector(self.config, self.store, secrets=self.secrets)
            self._spawn("starmon-collector", self.collector.run_forever)
        return self

    def _demo_history(self, model, cluster_id: int) -> None:
        """Replay the demo's week, then the alerts it would have raised (fired and resolved, sending nothing).

        Only the rounds this backfill adds are evaluated: those older than any stored before it
        (a restart adds none, so its alerts are never recorded twice).
        """
        s = schema.metrics_snapshots
        first = sa.select(sa.func.min(s.c.ts)).where(s.c.cluster_id == cluster_id)
        oldest = self.store.read(lambda conn: conn.execute(first).scalar())
        end = oldest if oldest is not None else time.time()
        demo.backfill(self.store, model, cluster_id, stop=self._stop)
        if not self._stop.is_set():
            started = time.perf_counter()
            recorded = alert_store.replay_history(self.store, self.config, cluster_id, demo.DEMO_NAME, end)
            log.info("demo alert history: %d alerts in %.2f s", recorded, time.perf_counter() - started)

    def _spawn(self, name: str, target) -> None:
        def run() -> None:
            try:
                target()
            except StoreError as exc:  # a lost database: the pages say so too
                log.error("%s stopped: %s", name, exc)
            except Exception:
                log.exception("%s failed", name)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.collector:
            self.collector.stop()
        for thread in self._threads:
            thread.join(timeout)
        if self.emulator:
            self.emulator.stop()
        self.store.close()
