"""Streamlit's own endpoints, asked by a stranger who never signed in, on `streamlit run app.py`.

The server runs as users start it, with accounts (so sign-in is on) and a global
~/.streamlit/config.toml that turns on every endpoint a setting controls: the project's
.streamlit/config.toml must win, and /_stcore/metrics, which no setting controls, must be refused.
"""

from __future__ import annotations

import httpx
import pytest

from starmon import users
from starmon.store import Store

from .browser import dashboard_server

GLOBAL_CONFIG = """\
[server]
enableStaticServing = true
enableAgentApi = true
scriptHealthCheckEnabled = true
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("endpoints")
    (tmp / "home" / ".streamlit").mkdir(parents=True)
    (tmp / "home" / ".streamlit" / "config.toml").write_text(GLOBAL_CONFIG)
    (tmp / "starmon.toml").write_text("")
    db_url = f"sqlite:///{tmp / 'starmon.db'}"
    store = Store(db_url)
    users.add(store, "ann", "admin", "admin-pass-1")
    store.close()
    env = {
        "HOME": str(tmp / "home"),
        "STARMON_DB_URL": db_url,
        "STARMON_CONFIG": str(tmp / "starmon.toml"),
        "STARMON_DEMO": "0",
        "STARMON_EMBEDDED_COLLECTOR": "0",
    }
    with dashboard_server(tmp, env) as server:
        yield server


@pytest.mark.parametrize(
    "path", ["/_stcore/metrics", "/_stcore/metrics/", "/_stcore//metrics", "/_stcore/metrics?families=active_sessions"]
)
@pytest.mark.parametrize("accept", ["text/plain", "application/x-protobuf"])
def test_metrics_are_refused(url, path, accept):
    answer = httpx.get(url + path, headers={"Accept": accept}, follow_redirects=True)
    assert (answer.status_code, answer.text) == (404, "Not Found")
    assert httpx.options(url + path).status_code == 404


def test_endpoints_a_setting_controls_stay_off(url):
    agent = httpx.post(f"{url}/_stcore/agent/interact", json={}, timeout=30)
    assert agent.status_code != 200 and "not_available" in agent.text  # the API would run a session
    for path in ("/_stcore/script-health-check", "/app/static/config.toml"):
        answer = httpx.get(url + path)
        # no such route: the single-page app's HTML answers, as for any unknown path
        assert answer.headers["content-type"].startswith("text/html") and "<!doctype html>" in answer.text.lower()


def test_what_remains(url):
    """Health, for load balancers (and these tests); host-config, which the page reads first."""
    assert httpx.get(f"{url}/_stcore/health").text == "ok"
    assert "allowedOrigins" in httpx.get(f"{url}/_stcore/host-config").json()
