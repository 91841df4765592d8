"""Daily and hourly rollups with exact numbers, idempotence, catch-up, and bounded retention."""

from __future__ import annotations

import os
import random

import pytest
import sqlalchemy as sa

from starmon import rollup, schema
from starmon.config import ClusterConfig
from starmon.read import Reader, TimeRange
from starmon.store import Store

from .fixtures import ENGINES, fresh_url

DAY = 86400
D0 = 1_790_000_000 // DAY * DAY  # a UTC midnight


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    yield s
    s.close()


def _round(ts, status="ok", qps=10.0, total=None, errors=None, disk=50.0, alive=3, p99=100.0):
    return (
        {
            "ts": float(ts),
            "status": status,
            "collect_ms": 5,
            "qps": qps,
            "query_total": total,
            "query_error": errors,
            "disk_usage_pct": disk,
            "backend_alive": alive,
            "query_latency_p99": p99,
        },
        [
            {
                "role": "BE",
                "host": "10.0.0.3",
                "cpu_pct": qps,
                "disk_used_bytes": 100 + ts - D0,
                "disk_total_bytes": 1000,
            }
        ],
    )


def _daily(store, cid):
    with store.reader.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(schema.daily_snapshots)
                .where(schema.daily_snapshots.c.cluster_id == cid)
                .order_by(schema.daily_snapshots.c.day)
            )
        ]


def test_daily_numbers_are_exact_and_idempotent(store):
    cid = store.cluster_ids()["prod"]
    rounds = []
    total = errors = 0
    for i in range(2880):  # one day at 30 s
        ts = D0 + i * 30
        down = 1000 <= i < 1020  # 20 rounds down = 600 s
        if i == 2000:
            total, errors = 0, 0  # an FE restart resets the counters
        total += 15
        errors += 1 if i % 10 == 0 else 0
        rounds.append(
            _round(
                ts,
                "down" if down else "ok",
                qps=None if down else float(i % 100),
                total=None if down else total,
                errors=None if down else errors,
                disk=50 + i / 2880,
                alive=0 if down else 3,
                p99=200.0 if i == 5 else 100.0,
            )
        )
    rounds.append(_round(D0 + DAY))  # the next day begins
    store.write_rounds(cid, rounds)
    assert rollup.roll_up_days(store, cid, interval_seconds=30, now=D0 + DAY + 3600) == 1
    [row] = _daily(store, cid)
    assert row["day"] == rollup.datetime.fromtimestamp(D0, rollup.UTC).date().isoformat()
    assert row["rounds"] == 2880 and row["total_downtime_seconds"] == 600
    assert row["max_qps"] == 99 and row["avg_latency_p99"] == pytest.approx((2879 * 100 + 200) / 2880)
    # The counter grew by 15 a round, also while starmon saw the cluster down; the reset
    # round counts from zero, which here is the same 15.
    assert row["total_queries"] == 15 * (2880 - 1)
    assert row["max_disk_usage_pct"] == pytest.approx(50 + 2879 / 2880)
    assert row["avg_backend_alive"] == pytest.approx(3 * 2860 / 2880)
    rollup.roll_up_days(store, cid, interval_seconds=30, now=D0 + DAY + 3600)
    assert _daily(store, cid) == [row]  # a second run changes nothing
    # Once the day has settled, later passes leave it alone instead of reading it again.
    assert rollup.roll_up_days(store, cid, interval_seconds=30, now=D0 + DAY + rollup.SETTLE_SECONDS + 1) == 0
    assert _daily(store, cid) == [row]


def test_catch_up_after_downtime_and_hourly_tier(store):
    cid = store.cluster_ids()["prod"]
    store.write_rounds(cid, [_round(D0 + i * 300, qps=float(i % 12)) for i in range(4 * 288)])  # 4 days
    assert rollup.roll_up_days(store, cid, 30, now=D0 + 4 * DAY + 10) == 4
    assert [r["rounds"] for r in _daily(store, cid)] == [288] * 4
    assert rollup.roll_up_hours(store, cid, now=D0 + 4 * DAY) == 96
    assert rollup.roll_up_hours(store, cid, now=D0 + 4 * DAY) == 1  # only the newest is redone
    df = Reader(store).series(cid, TimeRange(D0, D0 + 30 * DAY, "30d"), ["qps"])
    assert len(df) == 96 and df["qps"].iloc[0] == pytest.approx(5.5)  # mean of 0..11 each hour
    nodes = Reader(store).node_series(cid, TimeRange(D0, D0 + 30 * DAY, "30d"), ["cpu_pct"])
    assert len(nodes) == 96


