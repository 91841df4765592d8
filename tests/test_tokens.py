"""API tokens: shown once, stored as a hash, listed, revoked; the failure limiter; the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from starmon import tokens
from starmon.store import Store

from .fixtures import ROOT


@pytest.fixture
def store(tmp_path):
    opened = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    yield opened
    opened.close()


def test_a_token_is_stored_only_as_its_hash(store):
    token = tokens.create(store, "ci", "admin", now=100.0)
    assert token.startswith(tokens.PREFIX) and len(token) > 40
    rows = store.read(lambda conn: conn.exec_driver_sql("SELECT * FROM api_tokens").all())
    assert token not in repr(rows) and tokens.digest(token) in repr(rows)
    assert tokens.verify(store, token, now=200.0) == tokens.Token("ci", "admin", 100.0, None)
    assert tokens.list_tokens(store) == [tokens.Token("ci", "admin", 100.0, 200.0)]
    assert tokens.verify(store, token + "x") is None and tokens.verify(store, "") is None


def test_last_used_is_written_at_most_once_a_minute(store):
    token = tokens.create(store, "ci", "viewer")
    tokens.verify(store, token, now=1000.0)
    tokens.verify(store, token, now=1030.0)
    assert tokens.list_tokens(store)[0].last_used_at == 1000.0
    tokens.verify(store, token, now=1060.0)
    assert tokens.list_tokens(store)[0].last_used_at == 1060.0


def test_revoke_and_refusals(store):
    token = tokens.create(store, "ci", "viewer")
    with pytest.raises(tokens.TokenError, match="already exists"):
        tokens.create(store, "ci", "admin")
    with pytest.raises(tokens.TokenError, match="role"):
        tokens.create(store, "other", "root")
    with pytest.raises(tokens.TokenError, match="name"):
        tokens.create(store, "no spaces", "viewer")
    tokens.revoke(store, "ci")
    assert tokens.verify(store, token) is None and tokens.list_tokens(store) == []
    with pytest.raises(tokens.TokenError, match="no token"):
        tokens.revoke(store, "ci")


def test_two_tokens_never_collide(store):
    assert tokens.create(store, "a", "viewer") != tokens.create(store, "b", "viewer")


def test_failure_limiter_counts_per_client_within_its_window():
    clock = [0.0]
    limiter = tokens.FailureLimiter(limit=3, window=60, clock=lambda: clock[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 61 and limiter.retry_after("10.0.0.2") == 0
    clock[0] = 59.5
    assert limiter.retry_after("10.0.0.1") == 1
    clock[0] = 60.0
    assert limiter.retry_after("10.0.0.1") == 0


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STARMON_DB_URL": db_url, "STARMON_CONFIG": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "starmon", "tokens", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_cli_prints_the_token_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'starmon.db'}"
    added = _cli(url, "add", "grafana", "--role", "viewer")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith(tokens.PREFIX) and "shown only now" in added.stderr
    listed = _cli(url, "list")
    assert listed.stdout.startswith("grafana\tviewer\tcreated ") and "last used never" in listed.stdout
    assert token not in listed.stdout + listed.stderr
    store = Store(url)
    try:
        assert tokens.verify(store, token).name == "grafana"
    finally:
        store.close()
    assert _cli(url, "add", "grafana").returncode == 2
    assert _cli(url, "revoke", "grafana").stdout == "revoked grafana\n"
    gone = _cli(url, "revoke", "grafana")
    assert (gone.returncode, gone.stderr) == (2, "starmon: no token named 'grafana'\n")
    assert "no tokens" in _cli(url, "list").stderr
