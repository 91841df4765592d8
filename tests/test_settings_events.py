"""Cluster settings changed in starmon are events (issue 16): who changed which fields, old and new
values, never a password; nothing for a save that changed nothing. Through the registry on each
engine, through starmon.toml at start, and through the Clusters page in Chromium."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest
from playwright.sync_api import expect

from starmon import clusters, timeline, users
from starmon.config import ClusterConfig
from starmon.read import Reader, TimeRange
from starmon.secrets import Secrets
from starmon.store import Store

from .browser import browser, dashboard_env, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401

SECRET = "s3cret-never-in-an-event"
NEW_SECRET = "an0ther-s3cret-never-shown"
ALL_TIME = TimeRange(0, 4e9, "custom")


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def secrets(tmp_path):
    return Secrets.from_environment(tmp_path / "secret.key", environ={})


def _settings(store: Store, name: str) -> list[dict]:
    """The settings_changed events of a cluster, oldest first."""
    cid = next(c["id"] for c in Reader(store).clusters() if c["name"] == name)
    return timeline.events_in(Reader(store), cid, ALL_TIME, kinds=["settings_changed"])


def test_each_stored_change_is_one_event_naming_who_and_what(store, secrets):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET}, "alice")
    clusters.update(
        store,
        secrets,
        "prod",
        {"fe_host": "10.0.0.2", "http_port": 8040, "tls": True, "tags": ["eu"], "password": NEW_SECRET},
        "bob",
    )
    clusters.update(store, secrets, "prod", {"fe_host": "10.0.0.2", "http_port": 8040, "tls": True, "tags": ["eu"]})
    clusters.set_enabled(store, "prod", False, "carol")
    added, edited, disabled = _settings(store, "prod")

    assert (added["subject"], added["severity"]) == ("prod", "info")
    assert added["details"]["action"] == "added" and added["details"]["by"] == "alice"
    assert "fe_host: '10.0.0.1'" in added["details"]["changed"] and "password set" in added["details"]["changed"]
    assert edited["details"] == {
        "action": "edited",
        "by": "bob",
        "changed": "fe_host: '10.0.0.1' → '10.0.0.2', http_port: 8030 → 8040, tls: no → yes, "
        "tags: none → eu, password changed",
    }
    assert disabled["details"] == {"action": "disabled", "by": "carol", "changed": "enabled: yes → no"}
    stored = repr(store.read(lambda conn: conn.exec_driver_sql("SELECT * FROM events").all()))
    assert SECRET not in stored and NEW_SECRET not in stored


def test_a_save_that_changes_nothing_stores_no_event(store, secrets):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1", "password": SECRET}, "alice")
    clusters.update(store, secrets, "prod", {"fe_host": "10.0.0.1"}, "alice")  # password left empty: kept
    clusters.update(store, secrets, "prod", {"fe_host": "10.0.0.1", "password": SECRET}, "alice")  # the same one
    clusters.set_enabled(store, "prod", True, "alice")  # already enabled
    assert [e["details"]["action"] for e in _settings(store, "prod")] == ["added"]


def test_an_open_dashboard_names_nobody(store, secrets):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1"})
    (added,) = _settings(store, "prod")
    assert added["details"]["by"] is None and "password" not in added["details"]["changed"]


def test_a_deleted_cluster_takes_its_events_and_the_log_says_who(store, secrets, caplog):
    clusters.add(store, secrets, {"name": "prod", "fe_host": "10.0.0.1"}, "alice")
    clusters.add(store, secrets, {"name": "qa", "fe_host": "10.0.0.3"}, "alice")
    clusters.delete(store, "prod", "bob")
    left = store.read(lambda conn: conn.exec_driver_sql("SELECT subject FROM events").scalars().all())
    assert left == ["qa"]
    assert "cluster 'prod' deleted with its history by bob" in caplog.text


def test_starmon_toml_edits_are_events_at_the_next_sync(store, secrets):
    """A file cluster new to the database is no change; its host edited in the file, the cluster
    dropped from it (disabled, history kept) and declared again are one event each, by starmon.toml."""
    clusters.collectable(store, secrets, (ClusterConfig("prod", "10.0.0.1"),))
    assert _settings(store, "prod") == []
    clusters.collectable(store, secrets, (ClusterConfig("prod", "10.0.0.1"),))  # every round: no change
    clusters.collectable(store, secrets, (ClusterConfig("prod", "10.0.0.5", tags=("eu",)),))
    clusters.collectable(store, secrets, ())
    clusters.collectable(store, secrets, (ClusterConfig("prod", "10.0.0.5", tags=("eu",)),))  # back in the file
    edited, disabled, enabled = _settings(store, "prod")
    assert edited["details"] == {
        "action": "edited",
        "by": "starmon.toml",
        "changed": "fe_host: '10.0.0.1' → '10.0.0.5', tags: none → eu",
    }
    assert disabled["details"] == {"action": "disabled", "by": "starmon.toml", "changed": "enabled: yes → no"}
    assert enabled["details"] == {"action": "enabled", "by": "starmon.toml", "changed": "enabled: no → yes"}


# -- the Clusters page in Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """A dashboard with admin bob, one dashboard cluster "prod" (with a stored password and one
    round, so its pages draw), nobody collecting."""
    tmp = tmp_path_factory.mktemp("settings-events")
    env = dashboard_env(tmp, demo=False, collector=False)
    store = Store(env["STARMON_DB_URL"])
    secrets = Secrets.from_environment(tmp / "secret.key", environ={})
    clusters.add(store, secrets, {"name": "prod", "fe_host": "127.0.0.1", "http_port": 1, "password": SECRET})
    store.write_round(store.cluster_ids()["prod"], {"ts": time.time(), "status": "ok", "collect_ms": 1}, [])
    users.add(store, "bob", "admin", "battery staple")
    store.close()
    with dashboard_server(tmp, env) as url:
        yield url, tmp / "starmon.db"


def _events(db) -> list[tuple]:
    """Every stored event row, read-only (never checkpointing the dashboard's WAL)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT kind, subject, severity, details FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


@needs_chromium
def test_an_edit_on_the_clusters_page_is_one_event_with_its_user_and_fields(dashboard, page):
    url, db = dashboard
    page.goto(f"{url}/clusters")
    page.wait_for_url(re.compile(r"/signin\?next="), timeout=60000)
    page.get_by_role("textbox", name="User name").fill("bob")
    page.get_by_role("textbox", name="Password").fill("battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/clusters"), timeout=30000)
    settle(page)
    before = _events(db)

    page.get_by_role("tab", name="Edit, disable or delete").click()
    form = page.get_by_test_id("stForm").nth(1)
    form.get_by_role("textbox", name="FE host").fill("127.0.0.2")
    form.get_by_role("spinbutton", name="HTTP port").fill("8040")
    form.get_by_text("HTTPS (certificates are verified)").click()
    form.get_by_role("textbox", name="Password").fill(NEW_SECRET)  # a new place: the password is asked again
    form.get_by_role("button", name="Save").click()
    settle(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Saved prod;")).to_be_visible()
    new = _events(db)[len(before) :]
    assert [(kind, subject, severity) for kind, subject, severity, _ in new] == [("settings_changed", "prod", "info")]
    details = json.loads(new[0][3])
    assert (details["by"], details["action"]) == ("bob", "edited")
    assert (
        details["changed"] == "fe_host: '127.0.0.1' → '127.0.0.2', http_port: 1 → 8040, tls: no → yes, password changed"
    )

    form.get_by_role("button", name="Save").click()  # nothing changed: saved, no event
    settle(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Saved prod;")).to_be_visible()
    assert len(_events(db)) == len(before) + 1

    visit(page, f"{url}/events?cluster=prod&range=1h")
    with page.expect_download() as got:  # the Events table as the page holds it
        page.get_by_role("button", name="Download CSV").click()
    shown = open(got.value.path(), encoding="utf-8").read()
    row = next(line for line in shown.splitlines() if "edited" in line)
    assert "settings_changed" in row and "by=bob" in row and "http_port: 1 → 8040" in row
    everything = repr(_events(db)) + shown + page.content()
    assert SECRET not in everything and NEW_SECRET not in everything
