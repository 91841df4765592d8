"""starmon.toml and environment: defaults, and clear errors for bad input.

The fixed cases come first; then property-based ones (hypothesis, bounded): whatever a cluster
declaration or a whole file holds, starmon either accepts it or refuses it with a ConfigError
and a message, never another exception.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as s

from starmon.config import SETTINGS, Config, ConfigError, load_config, validate_cluster

from .strategies import FAST, anything, check_cluster, check_refusal, cluster_dicts, likely_clusters, raw_clusters


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


# -- any declaration, any file (property-based) --------------------------------------------------------------


@FAST
@given(raw=s.one_of(raw_clusters, anything))
@example(raw={"name": "abc\n", "fe_host": "10.0.0.1"})
@example(raw={"name": "prod", "fe_host": "10.0.0.1\n"})
def test_validate_cluster_accepts_valid_or_raises_config_error(pw_env, raw):
    try:
        cluster = validate_cluster(raw, where="starmon.toml: cluster #1")
    except ConfigError as exc:
        event("refused")
        check_refusal(exc, raw, "starmon.toml: cluster #1")
    else:
        event("accepted")
        check_cluster(cluster)
        assert cluster.name == raw["name"] and cluster.fe_host == raw["fe_host"].strip()


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    """A tiny TOML writer for generated documents (inline tables and arrays only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(doc: dict) -> str:
    return "".join(f"{_toml_string(k)} = {toml_value(v)}\n" for k, v in doc.items())


toml_scalar = s.one_of(s.text(max_size=15), s.integers(-(2**63), 2**63 - 1), s.floats(), s.booleans(), s.dates())
toml_any = s.recursive(
    toml_scalar,
    lambda inner: s.one_of(s.lists(inner, max_size=3), s.dictionaries(s.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
toml_ports = s.one_of(s.integers(-5, 70000), s.integers(-(2**63), 2**63 - 1), s.sampled_from([0, 1, 65535, 65536]))
toml_clusters = cluster_dicts(toml_any, toml_ports, s.booleans()).map(
    lambda d: {k: v for k, v in d.items() if not isinstance(v, (bytes, type(None)))}
)
setting_values = s.one_of(
    s.integers(-3, 10**6), s.floats(), s.sampled_from([0.5, 0.99, 1.5, 1e-9, "30", True]), toml_any
)
likely_documents = s.fixed_dictionaries(
    {"clusters": s.lists(likely_clusters, max_size=3, unique_by=lambda c: c["name"].lower())},
    optional={st_.name: s.one_of(s.integers(1, 10**6), s.floats(0.001, 1e6)) for st_ in SETTINGS},
)
wild_documents = s.fixed_dictionaries(
    {},
    optional={
        "clusters": s.one_of(s.lists(toml_clusters, max_size=3), toml_any),
        **{st_.name: setting_values for st_ in SETTINGS},
        "thresholds": s.one_of(
            s.dictionaries(
                s.sampled_from(["disk_usage_pct", "avg_cpu_usage", "qps", "nope"]),
                s.dictionaries(s.sampled_from(["warning", "critical", "x"]), setting_values, max_size=2),
                max_size=2,
            ),
            toml_any,
        ),
        "surprise": toml_any,
    },
)
documents = s.one_of(likely_documents, wild_documents)


def check_config(config: Config) -> None:
    for cluster in config.clusters:
        check_cluster(cluster)
    assert len({c.name.lower() for c in config.clusters}) == len(config.clusters)
    for setting in SETTINGS:
        value = getattr(config, setting.name)
        assert type(value) is type(setting.default) and math.isfinite(value) and value > 0, (setting.name, value)


@FAST
@given(doc=documents)
@example(doc={"interval_seconds": math.nan})
@example(doc={"timeout_seconds": math.inf})
@example(doc={"interval_seconds": 0.5})
@example(doc={"clusters": [{"name": "abc\n", "fe_host": "h"}]})
def test_load_config_from_generated_toml(pw_env, tmp_path, doc):
    path = tmp_path / "starmon.toml"
    text = toml_document(doc)
    assert tomllib.loads(text).keys() == doc.keys()  # the writer above is sound
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config({"STARMON_CONFIG": str(path), "STARMON_DB_URL": "sqlite:///unused.db"})
    except ConfigError as exc:
        event("refused")
        assert str(exc).startswith(str(path)), str(exc)
    else:
        event(f"accepted with {len(config.clusters)} clusters")
        check_config(config)


fragments = s.sampled_from(
    [
        "[[clusters]]\n",
        'name = "a"\n',
        'name = "a"\n',
        'fe_host = "h"\n',
        "http_port = ",
        "interval_seconds = ",
        "timeout_seconds = ",
        "nan",
        "inf",
        "-1",
        "0",
        "0.5",
        "1e400",
        "65536",
        '"x"',
        "true",
        "\n",
        "[thresholds.disk_usage_pct]\n",
        "warning = ",
        "=",
        "[",
        '"""',
        "\x00",
        "\ufeff",
    ]
)


@FAST
@given(text=s.one_of(s.lists(s.one_of(fragments, s.text(max_size=6)), max_size=14).map("".join), s.binary(max_size=30)))
def test_load_config_from_arbitrary_files(pw_env, tmp_path, text):
    path = tmp_path / "starmon.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        config = load_config({"STARMON_CONFIG": str(path)})
    except ConfigError as exc:
        assert str(exc).strip()
    else:
        check_config(config)
