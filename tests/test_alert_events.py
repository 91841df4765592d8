"""Alerts firing and resolving are events: on the Events page, the chart markers, the API and the CLI.

An emulated BE is switched down and up over real sockets; the collector's own evaluation writes
the events, in the transaction that moves the alert, and the same reader the Events page, the
API and `python -m starmon events` use reads them back.
"""

from __future__ import annotations

from starmon import timeline
from starmon.read import Reader, parse_range

from .test_alert_delivery import INTERVAL, receiver, rounds, setup  # noqa: F401


def alert_events(collector, clock) -> list[tuple]:
    reader = Reader(collector.store)
    [(cid, _)] = collector.clusters()
    found = timeline.events_in(
        reader, cid, parse_range("24h", clock.t), kinds=["alert_firing", "alert_escalated", "alert_resolved"]
    )
    return [(e["ts"], e["kind"], e["subject"], e["severity"], e["details"]) for e in found]


def test_a_be_down_and_up_is_one_alert_firing_and_one_alert_resolved_event(setup):  # noqa: F811
    emu, collector, deliverer, clock = setup()
    rounds(collector, deliverer, clock, 3)
    assert alert_events(collector, clock) == []  # normal rounds: none
    emu.set_faults("demo", {"be_down": [1]})  # the second BE, 127.0.0.4
    down_at = clock.t + INTERVAL
    rounds(collector, deliverer, clock, 5)
    emu.set_faults("demo", {"be_down": []})
    rounds(collector, deliverer, clock)
    up_at = clock.t
    rounds(collector, deliverer, clock, 3)
    [(fired_ts, *firing, fired), (resolved_ts, *resolved, done)] = alert_events(collector, clock)
    assert (fired_ts, *firing) == (down_at + 60, "alert_firing", "node_down: BE 127.0.0.4", "warning")
    assert (resolved_ts, *resolved) == (up_at, "alert_resolved", "node_down: BE 127.0.0.4", "info")
    assert fired["message"] == "BE 127.0.0.4 down" and fired["started_at"] == down_at
    assert done["firing_seconds"] == up_at - (down_at + 60)


def test_a_card_alert_s_events_carry_its_value_against_its_threshold(setup):  # noqa: F811
    emu, collector, deliverer, clock = setup({"query_latency_p99": {"for": 0}})
    emu.cluster("demo").workload.latency_ms = 150.0  # p99 1,440 ms (see test_alert_delivery)
    rounds(collector, deliverer, clock, 2)
    [(_, kind, subject, severity, details)] = alert_events(collector, clock)
    assert (kind, subject, severity) == ("alert_firing", "query_latency_p99", "warning")
    assert (details["value"], details["threshold"], details["unit"]) == (1440.0, 1000.0, "ms")
    # then past critical: one escalation event, and nothing more while it stays there
    emu.cluster("demo").workload.latency_ms = 600.0  # p99 5,760 ms
    escalated_at = clock.t + INTERVAL
    rounds(collector, deliverer, clock, 3)
    [_, (ts, kind, subject, severity, details)] = alert_events(collector, clock)
    assert (ts, kind, subject, severity) == (escalated_at, "alert_escalated", "query_latency_p99", "critical")
    assert (details["value"], details["threshold"], details["unit"]) == (5760.0, 5000.0, "ms")
