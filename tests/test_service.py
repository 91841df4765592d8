"""The dashboard's background service: demo and collector start once and stop cleanly."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from starmon import schema
from starmon.service import Service
from starmon.store import Store


def _env(tmp_path, **extra):
    (tmp_path / "starmon.toml").write_text("interval_seconds = 1\n")
    return {
        "STARMON_DB_URL": f"sqlite:///{tmp_path / 's.db'}",
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
        **extra,
    }


def _count(url, since: float | None = None):
    """Rounds stored after `since` (default: the last two minutes, i.e. live ones, not replayed history)."""
    since = time.time() - 120 if since is None else since
    store = Store(url)
    try:
        with store.reader.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count())
                .select_from(schema.metrics_snapshots)
                .where(schema.metrics_snapshots.c.ts > since)
            ).scalar()
    finally:
        store.close()


def test_demo_is_collected_live_and_stops_cleanly(tmp_path):
    env = _env(tmp_path)
    service = Service(env).start()
    try:
        deadline = time.time() + 30
        while _count(env["STARMON_DB_URL"]) < 2:
            assert time.time() < deadline
            time.sleep(0.2)
    finally:
        service.stop()
    assert not any(
        t.name in ("starmon-collector", "starmon-demo-history") and t.is_alive() for t in threading.enumerate()
    )
    since = time.time() - 120  # one cutoff for both counts
    stopped = _count(env["STARMON_DB_URL"], since)
    time.sleep(1.5)
    assert _count(env["STARMON_DB_URL"], since) == stopped  # nothing writes after stop()


def test_second_service_stays_idle_while_the_first_writes(tmp_path):
    env = _env(tmp_path, STARMON_DEMO="0")
    first = Store(env["STARMON_DB_URL"]).writer_lock()
    assert first.acquire()  # e.g. a standalone `python collector.py`
    service = Service(env).start()
    try:
        time.sleep(1.5)
        assert service.collector is not None and service.emulator is None
        assert _count(env["STARMON_DB_URL"]) == 0
    finally:
        service.stop()
        first.release()


def test_embedded_collector_can_be_turned_off(tmp_path):
    service = Service(_env(tmp_path, STARMON_DEMO="0", STARMON_EMBEDDED_COLLECTOR="0")).start()
    assert service.collector is None and service.emulator is None
    service.stop()
