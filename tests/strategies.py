"""Hypothesis strategies and checks shared by the property-based tests (test_config, test_clusters,
test_links, test_cluster_text): cluster declarations as a file or the Clusters form may carry them."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as s
from hypothesis.configuration import set_hypothesis_home_dir

from starmon.config import ClusterConfig
from starmon.ui.text import WORD_JOINER

from .fixtures import HOSTILE_HTML

# Hypothesis keeps caches in a storage directory; keep it out of the working tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "starmon-hypothesis")
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PASSWORD_IN_INPUT = "Sup3r-S3cret-pw!"  # a password in generated input: never in a refusal's message
ENV_PW = "STARMON_TEST_BAD_INPUT_PW"  # set by the pw_env fixture
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")  # README: 1-63 letters, digits, . _ -
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-.:\[\]]{0,252}")


def shown_text(max_size: int):
    """Any text but the word joiner, which plain() adds to break autolinks and unescape() therefore
    drops: a joiner the cluster sent itself would not survive the round trip of the check. Nor lone
    surrogates, which no UTF-8 answer, link or page can carry."""
    return s.text(s.characters(exclude_characters=WORD_JOINER, exclude_categories=("Cs",)), max_size=max_size)


anything = s.one_of(
    s.none(),
    s.booleans(),
    s.integers(),
    s.floats(),
    s.text(max_size=20),
    s.binary(max_size=8),
    s.lists(s.integers(), max_size=3),
    s.dictionaries(s.text(max_size=5), s.integers(), max_size=2),
)
good_names = s.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}\Z")
names = s.one_of(
    good_names,
    s.text(max_size=70),
    s.sampled_from(
        ["prod", "PROD", "abc\n", "a" * 63, "a" * 64, "-a", ".a", "a b", "é", "x_y.z-1", "", " prod", "a: b"]
        + [HOSTILE_HTML]
    ),
)
good_hosts = s.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9\-.:\[\]]{0,40}\Z")
hosts = s.one_of(
    good_hosts,
    s.text(max_size=40),
    s.sampled_from(
        [
            "10.0.0.1",
            " 10.0.0.1 ",
            "10.0.0.1\n",
            "evil host/x",
            "   ",
            "::1",
            "[::1]",
            "a" * 254,
            "a" * 253,
            "h\x00",
            "fe.example.com",
            "http://fe:8030",
        ]
    ),
)
ports = s.one_of(s.integers(-5, 70000), s.integers(), s.sampled_from([0, 1, 65535, 65536, True, False, 8030.0, "8030"]))
texts = s.one_of(s.text(max_size=30), s.just(PASSWORD_IN_INPUT), s.just(""))
password_envs = s.one_of(s.sampled_from([ENV_PW, "STARMON_TEST_NOT_SET_ANYWHERE", ""]), s.text(max_size=10))
unknown = s.dictionaries(
    s.text(max_size=10).filter(
        lambda k: (
            k
            not in {"name", "fe_host", "http_port", "query_port", "user", "password", "password_env", "tls", "enabled"}
        )
    ),
    anything,
    max_size=1,
)


def cluster_dicts(value, port, flag):
    """Cluster declarations: mostly well-typed values, sometimes anything at all, sometimes extra keys."""
    fields = s.fixed_dictionaries(
        {},
        optional={
            "name": s.one_of(names, value),
            "fe_host": s.one_of(hosts, value),
            "http_port": s.one_of(port, value),
            "query_port": s.one_of(port, value),
            "user": s.one_of(texts, value),
            "password": s.one_of(texts, value),
            "password_env": s.one_of(password_envs, value),
            "tls": s.one_of(flag, value),
            "enabled": s.one_of(flag, value),
        },
    )
    return s.one_of(likely_clusters, fields, s.tuples(fields, unknown).map(lambda t: {**t[1], **t[0]}))


likely_clusters = s.fixed_dictionaries(
    {"name": good_names, "fe_host": good_hosts},
    optional={
        "http_port": s.integers(1, 65535),
        "query_port": s.integers(1, 65535),
        "user": texts,
        "password": texts,
        "tls": s.booleans(),
    },
)


# What a [[clusters]] entry or the Clusters form may hand over.
raw_clusters = cluster_dicts(anything, ports, s.booleans())


def check_cluster(c: ClusterConfig) -> None:
    """What an accepted cluster always looks like."""
    assert isinstance(c, ClusterConfig)
    assert isinstance(c.name, str) and NAME.fullmatch(c.name), c.name
    assert isinstance(c.fe_host, str) and c.fe_host and HOST.fullmatch(c.fe_host), c.fe_host
    for port in (c.http_port, c.query_port):
        assert type(port) is int and 1 <= port <= 65535, port
    assert isinstance(c.user, str) and c.user
    assert isinstance(c.password, str)
    assert type(c.tls) is bool and type(c.enabled) is bool
    if c.password_env:
        assert c.password == os.environ[c.password_env]
    assert "password=" not in repr(c)


def check_refusal(exc: Exception, raw: dict, prefix: str = "") -> None:
    """A refusal says something, starts with `prefix`, and never repeats the password it was given."""
    message = str(exc)
    assert message.strip() and message.startswith(prefix), message
    others = repr({k: v for k, v in raw.items() if k != "password"}) if isinstance(raw, dict) else ""
    if isinstance(raw, dict) and raw.get("password") == PASSWORD_IN_INPUT and PASSWORD_IN_INPUT not in others:
        assert PASSWORD_IN_INPUT not in message, message
