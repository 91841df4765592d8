"""Health cards: thresholds from one registry, overrides from starmon.toml, conditions in words."""

from __future__ import annotations

import pytest

from starmon import health
from starmon.config import ConfigError, load_config

SNAP = {
    "status": "partial",
    "error": "BE 10.0.0.3: not alive",
    "qps": 12.5,
    "query_latency_p99": 6000.0,
    "query_error_rate": None,
    "disk_usage_pct": 85.0,
    "frontend_total": 2,
    "frontend_alive": 2,
    "backend_total": 3,
    "backend_alive": 2,
    "max_compaction_score": 612.0,
    "fe_jvm_heap_used_bytes": 7 * 2**30,
    "fe_jvm_heap_max_bytes": 8 * 2**30,
}


def _by_key(values):
    return {v.key: v for v in values}


def test_cards_status_display_and_delta():
    start = {**SNAP, "qps": 10.0, "backend_alive": 3}
    cards = _by_key(health.cards(SNAP, start))
    assert (cards["query_latency_p99"].display, cards["query_latency_p99"].status) == ("6,000 ms", "critical")
    assert (cards["disk_usage_pct"].display, cards["disk_usage_pct"].status) == ("85.0 %", "warning")
    assert (cards["be_dead"].display, cards["be_dead"].status, cards["be_dead"].delta) == ("2/3", "warning", -1)
    assert (cards["query_error_rate"].display, cards["query_error_rate"].status) == ("n/a", "unknown")
    assert cards["qps"].delta == pytest.approx(2.5) and cards["qps"].status == "ok"
    assert cards["fe_jvm_heap_pct"].value == pytest.approx(87.5) and cards["fe_jvm_heap_pct"].status == "warning"
    assert (cards["cluster_status"].display, cards["cluster_status"].status) == ("partial", "warning")


def test_shared_data_alive_card_counts_compute_nodes():
    """A shared-data cluster has no BEs: its compute nodes decide the card, its delta and sparkline."""
    snap = {**SNAP, "backend_total": 0, "backend_alive": 0, "compute_total": 3, "compute_alive": 1}
    cards = _by_key(health.cards(snap, {**snap, "compute_alive": 3}))
    be = cards["be_dead"]
    assert (be.display, be.value, be.total, be.status, be.delta) == ("1/3", 1, 3, "critical", -2)
    card = next(c for c in health.CARDS if c.key == "be_dead")
    assert card.spark_column(snap) == "compute_alive" and card.spark_column(SNAP) == "backend_alive"


def test_conditions_in_words():
    found = health.conditions(SNAP, [{"role": "BE", "host": "10.0.0.3", "since": 1.0}])
    texts = [c.text for c in found]
    assert "BE 10.0.0.3 down" in texts
    assert "max compaction score 612 > 500" in texts and "FE JVM heap 87.5 % > 80.0 %" in texts
    assert "p99 latency 6,000 ms > 5,000 ms" in texts
    assert next(c for c in found if c.rule == "node_down").since == 1.0


def test_overrides_from_starmon_toml(tmp_path):
    path = tmp_path / "starmon.toml"
    path.write_text("[thresholds.disk_usage_pct]\nwarning = 70\ncritical = 84\n")
    cards = load_config({"STARMON_CONFIG": str(path)}).cards
    assert _by_key(health.cards(SNAP, None, cards))["disk_usage_pct"].status == "critical"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[thresholds.nope]\nwarning = 1\n", "no such card"),
        ("[thresholds.qps]\nwarning = 1\n", "informational"),
        ("[thresholds.disk_usage_pct]\nwarning = 95\ncritical = 90\n", "warning must come before critical"),
        ("[thresholds.disk_usage_pct]\nwarn = 95\n", "unknown key 'warn'"),
        ("[thresholds.disk_usage_pct]\nwarning = 'high'\n", "must be a number"),
    ],
)
def test_bad_overrides_are_refused(tmp_path, text, message):
    path = tmp_path / "starmon.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config({"STARMON_CONFIG": str(path)})


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (None, "%", "n/a"),
        (0, "%", "0.0 %"),
        # Sizes are decimal, as Streamlit's tables and Plotly's axes print them (issue 13, item 8).
        (999, "bytes", "999 B"),
        (1536, "bytes", "1.5 KB"),
        (999_960, "bytes", "1.0 MB"),
        (5 * 10**12, "bytes", "5.0 TB"),
        (5 * 2**40, "bytes", "5.5 TB"),
        (-2_500_000_000, "bytes", "-2.5 GB"),
        (3 * 10**18, "bytes", "3000.0 PB"),
        (0.5, "ms", "0.5 ms"),
        (1234.0, "count", "1,234"),
        (3.25, "queries/s", "3.2/s"),
    ],
)
def test_format_value(value, unit, text):
    assert health.format_value(value, unit) == text
