"""Alert rules, settings and lifecycle (pure): starmon.alerts, and the message composition."""

from __future__ import annotations

import pytest

from starmon import alerts, health
from starmon.alert_delivery import backoff, compose
from starmon.alert_lifecycle import OpenAlert, step
from starmon.alerts import RULES, parse_settings
from starmon.config import ConfigError, load_config
from starmon.health import Condition

T0 = 1_900_000_000.0
SNAP = {"status": "partial", "error": "BE 10.0.0.3 /metrics: refused", "disk_usage_pct": 93.0, "query_error_rate": 2.0}
DEAD = [{"role": "BE", "host": "10.0.0.3", "since": T0 - 600}]


def rule_of(settings=None, cluster="prod"):
    settings = settings or alerts.AlertSettings()
    return lambda name: settings.rule(name, cluster)


def test_every_condition_of_a_round_has_its_rule():
    """What a round shows wrong is what alert rules fire on (the Overview lists these: test_wrong_now)."""
    found = health.conditions(SNAP, DEAD)
    assert [(c.rule, c.subject, c.severity) for c in found] == [
        ("node_down", "BE 10.0.0.3", "warning"),
        ("query_error_rate", "", "warning"),
        ("disk_usage_pct", "", "critical"),
    ]
    assert {c.rule for c in found} <= {r.name for r in RULES}
    disk = next(c for c in found if c.rule == "disk_usage_pct")
    assert (disk.value, disk.threshold, disk.text) == (93.0, 90, "disk used 93.0 % > 90.0 %")


def test_every_card_with_thresholds_has_a_rule():
    rules = {r.name for r in RULES}
    assert {c.key for c in health.CARDS if c.bad and not c.counts and c.key != "cluster_status"} <= rules
    assert {"cluster_down", "node_down", "disk_forecast", "stale_data", "slow_collection"} <= rules
    assert {"mv_refresh_failed", "mv_inactive"} <= rules


def cond(rule="disk_usage_pct", severity="warning", value=85.0, subject=""):
    return Condition(rule, subject, severity, f"{rule} {value}", value, 80.0, "%")


def opened(state="pending", started=T0, severity="warning", sent=None, peak=85.0, rule="disk_usage_pct"):
    return OpenAlert(1, rule, "", state, severity, started, sent, peak)


def test_a_condition_is_pending_until_it_held_for_its_duration():
    [new] = step([], [cond()], set(), rule_of(), T0)
    assert new.kind == "new" and not new.notify
    [held] = step([opened()], [cond()], set(), rule_of(), T0 + 59)
    assert held.kind == "update"
    [fired] = step([opened()], [cond(value=88.0)], set(), rule_of(), T0 + 60)
    assert fired.kind == "fire" and fired.notify and fired.peak == 88.0
    [gone] = step([opened()], [], set(), rule_of(), T0 + 30)
    assert gone.kind == "drop" and not gone.notify


def test_firing_alerts_escalate_repeat_and_resolve_once():
    firing = opened("firing", sent=T0)
    [up] = step([firing], [cond(severity="critical", value=95.0)], set(), rule_of(), T0 + 30)
    assert (up.kind, up.severity, up.peak) == ("escalate", "critical", 95.0)
    critical = opened("firing", severity="critical", sent=T0)
    [down] = step([critical], [cond(value=85.0)], set(), rule_of(), T0 + 30)
    assert (down.kind, down.severity) == ("update", "critical")  # the highest reached stays
    [again] = step([firing], [cond()], set(), rule_of(), T0 + 4 * 3600)
    assert again.kind == "repeat"
    [resolved] = step([firing], [], set(), rule_of(), T0 + 30)
    assert resolved.kind == "resolve" and resolved.notify


def test_a_rule_the_round_cannot_tell_about_keeps_its_alert():
    firing = opened("firing", sent=T0)
    assert step([firing], [], {"disk_usage_pct"}, rule_of(), T0 + 30) == []
    assert step([firing], [], set(), rule_of(), T0 + 30, only={"stale_data"}) == []


