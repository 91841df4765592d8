"""Alert rules edited on the Alerts page: defaults, then starmon.toml, then the page's edits.

The edits are checked with the file's checks (a bad value changes nothing stored), shown with
where each value comes from, and taken up by the collector's evaluation at its next round: an
emulated BE switched down over real sockets fires with the edited `for` and severity.
"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from starmon import alert_edits, health, schema
from starmon.alerts import parse_settings
from starmon.emulator import ClusterSpec
from starmon.store import Store

from .browser import browser, dashboard_env, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401
from .fixtures import add_cluster, app, exact_workload, unescape
from .test_alert_delivery import alert_rows, receiver, rounds, setup  # noqa: F401

ALERTS = "../../pages/alerts.py"
FILE = {"rules": {"node_down": {"for": "5m"}, "disk_usage_pct": {"clusters": {"dev-*": {"enabled": False}}}}}


def stored(store) -> list[tuple]:
    e = schema.alert_rule_edits
    return store.read(lambda conn: [tuple(r) for r in conn.execute(sa.select(e.c.rule, e.c.cluster_glob, e.c.changes))])


def test_page_edits_win_over_the_file_which_wins_over_the_defaults(env):
    store, settings = env["store"], parse_settings(FILE)
    alert_edits.save(store, settings, "node_down", "*", {"severity": "critical"}, "ann")
    alert_edits.save(store, settings, "node_down", "prod-*", {"for": 0}, "bob")
    alert_edits.save(store, settings, "disk_usage_pct", "*", {"repeat": "1h"}, "ann")
    edited = alert_edits.load(store, settings)
    node = edited.rule("node_down", "staging")
    assert (node.for_seconds, node.severity) == (300, "critical")  # for: the file's; severity: the page's
    assert edited.rule("node_down", "prod-eu").for_seconds == 0  # the page's glob, over the page's "*"
    assert edited.rule("disk_usage_pct", "prod").repeat_seconds == 3600
    told = alert_edits.explain(edited, "node_down")
    assert {k: v for k, v in told.sources.items() if v != "default"} == {
        "for": "starmon.toml",
        "severity": "edited by ann",
    }
    rows = {(r["rule"], r["clusters"]): r for r in alert_edits.rule_rows(edited, health.CARDS)}
    assert rows["node_down", "prod-*"]["for"] == "0s" and rows["node_down", "prod-*"]["edited_by"] == "bob"
    assert rows["disk_usage_pct", "dev-*"]["changed"] == "enabled: starmon.toml (dev-*); repeat: edited by ann"
    assert (
        rows["disk_usage_pct", "every cluster"]["warning"],
        rows["query_latency_p99", "every cluster"]["critical"],
    ) == (
        80,
        5000,
    )  # a card's levels are the card's
    assert alert_edits.reset(store, "node_down", "prod-*") and not alert_edits.reset(store, "node_down", "prod-*")
    assert alert_edits.load(store, settings).rule("node_down", "prod-eu").for_seconds == 300


@pytest.mark.parametrize(
    "rule, glob, raw, error",
    [
        ("node_down", "*", {"for": "soon"}, 'node_down.for must be seconds or a duration like "90s"'),
        ("node_down", "*", {"severity": "page"}, "node_down.severity must be one of warning, critical"),
        ("node_down", "*", {"repeat": 5}, "node_down.repeat must be at least 60 s"),
        ("node_down", "*", {"warning": 2}, "node_down: unknown key 'warning'"),  # a card's levels: [thresholds]
        ("disk_forecast", "prod-*", {"warning": 20}, "disk_forecast for prod-*: unknown key 'warning'"),
        ("disk_forecast", "*", {"warning": 2}, "warning must come before critical (low is bad)"),
        ("no_such", "*", {"for": 60}, "no such rule 'no_such'"),
        ("node_down", "*", {}, "nothing to change"),
    ],
)
def test_a_bad_edit_says_why_and_stores_nothing(env, rule, glob, raw, error):
    store, settings = env["store"], parse_settings(FILE)
    alert_edits.save(store, settings, "node_down", "*", {"severity": "critical"}, "ann")
    before = stored(store)
    with pytest.raises(ValueError) as caught:
        alert_edits.save(store, settings, rule, glob, raw, "ann")
    assert error in str(caught.value)
    assert stored(store) == before


def test_an_edit_the_file_no_longer_allows_is_left_out(env):
    store = env["store"]
    alert_edits.save(store, parse_settings({}), "disk_forecast", "*", {"warning": 10}, "ann")
    stricter = parse_settings({"rules": {"disk_forecast": {"warning": 30, "critical": 20}}})
    assert alert_edits.load(store, stricter).rule("disk_forecast", "prod").warning == 30  # 10 < 20: left out


def _open(**query):
    return app(**query).run().switch_page(ALERTS).run()


def _edit(at, rule: str, **fields):
    next(s for s in at.selectbox if s.label == "Rule to edit").set_value(rule).run()
    for label, value in fields.items():
        box = next((s for s in at.selectbox if s.label == label), None)
        if box is not None:
            box.set_value(value)
        else:
            next(t for t in at.text_input if t.label == label).input(value)
    next(b for b in at.button if b.label == "Save rule").click()
    return at.run()


def test_an_admin_edits_a_rule_on_the_page_and_a_reload_shows_it(env):
    add_cluster(env["store"])
    at = _edit(_open(), "node_down", **{"Holds for": "2m", "Severity": "critical"})
    assert not at.exception
    [said] = [unescape(s.value) for s in at.success if "Saved" in s.value]
    assert said.startswith("Saved node_down for every cluster: for 2m, severity critical.")
    [(rule, glob, changes)] = stored(env["store"])
    assert (rule, glob, json.loads(changes)) == ("node_down", "*", {"for": 120.0, "severity": "critical"})
    rules = _open().dataframe[-1].value  # a fresh session: what a reload shows
    row = rules[rules["Rule"] == "node_down"].iloc[0]
    assert (row["For"], row["Severity"], row["Set by"], row["Edited by"]) == (
        "2m",
        "critical",
        "for: edited by dashboard; severity: edited by dashboard",
        "dashboard",
    )


def test_a_bad_value_on_the_page_is_said_next_to_the_button_and_nothing_changes(env):
    add_cluster(env["store"])
    at = _edit(_open(), "node_down", **{"Holds for": "soon"})
    assert [unescape(e.value) for e in at.error] == [
        'node_down.for must be seconds or a duration like "90s", "5m", "4h", got \'soon\''
    ]
    assert stored(env["store"]) == [] and not [s for s in at.success if "Saved" in s.value]


def test_an_admin_resets_an_edit(env):
    add_cluster(env["store"])
    at = _edit(_open(), "stale_data", **{"Warning level": "5"})
    assert [json.loads(c) for _, _, c in stored(env["store"])] == [{"warning": 5.0}]
    next(b for b in at.button if b.label == "Reset stale_data for every cluster").click()
    at.run()
    assert stored(env["store"]) == []
    assert any("starmon.toml's values apply again" in unescape(s.value) for s in at.success)


def test_the_collector_takes_up_an_edit_at_its_next_round(setup):  # noqa: F811
    emu, collector, deliverer, clock = setup()
    rounds(collector, deliverer, clock)
    settings = collector.config.alerts
    alert_edits.save(collector.store, settings, "node_down", "*", {"for": 0, "severity": "critical"}, "ann")
    emu.set_faults("demo", {"be_down": [1]})
    rounds(collector, deliverer, clock)  # the first round that sees it down fires: for 0 s
    [row] = alert_rows(collector.store, "node_down")
    assert (row["state"], row["severity"], row["fired_at"]) == ("firing", "critical", clock.t)


def _choose(page, box, option: str) -> None:
    """Pick an option of a Streamlit selectbox by typing it, as a keyboard user would."""
    box.get_by_role("combobox").click()
    page.keyboard.type(option)
    page.keyboard.press("Enter")


@needs_chromium
def test_in_a_browser_an_admin_s_edit_is_saved_shown_and_fires(tmp_path, page, emulator):  # noqa: F811
    """A real dashboard collecting an emulated cluster every 2 s: node_down edited to fire at once as
    critical, the page says so, a reload shows it, and a BE switched down fires with it."""
    emu = emulator(ClusterSpec("prod", workload=exact_workload()))
    [d] = emu.describe()
    config = (
        f'interval_seconds = 2\n[[clusters]]\nname = "prod"\nfe_host = "{d["fe_host"]}"\n'
        f"http_port = {d['http_port']}\nquery_port = {d['query_port']}\n"
    )
    env = dashboard_env(tmp_path, demo=False, config=config)
    with dashboard_server(tmp_path, env) as url:
        visit(page, f"{url}/alerts?cluster=prod")
        _choose(page, page.get_by_test_id("stSelectbox").filter(has_text="Rule to edit"), "node_down")
        settle(page)
        form = page.get_by_test_id("stForm")
        form.get_by_role("textbox", name="Holds for").fill("0s")
        _choose(page, form.get_by_test_id("stSelectbox").filter(has_text="Severity"), "critical")
        form.get_by_role("button", name="Save rule").click()
        settle(page)
        said = "Saved node_down for every cluster: for 0s, severity critical."
        expect(page.get_by_test_id("stAlert").filter(has_text=said)).to_be_in_viewport()

        page.reload()
        settle(page)
        rules = page.get_by_test_id("stDataFrame").last
        rules.scroll_into_view_if_needed()
        row = rules.locator("tbody tr").filter(has_text="node_down")
        expect(row).to_contain_text("critical")
        expect(row).to_contain_text("0s")
        expect(row).to_contain_text("edited by dashboard")

        emu.set_faults("prod", {"be_down": [1]})
        store = Store(env["STARMON_DB_URL"])
        try:
            deadline = time.monotonic() + 30
            while not (fired := alert_rows(store, "node_down")) and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            store.close()
        [row] = fired
        assert (row["state"], row["severity"], row["subject"]) == (
            "firing",
            "critical",
            f"BE {emu.cluster('prod').backends[1].host}",
        )
        assert row["fired_at"] == row["started_at"]  # for 0 s: the first round that saw it down
