"""The demo week's alert history: alerts replayed over stored rounds fire and resolve when the
scripted incidents say, and nothing is sent.

The demo's backfill replays the emulator's scripted week (a BE down for 20 minutes, in the last
day) into a SQLite file; alert_store.replay_history then evaluates those rounds one after another.
The incident's times are read from the node events the backfill stored, so the test follows the
script wherever it puts the outage.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from starmon import alert_store, demo, schema
from starmon.config import Config
from starmon.store import Store


@pytest.fixture(scope="module")
def week(demo_week):
    """The replayed demo week (the BE outage included), this module's own copy."""
    store, _, cluster_id, _, tmp = demo_week
    return store, Config(f"sqlite:///{tmp / 'demo.db'}"), cluster_id


def rows(store: Store, table: sa.Table, *where) -> list[dict]:
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(sa.select(table).where(*where))])


def test_the_replayed_week_has_the_be_outage_as_an_alert_that_fired_and_resolved(week):
    store, config, cid = week
    e = schema.events
    outages = rows(store, e, e.c.cluster_id == cid, e.c.kind == "node_down", e.c.subject.like("BE %"))
    down = min(outages, key=lambda d: d["ts"])  # the script's first BE outage
    ups = rows(store, e, e.c.cluster_id == cid, e.c.kind == "node_up", e.c.subject == down["subject"])
    up = min((u for u in ups if u["ts"] > down["ts"]), key=lambda u: u["ts"])
    live = {"rule": "avg_cpu_usage", "subject": "", "state": "firing", "severity": "warning", "message": "live"}
    live |= {"cluster_id": cid, "started_at": time.time() - 60, "last_seen_at": time.time(), "notifications": 1}
    store.write(lambda conn: conn.execute(schema.alerts.insert().values(**live, silenced=False)))

    recorded = alert_store.replay_history(store, config, cid, demo.DEMO_NAME, end=time.time())

    a = schema.alerts
    [alert] = rows(store, a, a.c.rule == "node_down", a.c.subject == down["subject"], a.c.started_at == down["ts"])
    assert (alert["subject"], alert["state"], alert["severity"]) == (down["subject"], "resolved", "warning")
    assert alert["started_at"] == down["ts"]  # the first round that found it down
    s = schema.metrics_snapshots
    rounds = [r["ts"] for r in rows(store, s, s.c.cluster_id == cid, s.c.ts >= down["ts"] + 60)]
    assert alert["fired_at"] == min(rounds)  # `for` 60 s: the first round a minute or more later
    assert alert["resolved_at"] == up["ts"]
    assert (alert["notifications"], alert["silenced"]) == (0, False)
    assert recorded == len(rows(store, a, a.c.cluster_id == cid, a.c.state == "resolved"))
    assert rows(store, schema.alert_outbox) == []  # nothing sent, nothing queued
    [still] = rows(store, a, a.c.state != "resolved")  # the live open alert, untouched; no replayed one left open
    assert {k: still[k] for k in live} == live
    subject = f"node_down: {down['subject']}"
    marks = rows(store, e, e.c.subject == subject, e.c.ts.between(alert["started_at"], alert["resolved_at"]))
    assert sorted((m["kind"], m["ts"]) for m in marks) == [
        ("alert_firing", alert["fired_at"]),
        ("alert_resolved", alert["resolved_at"]),
    ]


def test_a_span_with_no_rounds_records_nothing(week):
    store, config, cid = week
    oldest = store.read(
        lambda conn: conn.execute(sa.select(sa.func.min(schema.metrics_snapshots.c.ts))).scalar()
    )  # a restart's backfill adds nothing older than this: its replay has nothing to evaluate
    before = rows(store, schema.alerts)
    assert alert_store.replay_history(store, config, cid, demo.DEMO_NAME, end=oldest) == 0
    assert rows(store, schema.alerts) == before