def test_a_disabled_rule_fires_nothing_and_resolves_what_it_had():
    settings = parse_settings({"rules": {"disk_usage_pct": {"clusters": {"prod-*": {"enabled": False}}}}})
    assert step([], [cond()], set(), rule_of(settings, "prod-eu"), T0) == []
    [resolved] = step([opened("firing", sent=T0)], [cond()], set(), rule_of(settings, "prod-eu"), T0)
    assert resolved.kind == "resolve"
    [new] = step([], [cond()], set(), rule_of(settings, "staging"), T0)
    assert new.kind == "new"


def test_rule_overrides_and_their_durations():
    settings = parse_settings(
        {
            "rules": {
                "node_down": {"for": "5m", "repeat": "1h", "severity": "critical"},
                "disk_forecast": {"warning": 30, "critical": 7, "clusters": {"dev": {"enabled": False}}},
            }
        }
    )
    node = settings.rule("node_down", "prod")
    assert (node.for_seconds, node.repeat_seconds, node.severity) == (300, 3600, "critical")
    assert (settings.rule("disk_forecast", "prod").warning, settings.rule("disk_forecast", "dev").enabled) == (
        30,
        False,
    )
    assert alerts.duration(90, "x") == 90 and alerts.duration("1d", "x") == 86400


@pytest.mark.parametrize(
    "raw, error",
    [
        ({"rules": {"disk_ful": {}}}, "alerts.rules.disk_ful: no such rule"),
        ({"rules": {"node_down": {"for": "soon"}}}, "alerts.rules.node_down.for must be seconds"),
        ({"rules": {"node_down": {"severity": "page"}}}, "severity must be one of warning, critical"),
        ({"rules": {"node_down": {"warning": 3}}}, "unknown key 'warning'"),
        ({"rules": {"disk_forecast": {"warning": 2}}}, "warning must come before critical (low is bad)"),
        ({"rules": {"node_down": {"repeat": 5}}}, "repeat must be at least 60 s"),
        ({"channels": [{"name": "ops"}]}, "give 'url' or 'url_env'"),
        ({"channels": [{"name": "ops", "url_env": "STARMON_NOT_SET_HERE"}]}, "'STARMON_NOT_SET_HERE'"),
        ({"channels": [{"name": "ops", "url": "json://x", "min_severity": "info"}]}, "'min_severity' must be"),
        ({"public_url": "starmon.example.com"}, "alerts.public_url must be an http(s) address"),
    ],
)
def test_bad_alert_settings_say_what_to_fix(raw, error):
    with pytest.raises(ValueError) as caught:
        parse_settings(raw, environ={})
    assert error in str(caught.value)


def test_a_channel_url_is_never_echoed_in_errors_or_repr():
    secret = "slack://T000/B000/supersecrettoken"
    with pytest.raises(ValueError) as caught:
        parse_settings({"channels": [{"name": "ops", "url": secret, "min_severity": "loud"}]})
    assert "supersecret" not in str(caught.value)
    channel = parse_settings({"channels": [{"name": "ops", "url": secret}]}).channels[0]
    assert "supersecret" not in repr(channel)
    assert channel.wants("prod", "warning") and not channel.wants("prod", "info")


def test_channel_filters_by_severity_and_cluster_glob(monkeypatch):
    monkeypatch.setenv("STARMON_TEST_HOOK", "json://127.0.0.1:9/hook")
    [channel] = parse_settings(
        {
            "channels": [
                {"name": "pager", "url_env": "STARMON_TEST_HOOK", "min_severity": "critical", "clusters": ["prod-*"]}
            ]
        }
    ).channels
    assert channel.url == "json://127.0.0.1:9/hook"
    assert channel.wants("prod-eu", "critical") and not channel.wants("prod-eu", "warning")
    assert not channel.wants("staging", "critical")


def test_starmon_toml_alerts_table_is_read_and_checked(tmp_path):
    path = tmp_path / "starmon.toml"
    path.write_text(
        '[alerts]\npublic_url = "https://starmon.example.com/"\n'
        '[alerts.rules.node_down]\nfor = "2m"\n'
        '[[alerts.channels]]\nname = "ops"\nurl = "json://127.0.0.1:9000/hook"\n'
    )
    config = load_config({"STARMON_CONFIG": str(path)})
    assert config.alerts.public_url == "https://starmon.example.com"
    assert config.alerts.rule("node_down", "any").for_seconds == 120
    path.write_text('[alerts.rules.nope]\nfor = "2m"\n')
    with pytest.raises(ConfigError, match=r"starmon.toml: alerts.rules.nope: no such rule"):
        load_config({"STARMON_CONFIG": str(path)})


