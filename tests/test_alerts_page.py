"""The Alerts page and the sidebar's count: what fires, what fired, silences, channels and their test.

Alerts are written as the collector's engine stores them (alert_store's table), then the page is run
through AppTest; the channel test goes to a real webhook on loopback.
"""

from __future__ import annotations

import time

import pytest

from starmon import alert_store, schema, users
from starmon.ui import auth

from .fixtures import add_cluster, app, seed_rounds, unescape
from .test_alert_delivery import Receiver, receiver  # noqa: F401

ALERTS = "../../pages/alerts.py"


def _alert(store, cid: int, rule: str, state: str, severity: str, started: float, **more) -> None:
    values = dict(
        cluster_id=cid,
        rule=rule,
        subject=more.pop("subject", ""),
        state=state,
        severity=severity,
        message=more.pop("message", rule),
        started_at=started,
        last_seen_at=started,
        notifications=more.pop("notifications", 0),
        silenced=False,
        **more,
    )
    store.write(lambda conn: conn.execute(schema.alerts.insert().values(**values)))


@pytest.fixture
def with_alerts(env):
    store = env["store"]
    cid = add_cluster(store)
    seed_rounds(store, cid, hours=0.2, dead=None)
    now = time.time()
    _alert(store, cid, "node_down", "firing", "warning", now - 600, subject="BE 10.0.0.3", message="BE 10.0.0.3 down")
    _alert(store, cid, "disk_usage_pct", "firing", "critical", now - 300, message="disk used 91.2 % > 90.0 %")
    _alert(store, cid, "query_latency_p99", "resolved", "warning", now - 7200, resolved_at=now - 3600, peak=1400.0)
    _alert(store, cid, "cluster_down", "resolved", "critical", now - 3 * 86400, resolved_at=now - 3 * 86400 + 60)
    env["cluster_id"] = cid
    return env


def _open(**query):
    at = app(**query).run()
    return at.switch_page(ALERTS).run()


def test_firing_worst_first_and_the_range_s_history(with_alerts):
    at = _open()
    assert not at.exception
    firing, history = at.dataframe[0].value, at.dataframe[1].value
    assert list(firing["Rule"]) == ["disk_usage_pct", "node_down"]  # critical first
    assert list(firing["What"]) == ["disk used 91.2 % > 90.0 %", "BE 10.0.0.3 down"]
    assert list(history["Rule"]) == ["query_latency_p99"]  # the cluster_down of 3 days ago is outside 24h
    assert history["Peak"].tolist() == [1400.0]
    [link] = [p for p in at.get("page_link") if "firing" in p.proto.label]
    assert link.proto.label == "2 alerts firing"


def test_a_longer_range_shows_older_history(with_alerts):
    at = _open(range="7d")
    assert list(at.dataframe[1].value["Rule"]) == ["query_latency_p99", "cluster_down"]


def test_nothing_firing_says_so_and_the_sidebar_says_nothing(env):
    add_cluster(env["store"])
    at = _open()
    assert any("No alert is firing." in s.value for s in at.success)
    assert not [p for p in at.get("page_link") if "firing" in p.proto.label]


def test_an_admin_silences_a_rule_and_ends_it(with_alerts):
    at = _open()
    form_boxes = [s for s in at.selectbox if s.label in ("Cluster", "Rule") and s.key != "cluster"]
    cluster_box, rule_box = form_boxes
    cluster_box.set_value("prod")
    rule_box.set_value("node_down")
    next(t for t in at.text_input if t.label == "For").input("90m")
    next(t for t in at.text_input if t.label == "Reason").input("BE 10.0.0.3 replaced tonight")
    next(b for b in at.button if b.label == "Silence").click()
    at.run()
    assert not at.exception
    [silence] = alert_store.silences(with_alerts["store"])
    assert (silence.cluster, silence.rule, silence.reason) == ("prod", "node_down", "BE 10.0.0.3 replaced tonight")
    assert 89 * 60 < silence.until - time.time() <= 90 * 60
    assert any("prod · node\\_down until" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "End").click()
    at.run()
    assert alert_store.silences(with_alerts["store"]) == []


def test_a_silence_without_a_reason_is_refused_and_nothing_stored(with_alerts):
    at = _open()
    next(s for s in at.selectbox if s.label == "Rule").set_value("node_down")
    next(t for t in at.text_input if t.label == "Reason").input("   ")
    next(b for b in at.button if b.label == "Silence").click()
    at.run()
    assert [unescape(e.value) for e in at.error] == ["a silence needs a reason"]
    assert alert_store.silences(with_alerts["store"]) == []


def test_a_viewer_sees_alerts_but_cannot_silence_or_test(with_alerts, monkeypatch):
    monkeypatch.setattr(auth, "gate", lambda pages: users.User("ann", "viewer"))  # signed in (test_signin's way)
    at = _open()
    assert not at.exception
    assert len(at.dataframe) == 3  # firing, history, and the rules, read-only
    assert not [b for b in at.button if b.label in ("Silence", "End", "Send a test", "Save rule")]
    assert not [s for s in at.selectbox if s.label == "Rule to edit"]


def test_send_a_test_reaches_the_channel_and_never_shows_its_address(with_alerts, receiver):  # noqa: F811
    with_alerts["config"].write_text(
        f'interval_seconds = 30\n[[alerts.channels]]\nname = "ops"\nurl = "{receiver.url}"\n'
    )
    at = _open()
    assert not at.exception
    assert any("ops: warning and worse, every cluster" in unescape(m.value) for m in at.markdown)
    next(b for b in at.button if b.label == "Send a test").click()
    at.run()
    assert any("Test message sent to ops." in unescape(s.value) for s in at.success)
    assert receiver.about("A test from starmon to channel ops")
    shown = " ".join(str(e.value) for kind in ("markdown", "success", "caption", "info") for e in at.get(kind))
    assert "127.0.0.1" not in shown and "json://" not in shown
