"""starmon.toml and environment: defaults, and clear errors for bad input."""

from __future__ import annotations

import pytest

from starmon.config import ConfigError, load_config, validate_cluster


def _load(tmp_path, text: str, **env):
    path = tmp_path / "starmon.toml"
    path.write_text(text)
    return load_config({"STARMON_CONFIG": str(path), **env})


def test_defaults_and_settings(tmp_path):
    config = _load(tmp_path, 'interval_seconds = 10\n[[clusters]]\nname = "prod"\nfe_host = "10.0.0.1"\n')
    [c] = config.clusters
    assert (c.http_port, c.query_port, c.user, c.password, c.tls, c.enabled) == (8030, 9030, "root", "", False, True)
    assert config.interval_seconds == 10 and config.statistics_interval_seconds == 600
    assert config.db_url == "sqlite:///data/starmon.db"
    assert c.http_base == "http://10.0.0.1:8030"


def test_password_env_is_resolved_and_not_in_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_PW", "s3cret-pw")
    config = _load(tmp_path, '[[clusters]]\nname = "p"\nfe_host = "h"\npassword_env = "SR_PW"\ntls = true\n')
    [c] = config.clusters
    assert c.password == "s3cret-pw" and c.http_base == "https://h:8030"
    assert "s3cret-pw" not in repr(c) and "s3cret-pw" not in repr(config)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"fe_host": "h"}, "'name'"),
        ({"name": "", "fe_host": "h"}, "'name'"),
        ({"name": "a b", "fe_host": "h"}, "'name'"),
        ({"name": "a"}, "'fe_host' must be a non-empty"),
        ({"name": "a", "fe_host": "   "}, "'fe_host' must be a non-empty"),
        ({"name": "a", "fe_host": "bad host!"}, "not a valid host"),
        ({"name": "a", "fe_host": "h", "http_port": 0}, "'http_port' must be an integer from 1 to 65535"),
        ({"name": "a", "fe_host": "h", "query_port": 70000}, "'query_port' must be an integer from 1 to 65535"),
        ({"name": "a", "fe_host": "h", "http_port": "8030"}, "'http_port'"),
        ({"name": "a", "fe_host": "h", "http_port": True}, "'http_port'"),
        ({"name": "a", "fe_host": "h", "htp_port": 1}, "unknown key 'htp_port'"),
        ({"name": "a", "fe_host": "h", "password": "x", "password_env": "Y"}, "not both"),
        ({"name": "a", "fe_host": "h", "password_env": "STARMON_TEST_UNSET_VAR"}, "is not set"),
        ({"name": "a", "fe_host": "h", "tls": "yes"}, "'tls' must be true or false"),
        ({"name": "a", "fe_host": "h", "user": ""}, "'user' must not be empty"),
    ],
)
def test_bad_cluster_entries_are_named(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_cluster(entry)


def test_duplicate_names_rejected_case_insensitively(tmp_path):
    text = '[[clusters]]\nname = "Prod"\nfe_host = "a"\n[[clusters]]\nname = "prod"\nfe_host = "b"\n'
    with pytest.raises(ConfigError, match="declared twice"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[clusters]\nname=", "not valid TOML"),
        ("intervall_seconds = 5\n", "unknown setting 'intervall_seconds'"),
        ("interval_seconds = 0\n", "'interval_seconds' must be a positive number"),
        ("interval_seconds = 'x'\n", "'interval_seconds' must be a positive number"),
        ("clusters = 3\n", r"\[\[clusters\]\]"),
    ],
)
def test_bad_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config({}).clusters == ()  # the default path may be absent
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({"STARMON_CONFIG": str(tmp_path / "nope.toml")})