def test_forecast_stale_slow_and_mv_conditions():
    forecast = alerts.forecast_condition
    rule = rule_of()
    assert forecast({"status": "ok", "days_to_95": 20.0}, rule("disk_forecast")) is None
    warn = forecast({"status": "ok", "days_to_95": 10.0, "first_node": "BE 10.0.0.3"}, rule("disk_forecast"))
    assert (warn.severity, warn.value, warn.threshold) == ("warning", 10.0, 14)
    assert warn.text == "disk 95 % full in 10.0 days (BE 10.0.0.3 first) < 14 days"
    assert forecast({"status": "ok", "days_to_95": 2.5}, rule("disk_forecast")).severity == "critical"
    assert forecast({"status": "insufficient", "days_to_95": None}, rule("disk_forecast")) is None
    assert alerts.stale_condition(T0 - 90, T0, 30, rule("stale_data")) is None
    stale = alerts.stale_condition(T0 - 91, T0, 30, rule("stale_data"))
    assert (stale.value, stale.threshold, stale.severity) == (91, 90, "critical")
    assert alerts.stale_condition(None, T0, 30, rule("stale_data")) is None
    assert alerts.slow_condition({"collect_ms": 15000}, 30, rule("slow_collection")) is None
    assert (
        alerts.slow_condition({"collect_ms": 15001}, 30, rule("slow_collection")).text
        == "round took 15,001 ms > 15,000 ms"
    )
    mvs = {
        "materialized_views": [
            {"db": "sales", "name": "daily", "active": True, "state": "FAILED", "error": "timeout"},
            {"db": "sales", "name": "weekly", "active": False, "inactive_reason": "base table dropped", "state": None},
            {"db": "sales", "name": "fine", "active": True, "state": "SUCCESS"},
        ]
    }
    assert [(c.rule, c.subject, c.text) for c in alerts.mv_conditions(mvs)] == [
        ("mv_refresh_failed", "sales.daily", "MV sales.daily refresh failed: timeout"),
        ("mv_inactive", "sales.weekly", "MV sales.weekly inactive: base table dropped"),
    ]


def test_a_down_round_leaves_node_and_card_alerts_as_they_are():
    inputs = alerts.RoundInputs({"status": "down", "error": "refused", "collect_ms": 10}, [], None, None)
    found, unknown = alerts.round_conditions(inputs, health.CARDS, 30, rule_of())
    assert [c.rule for c in found] == ["cluster_down"]
    assert {"node_down", "disk_usage_pct", "mv_inactive", "stale_data"} <= unknown and "cluster_down" not in unknown


def test_one_message_groups_a_rounds_alerts_with_value_threshold_since_and_link():
    base = {"subject": "", "unit": "%", "started_at": T0 - 600, "now": T0}
    items = [
        {
            **base,
            "id": 1,
            "kind": "fire",
            "rule": "disk_usage_pct",
            "severity": "critical",
            "message": "disk used 93.0 % > 90.0 %",
            "value": 93.0,
            "threshold": 90.0,
        },
        {
            **base,
            "id": 2,
            "kind": "resolve",
            "rule": "avg_cpu_usage",
            "severity": "warning",
            "message": "avg CPU 75.0 % > 70.0 %",
            "value": 75.0,
            "threshold": 70.0,
        },
    ]
    title, body, kind = compose("prod", items, "https://starmon.example.com", T0)
    assert title == "[starmon] prod: 1 firing, 1 resolved" and kind == "failure"
    lines = body.splitlines()
    assert lines[0] == "Cluster prod"
    assert lines[1].startswith("[FIRING] critical disk_usage_pct: disk used 93.0 % > 90.0 %, since ")
    assert lines[2].startswith("[RESOLVED] warning avg_cpu_usage")
    assert lines[-1] == "https://starmon.example.com/?cluster=prod&range=1h"
    assert [backoff(n) for n in (1, 2, 3, 10)] == [10, 20, 40, 900]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_is_documented_with_its_defaults(rule):
    from .fixtures import ROOT

    rows = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith(f"| `{rule.name}` |")]
    assert any(f"| {rule.severity or 'by level'} | {rule.for_seconds:g} s |" in row for row in rows)
