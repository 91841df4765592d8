"""Three collector processes share one PostgreSQL database through leases; one is killed.

Runs only when STARMON_TEST_PG_URL names a PostgreSQL database the tests may empty (.ci/run
sets it up). Real processes, real sockets: one emulator process serves every cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from starmon.emulator.process import emulator_process

from .fixtures import ROOT, fresh_url

pytestmark = pytest.mark.skipif(not os.environ.get("STARMON_TEST_PG_URL"), reason="no STARMON_TEST_PG_URL")
CLUSTERS = 9
INTERVAL = 2.0


@pytest.fixture
def fleet(tmp_path):
    """An emulator with 9 clusters and a starmon.toml listing them, on a fresh database."""
    url = fresh_url("postgresql", tmp_path)
    with emulator_process(
        "--clusters", str(CLUSTERS), "--name", "fleet", "--host", "127.0.2.1", log=tmp_path / "emulator.log"
    ) as described:
        toml = f"interval_seconds = {INTERVAL:g}\n" + "".join(
            f'[[clusters]]\nname = "{d["name"]}"\nfe_host = "{d["fe_host"]}"\nhttp_port = {d["http_port"]}\n'
            f"query_port = {d['query_port']}\n"
            for d in described
        )
        (tmp_path / "starmon.toml").write_text(toml)
        env = {
            **os.environ,
            "STARMON_DB_URL": url,
            "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
            "STARMON_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
        }
        yield url, env


def _rows(url, query):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).all()
    finally:
        engine.dispose()


def _shares(url: str, expected: list[int], wait: float = 30) -> Counter:
    """Lease owners once they hold `expected` clusters each (sorted); a slow start on a busy
    machine gets `wait` seconds more, and the last owners seen are in the failure."""
    deadline = time.monotonic() + wait
    while True:
        owners = Counter(o for (o,) in _rows(url, "SELECT owner FROM collector_leases WHERE owner <> ''"))
        if sorted(owners.values()) == expected or time.monotonic() > deadline:
            assert sorted(owners.values()) == expected, owners
            return owners
        time.sleep(0.25)


def test_three_collectors_one_killed(fleet, tmp_path):
    url, env = fleet
    procs = [
        subprocess.Popen(
            [sys.executable, "collector.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"c{i}.log").open("w"),
        )
        for i in range(3)
    ]
    try:
        time.sleep(5 * INTERVAL)  # start-up and rebalancing
        owners = _shares(url, [3, 3, 3])  # each of the three holds a third
        victim = procs[0]
        victim_owner = next(o for o in owners if o.split(":")[1] == str(victim.pid))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.time()
        time.sleep(6 * INTERVAL)
        owners = _shares(url, [4, 5])  # the survivors share the victim's clusters
        assert victim_owner not in owners, owners
        rows = _rows(
            url,
            "SELECT c.name, s.ts FROM metrics_snapshots s JOIN clusters c ON c.id = s.cluster_id ORDER BY c.name, s.ts",
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    by_cluster: dict[str, list[float]] = {}
    for name, ts in rows:
        by_cluster.setdefault(name, []).append(ts)
    assert len(by_cluster) == CLUSTERS
    for name, stamps in by_cluster.items():
        around = [t for t in stamps if t >= killed_at - 2 * INTERVAL]
        gaps = [b - a for a, b in zip(around, around[1:])]
        # Every cluster keeps getting a round: never more than two intervals without one.
        assert around and around[-1] > killed_at + 3 * INTERVAL, (name, around)
        assert max(gaps) <= 2 * INTERVAL + 0.5, (name, gaps)
        # No round written twice: two writers would leave rounds much closer than an interval.
        all_gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert min(all_gaps) > 0.4 * INTERVAL, (name, all_gaps)
