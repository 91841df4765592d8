"""`python -m starmon alerts ...`: list as JSON, silence, and a test message to a real webhook."""

from __future__ import annotations

import json

from starmon import alert_edits
from starmon.__main__ import main
from starmon.alert_store import AlertEngine, silences
from starmon.alerts import parse_settings
from starmon.config import Config

from .test_alert_delivery import Receiver


def test_list_silence_and_test_a_channel(seeded_with_problems, capsys):
    env = seeded_with_problems
    settings = parse_settings({"rules": {"node_down": {"for": 0}, "disk_usage_pct": {"for": 0}}})
    config = Config(str(env["store"].url), alerts=settings)
    AlertEngine(env["store"], config, clock=lambda: env["newest_ts"]).after_round(env["cluster_id"], "prod")
    assert main(["alerts", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["cluster"], a["rule"], a["subject"], a["state"]) for a in listed][:1] == [
        ("prod", "disk_usage_pct", "", "firing")  # critical first
    ]
    assert ("node_down", "BE 10.0.0.3", "warning") in [(a["rule"], a["subject"], a["severity"]) for a in listed]
    assert (
        main(["alerts", "silence", "--cluster", "prod", "--rule", "node_down", "--for", "2h", "--reason", "swap"]) == 0
    )
    [silence] = silences(env["store"])
    assert (silence.cluster, silence.rule, silence.reason) == ("prod", "node_down", "swap")
    assert main(["alerts", "silence", "--cluster", "nope", "--for", "2h", "--reason", "x"]) == 2
    assert "no cluster 'nope'" in capsys.readouterr().err
    receiver = Receiver()
    try:
        env["config"].write_text(f'[[alerts.channels]]\nname = "hook"\nurl = "{receiver.url}"\n')
        assert main(["alerts", "test", "hook"]) == 0
        assert [m["title"] for m in receiver.messages] == ["[starmon] test message"]
        assert main(["alerts", "test", "other"]) == 2
        err = capsys.readouterr().err
        assert "no alert channel 'other' (known: hook)" in err and receiver.url not in err
    finally:
        receiver.close()


def test_rules_list_set_and_reset(env, capsys):
    store = env["store"]
    assert main(["alerts", "rules", "set", "node_down", "--for", "2m", "--severity", "critical", "--by", "ann"]) == 0
    assert main(["alerts", "rules", "set", "node_down", "--repeat", "1h", "--by", "ann"]) == 0  # kept: for, severity
    capsys.readouterr()
    assert main(["alerts", "rules", "--json"]) == 0
    rows = {(r["rule"], r["clusters"]): r for r in json.loads(capsys.readouterr().out)}
    node = rows["node_down", "every cluster"]
    assert (node["for"], node["repeat"], node["severity"], node["edited_by"]) == ("2m", "1h", "critical", "ann")
    assert node["changed"] == "for: edited by ann; repeat: edited by ann; severity: edited by ann"
    assert rows["stale_data", "every cluster"]["changed"] == "defaults"
    before = alert_edits.load(store, parse_settings({})).edits
    assert main(["alerts", "rules", "set", "node_down", "--for", "soon"]) == 2
    assert capsys.readouterr().err.strip() == (
        'starmon: --for must be seconds or a duration like "90s", "5m", "4h", got \'soon\''
    )
    assert main(["alerts", "rules", "set", "node_down", "--clusters", "dev-*", "--warning", "3"]) == 2
    assert "node_down for dev-*: unknown key 'warning'" in capsys.readouterr().err
    assert alert_edits.load(store, parse_settings({})).edits == before  # refused: nothing stored changed
    assert main(["alerts", "rules", "reset", "node_down"]) == 0
    assert main(["alerts", "rules", "reset", "node_down"]) == 2
    assert "no edit of node_down for *" in capsys.readouterr().err
    assert alert_edits.load(store, parse_settings({})).edits == ()
