"""Shared fixtures: emulated clusters on loopback sockets and a collector on a SQLite file."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st

from starmon import schema
from starmon.collector import Collector
from starmon.config import ClusterConfig, Config
from starmon.emulator import ClusterSpec, Emulator, Workload
from starmon.store import Store
from starmon.ui.text import WORD_JOINER

# Copies of shared/starrocks/samples, so a fresh clone runs the tests on its own.
SAMPLES = Path(__file__).resolve().parent / "samples"


def unescape(text: str) -> str:
    """What the browser shows for markdown text escaped by starmon.ui.text.plain."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exact_workload(**overrides) -> Workload:
    """A workload without noise, daily swing or random events, so numbers can be checked exactly."""
    return Workload(**{"noise": 0.0, "daily_amplitude": 0.0, "events": False, **overrides})


@pytest.fixture
def emulator():
    """Start an Emulator for the given specs; every one started is stopped after the test."""
    started: list[Emulator] = []

    def start(*specs: ClusterSpec, **kwargs) -> Emulator:
        emu = Emulator(list(specs) or [ClusterSpec()], **kwargs).start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


def cluster_configs(emu: Emulator, **overrides) -> tuple[ClusterConfig, ...]:
    """ClusterConfig entries pointing at every cluster of an emulator (admin user 'root')."""
    fields = {"user": "root", "password": "", **overrides}
    return tuple(
        ClusterConfig(
            name=d["name"], fe_host=d["fe_host"], http_port=d["http_port"], query_port=d["query_port"], **fields
        )
        for d in emu.describe()
    )


# The storage, collector, rollup and read tests run on every engine given here. SQLite always;
# PostgreSQL when STARMON_TEST_PG_URL names a database the tests may empty (.ci/run sets it).
ENGINES = ["sqlite"] + (["postgresql"] if os.environ.get("STARMON_TEST_PG_URL") else [])


def fresh_url(engine: str, tmp_path: Path) -> str:
    """A database URL with no starmon tables in it yet."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'starmon.db'}"
    url = os.environ["STARMON_TEST_PG_URL"]
    engine_ = sa.create_engine(url)
    schema.metadata.drop_all(engine_)
    with engine_.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine_.dispose()
    return url


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path) -> str:
    """An empty database on each engine in turn."""
    return fresh_url(request.param, tmp_path)


@pytest.fixture
def make_collector(tmp_path):
    """Build a Collector over a fresh SQLite file (or the given URL) for the given clusters."""
    made: list[Collector] = []

    def make(clusters, *, timeout: float = 2.0, db: Path | None = None, url: str | None = None) -> Collector:
        url = url or f"sqlite:///{db or tmp_path / 'starmon.db'}"
        config = Config(db_url=url, clusters=tuple(clusters), timeout_seconds=timeout)
        collector = Collector(config, Store(url))
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()
        collector.store.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh database and config file for the dashboard, and clean Streamlit caches around the test.

    The dashboard's loaders cache the Store and the Config per process, so every page test
    starts from cleared caches and its own files.
    """
    db = tmp_path / "starmon.db"
    config = tmp_path / "starmon.toml"
    config.write_text("interval_seconds = 30\n")
    monkeypatch.setenv("STARMON_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("STARMON_CONFIG", str(config))
    monkeypatch.delenv("STARMON_SECRET_KEY", raising=False)
    monkeypatch.delenv("STARMON_SECRET_KEY_FILE", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    store = Store(f"sqlite:///{db}")
    yield {"db": db, "config": config, "store": store, "clusters": []}
    store.close()
    st.cache_data.clear()
    st.cache_resource.clear()
