"""Alerts end to end: emulated faults, the collector's evaluation, the outbox and a real webhook receiver.

The receiver is an HTTP server on loopback that apprise's `json://` channel posts to; the
collector and the deliverer share a clock the test moves, so `for`, repeats and backoff are
exact without waiting for them.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from starmon import alert_store, schema
from starmon.alert_delivery import CLAIM_SECONDS, Deliverer
from starmon.alerts import parse_settings
from starmon.config import Config
from starmon.emulator import ClusterSpec
from starmon.emulator.model import Workload
from starmon.scheduler import Collector
from starmon.store import Store

from .fixtures import cluster_configs

INTERVAL = 30


class Receiver:
    """A webhook on loopback: keeps every JSON body it accepted; answers 500 while `failing`."""

    def __init__(self):
        self.messages: list[dict] = []
        self.requests = 0
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.failing:
                    self.send_response(500)
                else:
                    receiver.messages.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def about(self, text: str) -> list[str]:
        return [m["message"] for m in self.messages if text in m["message"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self, t: float = 1_900_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def setup(emulator, receiver, tmp_path):
    """An emulated cluster serving exact numbers, a collector and a deliverer over one SQLite file."""
    made = []

    def make(rules: dict | None = None, channels: list[dict] | None = None):
        emu = emulator(ClusterSpec(workload=Workload(noise=0.0, events=False)))
        channels = channels or [{"name": "hook", "url": receiver.url}]
        settings = parse_settings({"public_url": "http://starmon.test", "rules": rules or {}, "channels": channels})
        url = f"sqlite:///{tmp_path / 'starmon.db'}"
        clock = Clock()
        config = Config(url, cluster_configs(emu), interval_seconds=INTERVAL, timeout_seconds=2.0, alerts=settings)
        collector = Collector(config, Store(url), clock=clock)
        made.append(collector)
        return emu, collector, Deliverer(collector.store, settings, clock), clock

    yield make
    for collector in made:
        collector.close()
        collector.store.close()


def rounds(collector: Collector, deliverer: Deliverer, clock: Clock, n: int = 1) -> None:
    for _ in range(n):
        clock.t += INTERVAL
        collector.run_round()
        deliverer.run_pending()


def alert_rows(store: Store, rule: str) -> list[dict]:
    a = schema.alerts
    return store.read(lambda conn: [dict(r._mapping) for r in conn.execute(sa.select(a).where(a.c.rule == rule))])


def test_a_be_down_fires_once_naming_it_within_for_plus_a_round_and_resolves_once(setup, receiver):
    emu, collector, deliverer, clock = setup()
    rounds(collector, deliverer, clock)
    assert receiver.messages == []
    emu.set_faults("demo", {"be_down": [1]})  # the second BE, 127.0.0.4
    down_at = clock.t + INTERVAL
    rounds(collector, deliverer, clock, 2)  # seen at down_at and 30 s later: pending for 60 s
    assert receiver.about("node_down") == []
    rounds(collector, deliverer, clock)  # 60 s after it was first seen: fires
    assert clock.t - down_at <= 60 + INTERVAL
    fired = receiver.about("node_down")
    assert len(fired) == 1
    assert "[FIRING] warning node_down: BE 127.0.0.4 down" in fired[0]
    assert "Cluster demo" in fired[0] and "http://starmon.test/?cluster=demo&range=1h" in fired[0]
    rounds(collector, deliverer, clock, 2)
    assert len(receiver.about("node_down")) == 1  # no duplicate while it stays down
    emu.set_faults("demo", {"be_down": []})
    rounds(collector, deliverer, clock)
    resolved = receiver.about("node_down")[1:]
    assert len(resolved) == 1 and "[RESOLVED] warning node_down: BE 127.0.0.4 down" in resolved[0]
    rounds(collector, deliverer, clock)
    assert len(receiver.about("node_down")) == 2
    [row] = alert_rows(collector.store, "node_down")
    assert (row["state"], row["subject"], row["notifications"]) == ("resolved", "BE 127.0.0.4", 2)
    assert row["started_at"] == down_at and row["fired_at"] == down_at + 60 and row["resolved_at"] == clock.t - INTERVAL


def test_a_card_crossing_warning_then_critical_changes_severity_without_duplicates(setup, receiver):
    emu, collector, deliverer, clock = setup({"query_latency_p99": {"for": 0}})
    workload = emu.cluster("demo").workload
    # p99 of the slowest FE (index 1) is latency_ms * 1.2 * 8 with no noise and no slow-query bursts
    workload.latency_ms = 150.0  # 1,440 ms: past warning (1,000)
    rounds(collector, deliverer, clock, 2)
    [warned] = receiver.about("query_latency_p99")
    assert "[FIRING] warning query_latency_p99: p99 latency 1,440 ms > 1,000 ms" in warned
    workload.latency_ms = 600.0  # 5,760 ms: past critical (5,000)
    rounds(collector, deliverer, clock, 3)
    messages = receiver.about("query_latency_p99")
    assert len(messages) == 2
    assert "[NOW CRITICAL] critical query_latency_p99: p99 latency 5,760 ms > 5,000 ms" in messages[1]
    [row] = alert_rows(collector.store, "query_latency_p99")
    assert (row["state"], row["severity"], row["peak"], row["value"]) == ("firing", "critical", 5760.0, 5760.0)


def test_a_failing_channel_is_retried_with_backoff_and_delivered_once_it_recovers(setup, receiver):
    emu, collector, deliverer, clock = setup({"node_down": {"for": 0}})
    receiver.failing = True
    emu.set_faults("demo", {"be_down": [2]})
    rounds(collector, deliverer, clock)
    assert receiver.requests == 1 and receiver.messages == []
    [row] = collector.store.read(lambda conn: [dict(r._mapping) for r in conn.execute(sa.select(schema.alert_outbox))])
    assert row["attempts"] == 1 and row["sent_at"] is None and row["next_attempt_at"] == clock.t + 10
    assert "not accepted" in row["last_error"] and "127.0.0.1" not in row["last_error"]  # no URL in errors
    clock.t += 5
    deliverer.run_pending()
    assert receiver.requests == 1  # not due yet
    clock.t += 5
    deliverer.run_pending()
    assert receiver.requests == 2  # the second try, then 20 s
    receiver.failing = False
    clock.t += 19
    deliverer.run_pending()
    assert receiver.messages == []
    clock.t += 1
    deliverer.run_pending()
    deliverer.run_pending()
    assert len(receiver.about("BE 127.0.0.5 down")) == 1 and receiver.requests == 3


def test_a_crash_between_sending_and_marking_sends_again_after_restart(setup, receiver, monkeypatch, tmp_path):
    """At least once: the message went out, the collector died before marking it, the next one repeats it."""
    emu, collector, deliverer, clock = setup({"node_down": {"for": 0}})

    def crash(row):
        raise SystemExit("killed between send and mark")

    monkeypatch.setattr(deliverer, "mark_sent", crash)
    emu.set_faults("demo", {"be_down": [0]})
    clock.t += INTERVAL
    collector.run_round()
    with pytest.raises(SystemExit):
        deliverer._channel_pass(
            collector.store.read(lambda c: [dict(r._mapping) for r in c.execute(sa.select(schema.alert_outbox))])
        )
    assert len(receiver.about("BE 127.0.0.3 down")) == 1
    collector.store.close()
    store = Store(f"sqlite:///{tmp_path / 'starmon.db'}")  # the restarted collector's
    try:
        restarted = Deliverer(store, collector.config.alerts, clock)
        assert restarted.run_pending() == 0  # still claimed by the dead sender
        clock.t += CLAIM_SECONDS
        assert restarted.run_pending() == 1
        assert restarted.run_pending() == 0
        assert len(receiver.about("BE 127.0.0.3 down")) == 2  # delivered twice: at least once, documented
        [row] = alert_rows(store, "node_down")
        assert row["notifications"] == 1
    finally:
        store.close()


def test_a_silence_keeps_the_record_but_sends_nothing(setup, receiver):
    emu, collector, deliverer, clock = setup({"node_down": {"for": 0}})
    cid = {c.name: i for i, c in collector.clusters()}["demo"]  # syncs the clusters table
    alert_store.add_silence(
        collector.store, cid, "node_down", clock.t + 3600, "BE replaced tonight", "ops", now=clock.t
    )
    emu.set_faults("demo", {"be_down": [1]})
    rounds(collector, deliverer, clock, 2)
    emu.set_faults("demo", {"be_down": []})
    rounds(collector, deliverer, clock)
    assert receiver.about("node_down") == []
    [row] = alert_rows(collector.store, "node_down")
    assert (row["state"], row["silenced"], row["notifications"], row["subject"]) == (
        "resolved",
        True,
        0,
        "BE 127.0.0.4",
    )


def test_an_e_mail_channel_delivers_to_a_real_smtp_server(setup):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.mails: list[email.message.Message] = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        url = f"mailto://127.0.0.1:{port}?mode=insecure&from=starmon@example.com&to=ops@example.com&user=&pass="
        emu, collector, deliverer, clock = setup({"node_down": {"for": 0}}, [{"name": "mail", "url": url}])
        emu.set_faults("demo", {"be_down": [1]})
        rounds(collector, deliverer, clock)
        [mail] = inbox.mails
        assert mail["Subject"] == "[starmon] demo: 1 firing" and mail["To"] == "ops@example.com"
        text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
        assert "[FIRING] warning node_down: BE 127.0.0.4 down" in text
    finally:
        smtp.stop()


def test_a_cluster_gained_again_is_read_afresh(setup, receiver):
    """What the engine keeps per cluster (open alerts, statistics) is read once; a hand-over forgets it."""
    emu, collector, deliverer, clock = setup({"node_down": {"for": 0}})
    rounds(collector, deliverer, clock)  # healthy: nothing open, which the engine now knows
    [(cid, _)] = collector.clusters()
    opened = dict(cluster_id=cid, rule="node_down", subject="BE 127.0.0.4", state="firing", severity="warning")
    opened |= dict(message="BE 127.0.0.4 down", started_at=clock.t, fired_at=clock.t, last_seen_at=clock.t)
    opened |= dict(last_sent_at=clock.t, notifications=1, silenced=False)
    # another collector held the cluster meanwhile and opened an alert (the BE is back since)
    collector.store.write(lambda conn: conn.execute(schema.alerts.insert().values(**opened)))
    rounds(collector, deliverer, clock)
    assert [r["state"] for r in alert_rows(collector.store, "node_down")] == ["firing"]  # not read back
    collector._keep_only([])  # what the loop does when the lease is lost; the next round gains it again
    rounds(collector, deliverer, clock)
    assert [r["state"] for r in alert_rows(collector.store, "node_down")] == ["resolved"]
    assert len(receiver.about("[RESOLVED] warning node_down: BE 127.0.0.4 down")) == 1