def test_retention_keeps_recent_rows_and_bounds_the_file(tmp_path):
    path = tmp_path / "ret.db"
    store = Store(f"sqlite:///{path}")
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    cid = store.cluster_ids()["prod"]
    rnd = random.Random(3)
    sizes = []
    for day in range(8):  # 8 simulated days at the 30 s cadence, 2 kept
        base = D0 + day * DAY
        store.write_rounds(
            cid,
            [
                (
                    {"ts": float(base + i * 30), "status": "ok", "collect_ms": 5, "qps": rnd.random()},
                    [{"role": "BE", "host": f"10.0.0.{k}", "cpu_pct": rnd.random()} for k in range(5)],
                )
                for i in range(2880)
            ],
        )
        rollup.maintain(store, [cid], 30, raw_days=2, rollup_days=90, now=base + DAY)
        sizes.append(os.path.getsize(path) + os.path.getsize(str(path) + "-wal"))
    with store.reader.connect() as conn:
        oldest = conn.execute(sa.select(sa.func.min(schema.metrics_snapshots.c.ts))).scalar()
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.metrics_snapshots)).scalar()
        hourly = conn.execute(sa.select(sa.func.count()).select_from(schema.hourly_snapshots)).scalar()
    assert oldest >= D0 + 8 * DAY - 2 * DAY and count == 2 * 2880
    assert hourly == 8 * 24  # the rollups outlive the raw rows
    assert max(sizes[4:]) <= sizes[3] * 1.1, sizes  # steady state: the file stops growing
    assert sizes[-1] - sizes[3] < sizes[0], sizes  # four more days added less than one day's size
    store.close()


def test_retention_on_every_engine(store):
    """Old raw rounds and their node rows go, recent ones and the rollups stay (SQLite and PostgreSQL)."""
    cid = store.cluster_ids()["prod"]
    now = D0 + 10 * DAY
    store.write_rounds(cid, [_round(now - age * DAY) for age in (9, 8, 3, 1, 0.5)])
    rollup.roll_up_hours(store, cid, now=now)
    deleted = rollup.apply_retention(store, raw_days=2, rollup_days=90, now=now)
    assert deleted["metrics_snapshots"] == 3 and deleted["node_snapshots"] == 3 and deleted["hourly_snapshots"] == 0
    with store.reader.connect() as conn:
        kept = sorted(conn.execute(sa.select(schema.metrics_snapshots.c.ts)).scalars())
        hourly = conn.execute(sa.select(sa.func.count()).select_from(schema.hourly_snapshots)).scalar()
    assert kept == [now - DAY, now - DAY / 2] and hourly == 5


def _snapshot_times(store):
    with store.reader.connect() as conn:
        return sorted(conn.execute(sa.select(schema.metrics_snapshots.c.ts)).scalars())


def test_retention_also_prunes_clusters_no_longer_collected(store):
    """A cluster removed from starmon.toml is disabled, not deleted: its old rounds still go."""
    cid = store.cluster_ids()["prod"]
    now = D0 + 10 * DAY
    store.write_rounds(cid, [_round(now - age * DAY) for age in (9, 1)])
    store.sync_clusters((ClusterConfig("other", "10.0.0.2"),))  # prod is disabled now
    assert "prod" not in store.cluster_ids()
    rollup.maintain(store, [store.cluster_ids()["other"]], 30, raw_days=2, rollup_days=90, now=now)
    assert _snapshot_times(store) == [now - DAY]


@pytest.mark.skipif("postgresql" not in ENGINES, reason="needs STARMON_TEST_PG_URL")
def test_one_collector_at_a_time_applies_retention(tmp_path):
    """While another collector holds the retention lock, maintain() leaves retention to it."""
    store = Store(fresh_url("postgresql", tmp_path))
    other = Store(os.environ["STARMON_TEST_PG_URL"])
    try:
        store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
        cid = store.cluster_ids()["prod"]
        now = D0 + 10 * DAY
        store.write_rounds(cid, [_round(now - age * DAY) for age in (9, 1)])
        with other.only_one("retention") as first:
            with store.only_one("retention") as second:
                assert first and not second
            rollup.maintain(store, [cid], 30, raw_days=2, rollup_days=90, now=now)
            assert _snapshot_times(store) == [now - 9 * DAY, now - DAY]  # skipped: the other holds it
        rollup.maintain(store, [cid], 30, raw_days=2, rollup_days=90, now=now)
        assert _snapshot_times(store) == [now - DAY]  # let go: applied
    finally:
        other.close()
        store.close()
