"""Stored cluster passwords on the dashboard and the collector: where they may go, and a changed key.

A stored password is only sent where it was saved for: an admin who points a cluster at
another host or port must type it again, even just to test the connection (a recording HTTP
server on loopback stands in for the attacker's FE). A STARMON_SECRET_KEY that changed makes
the stored passwords unreadable: every place a user looks says so, by cluster, with what to do.
"""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon.emulator import ClusterSpec
from starmon.scheduler import main as collector_main
from starmon.secrets import Secrets
from starmon.store import Store

from .fixtures import MAIN, PW, assert_absent, exact_workload, free_port, open_page, ui_dump, unescape

LOCKED = "stored password cannot be decrypted with the current key"


class RecordingFE:
    """An HTTP server on loopback that answers 401 to everything and records each request's Authorization."""

    def __init__(self, host: str = "127.0.0.1"):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.host, self.port = host, self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dashboard(env):
    """The dashboard's environment (conftest `env`) with a 2 s cluster timeout; its Store."""
    env["config"].write_text("interval_seconds = 30\ntimeout_seconds = 2\n")
    return env["store"]


def edit_form(at: AppTest, kind: str, label: str):
    """The widget of the edit form (not the add form) with this label."""
    [widget] = [w for w in getattr(at, kind) if w.label == label and w.proto.form_id.startswith("edit-")]
    return widget


def press(at: AppTest, label: str) -> AppTest:
    edit_form(at, "button", label).click()
    return at.run()


def shown(at: AppTest) -> list[str]:
    return [unescape(e.value) for e in (*at.error, *at.warning, *at.success, *at.info)]


def at_errors(at: AppTest) -> list[str]:
    return [unescape(e.value) for e in at.error]


# -- item 7: the stored password goes only where it was saved for ----------------------------------------------


@pytest.mark.parametrize("moved", ["http_port", "fe_host"])
def test_test_connection_never_sends_the_stored_password_to_a_new_address(dashboard, moved):
    if moved == "http_port":
        trap = RecordingFE("127.0.0.1")
        saved = {"fe_host": "127.0.0.1", "http_port": free_port()}
    else:  # the same port on another loopback address
        trap = RecordingFE("127.0.0.2")
        saved = {"fe_host": "127.0.0.1", "http_port": trap.port}
    try:
        registry.add(
            dashboard,
            Secrets.from_environment(dashboard.key_file()),
            {"name": "prod", **saved, "query_port": free_port(), "password": PW},
        )
        before = dashboard.enabled_clusters()
        at = open_page("clusters")
        assert not at.exception, at.exception
        if moved == "http_port":
            edit_form(at, "number_input", "HTTP port").set_value(trap.port)
        else:
            edit_form(at, "text_input", "FE host").input(trap.host)
        press(at, "Test connection")
        assert not at.exception, at.exception
        assert trap.requests == []  # nothing at all went to the new address
        assert any("type the password again" in m for m in shown(at)), shown(at)
        press(at, "Save")
        assert any("type the password again" in m for m in shown(at)), shown(at)
        assert dashboard.enabled_clusters() == before  # and nothing was saved

        # Typed again, the password goes where the admin sent it: the trap would have seen the stored one.
        edit_form(at, "text_input", "Password").input("typed-by-the-admin")
        press(at, "Test connection")
        assert not at.exception, at.exception
        basic = "Basic " + base64.b64encode(b"root:typed-by-the-admin").decode()
        assert basic in {auth for _, auth in trap.requests}, trap.requests
        assert_absent(repr(trap.requests), "what the new address received")
        assert_absent(ui_dump(at), "the Clusters page")
    finally:
        trap.close()


# -- item 11: a changed STARMON_SECRET_KEY ----------------------------------------------------------------------


def test_a_changed_key_is_explained_on_the_clusters_page_and_the_overview(dashboard, monkeypatch):
    store = dashboard
    registry.add(
        store,
        Secrets.from_environment(store.key_file()),
        {"name": "prod", "fe_host": "127.0.0.1", "http_port": free_port(), "password": PW},
    )
    cid = store.cluster_ids()["prod"]
    store.write_round(cid, {"ts": time.time() - 60, "status": "ok", "collect_ms": 5}, [])
    monkeypatch.setenv("STARMON_SECRET_KEY", Fernet.generate_key().decode())  # not the key it was saved with

    at = open_page("clusters")
    assert not at.exception, at.exception
    [banner] = [m for m in shown(at) if LOCKED in m]
    assert (
        banner.startswith("prod is not collected: its stored password cannot be decrypted")
        and "restore the STARMON_SECRET_KEY or key file it was saved with" in banner
    )
    assert list(at.dataframe[0].value["Password"]) == ["stored, but the current key cannot decrypt it"]
    press(at, "Test connection")  # it used to end in "This app has encountered an error"
    assert not at.exception, at.exception
    assert any(m.startswith("The stored password cannot be decrypted with the current key") for m in at_errors(at))

    overview = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not overview.exception, overview.exception
    [said] = [m for m in at_errors(overview) if LOCKED in m]
    assert said.startswith("prod is not being collected: its stored password")
    assert overview.header and "Overview" in overview.header[0].value  # the old numbers are still shown
    assert_absent(ui_dump(at) + ui_dump(overview), "the pages")

    monkeypatch.delenv("STARMON_SECRET_KEY")  # the right key again
    again = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not again.exception and not any(LOCKED in m for m in at_errors(again))


def test_once_names_each_cluster_it_cannot_decrypt(emulator, tmp_path, monkeypatch, capsys):
    d = emulator(ClusterSpec("reachable", workload=exact_workload())).describe()[0]
    db = tmp_path / "starmon.db"
    config = tmp_path / "starmon.toml"
    config.write_text("timeout_seconds = 3\n")
    for name in ("STARMON_SECRET_KEY", "STARMON_SECRET_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STARMON_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("STARMON_CONFIG", str(config))
    store = Store(f"sqlite:///{db}")
    old = Secrets.from_environment(store.key_file())
    for name in ("locked-a", "locked-b"):
        registry.add(store, old, {"name": name, "fe_host": "10.0.0.1", "password": PW})
    store.close()
    monkeypatch.setenv("STARMON_SECRET_KEY", Fernet.generate_key().decode())

    assert collector_main(["--once"]) == 2  # nothing could be collected
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{name}: not collected ({registry.UNDECRYPTABLE})" for name in ("locked-a", "locked-b")
    ]
    assert "no clusters to collect" not in out.err

    config.write_text(
        f'timeout_seconds = 3\n[[clusters]]\nname = "reachable"\nfe_host = "{d["fe_host"]}"\n'
        f"http_port = {d['http_port']}\nquery_port = {d['query_port']}\n"
    )
    assert collector_main(["--once"]) == 0  # the others are collected as usual
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"{name}: not collected ({registry.UNDECRYPTABLE})" for name in ("locked-a", "locked-b")]
    assert lines[2].startswith("reachable: ok in ")
