"""Hostile and malformed input: cluster declarations, the Clusters form, links, text from a cluster, SQL.

Property-based (hypothesis, bounded) where the input space is large: whatever arrives, starmon
either accepts it as a valid cluster or refuses it with its own error and a message, never
another exception, and a refused change writes nothing.
"""

from __future__ import annotations

import ast
import asyncio
import html
import json
import math
import os
import re
import tempfile
import textwrap
import time
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as s
from hypothesis.configuration import set_hypothesis_home_dir
from streamlit.testing.v1 import AppTest

from starmon import clusters as registry
from starmon import schema
from starmon.collect import fetch_statistics
from starmon.config import SETTINGS, ClusterConfig, Config, ConfigError, load_config, validate_cluster
from starmon.emulator import ClusterSpec, catalog, sqlviews
from starmon.fetch import ClusterClient
from starmon.read import RANGES
from starmon.secrets import Secrets
from starmon.store import Store
from starmon.ui.text import WORD_JOINER, plain

from .conftest import cluster_configs, exact_workload, unescape

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "starmon" / "ui" / "main.py")
PAGES = ("overview", "performance", "resources", "data", "clusters")
PAGE = {name: f"../../pages/{name}.py" for name in PAGES}

SECRET = "Sup3r-S3cret-pw!"
ENV_PW = "STARMON_TEST_BAD_INPUT_PW"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")  # README: 1-63 letters, digits, . _ -
HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-.:\[\]]{0,252}")

HTML = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
BOLD = "**bold**"
COLOR = ":red[x]"
MATH = "$x$"
URL = "https://evil.example/login"  # GFM would link these even when escaped
HOSTILE = (HTML, LINK, BOLD, COLOR, MATH, URL)

# Hypothesis keeps caches in a storage directory; keep it out of the working tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "starmon-hypothesis")
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAGES_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- strategies ----------------------------------------------------------------------------------------------


def shown_text(max_size: int):
    """Any text but the word joiner, which plain() adds to break autolinks and unescape() therefore
    drops: a joiner the cluster sent itself would not survive the round trip of the check."""
    return s.text(s.characters(exclude_characters=WORD_JOINER), max_size=max_size)


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
        ["prod", "PROD", "abc\n", "a" * 63, "a" * 64, "-a", ".a", "a b", "é", "x_y.z-1", "", " prod", "a: b", HTML]
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
texts = s.one_of(s.text(max_size=30), s.just(SECRET), s.just(""))
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


def _cluster_dicts(value, port, flag):
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


raw_clusters = _cluster_dicts(anything, ports, s.booleans())


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
    message = str(exc)
    assert message.strip() and message.startswith(prefix), message
    others = repr({k: v for k, v in raw.items() if k != "password"}) if isinstance(raw, dict) else ""
    if isinstance(raw, dict) and raw.get("password") == SECRET and SECRET not in others:
        assert SECRET not in message, message


@pytest.fixture
def pw_env(monkeypatch):
    monkeypatch.setenv(ENV_PW, "from-the-environment")
    monkeypatch.delenv("STARMON_TEST_NOT_SET_ANYWHERE", raising=False)


# -- 1. validate_cluster and load_config ----------------------------------------------------------------------


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
toml_clusters = _cluster_dicts(toml_any, toml_ports, s.booleans()).map(
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


# -- 2. the Clusters form handler (starmon.clusters.add / update) -------------------------------------------------


def cluster_rows(store: Store) -> list[dict]:
    with store.reader.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(schema.clusters).order_by(schema.clusters.c.id))]


@pytest.fixture
def registry_store(tmp_path, pw_env):
    store = Store(f"sqlite:///{tmp_path / 'registry.db'}")
    store.sync_clusters((ClusterConfig("from-file", "10.0.0.9"),))
    secrets = Secrets.from_environment(tmp_path / "secret.key", environ={})
    registry.add(store, secrets, {"name": "editable", "fe_host": "10.0.0.1", "password": "old-password"})
    registry.add(store, secrets, {"name": "other", "fe_host": "10.0.0.2"})
    baseline = cluster_rows(store)
    yield store, secrets, baseline
    store.close()


def assert_encrypted(stored: str, password: str, secrets: Secrets) -> None:
    """A Fernet token that decrypts to the password. A short password can turn up inside the token's
    base64 by chance ("0" often does), so its absence is only checked where chance cannot explain it."""
    assert stored.startswith("gAAAAA") and secrets.decrypt(stored) == password
    if len(password) >= 6:
        assert password not in stored


def reset(store: Store, baseline: list[dict]) -> None:
    """Put the clusters table back as the fixture made it, so every example starts the same."""
    with store.writer.begin() as conn:
        conn.execute(schema.clusters.delete())
        conn.execute(schema.clusters.insert(), baseline)


form_fields = _cluster_dicts(anything, ports, s.booleans())


@FAST
@given(fields=form_fields)
@example(fields={"name": "Editable", "fe_host": "10.0.0.5"})
@example(fields={"name": "abc\n", "fe_host": "10.0.0.5"})
@example(fields={"name": "new", "fe_host": "10.0.0.5", "password": SECRET, "password_env": ENV_PW})
def test_add_accepts_valid_or_refuses_and_writes_nothing(registry_store, fields):
    store, secrets, baseline = registry_store
    reset(store, baseline)
    try:
        cluster = registry.add(store, secrets, fields)
    except registry.ClusterError as exc:
        event("refused")
        check_refusal(exc, fields)
        assert cluster_rows(store) == baseline
        return
    event("accepted")
    check_cluster(cluster)
    after = cluster_rows(store)
    [row] = [r for r in after if r["id"] not in {b["id"] for b in baseline}]
    assert [r for r in after if r is not row] == baseline
    assert (
        row["name"],
        row["source"],
        row["fe_host"],
        row["http_port"],
        row["query_port"],
        row["user"],
        bool(row["tls"]),
        bool(row["enabled"]),
        row["password_env"],
    ) == (
        cluster.name,
        "ui",
        cluster.fe_host,
        cluster.http_port,
        cluster.query_port,
        cluster.user,
        cluster.tls,
        cluster.enabled,
        cluster.password_env,
    )
    password = fields.get("password")
    if password and not cluster.password_env:
        assert_encrypted(row["password_encrypted"], password, secrets)
    else:
        assert row["password_encrypted"] is None
    assert [r["name"].lower() for r in after].count(cluster.name.lower()) == 1


@FAST
@given(
    target=s.one_of(s.just("editable"), s.sampled_from(["EDITABLE", "from-file", "missing"]), s.text(max_size=10)),
    fields=form_fields,
)
@example(target="editable", fields={"name": 5, "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": None, "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": "OTHER", "fe_host": "10.0.0.5"})
@example(target="editable", fields={"name": "renamed", "fe_host": "10.0.0.5", "password": ""})
def test_update_accepts_valid_or_refuses_and_writes_nothing(registry_store, target, fields):
    store, secrets, baseline = registry_store
    reset(store, baseline)
    try:
        cluster = registry.update(store, secrets, target, fields)
    except registry.ClusterError as exc:
        event("refused")
        check_refusal(exc, fields)
        assert cluster_rows(store) == baseline
        return
    event("accepted")
    check_cluster(cluster)
    assert target.lower() == "editable"
    old = next(b for b in baseline if b["name"] == "editable")
    after = cluster_rows(store)
    row = next(r for r in after if r["id"] == old["id"])
    assert [r for r in after if r is not row] == [b for b in baseline if b is not old]
    assert (
        row["name"],
        row["source"],
        row["fe_host"],
        row["http_port"],
        row["query_port"],
        row["user"],
        row["password_env"],
    ) == (
        cluster.name,
        "ui",
        cluster.fe_host,
        cluster.http_port,
        cluster.query_port,
        cluster.user,
        cluster.password_env,
    )
    password = fields.get("password")
    if password:
        assert_encrypted(row["password_encrypted"], password, secrets)
    elif cluster.password_env:
        assert row["password_encrypted"] is None
    else:
        assert row["password_encrypted"] == old["password_encrypted"]  # empty keeps the stored one
    assert [r["name"].lower() for r in after].count(cluster.name.lower()) == 1


# -- 3. links: ?cluster= ?range= ?start= ?end= ------------------------------------------------------------------


def add_cluster(env: dict, name: str, host: str = "10.0.0.1") -> int:
    env["clusters"].append(ClusterConfig(name, host))
    env["store"].sync_clusters(tuple(env["clusters"]))
    return env["store"].cluster_ids()[name]


def seed(
    store: Store,
    cluster_id: int,
    *,
    fe: str = "10.0.0.1",
    bes: tuple[str, ...] = ("10.0.0.2", "10.0.0.3"),
    dead: str | None = None,
    node_error: str | None = None,
    newest: dict | None = None,
    hours: float = 7,
    step: int = 600,
) -> None:
    """Rounds every `step` s over `hours`; BE `dead` is down for the last three; BE disks fill at different rates
    (the first BE fastest, so the forecast names it)."""
    now = time.time()
    times = [now - 5 - i * step for i in range(int(hours * 3600 / step))][::-1]
    rounds = []
    for i, ts in enumerate(times):
        down = dead is not None and i >= len(times) - 3
        snapshot = {
            "ts": ts,
            "status": "partial" if down else "ok",
            "error": None,
            "collect_ms": 10,
            "qps": 50.0,
            "rps": 60.0,
            "query_latency_p99": 150.0,
            "frontend_total": 1,
            "frontend_alive": 1,
            "backend_total": len(bes),
            "backend_alive": len(bes) - down,
            "disk_usage_pct": 50.0,
            "disk_total_bytes": len(bes) * 10**12,
            "disk_used_bytes": len(bes) * 5 * 10**11 + i * 10**9,
        }
        nodes = [
            {
                "role": "FE",
                "host": fe,
                "alive": True,
                "is_leader": True,
                "version": "3.3.5",
                "qps": 50.0,
                "query_latency_p99": 150.0,
                "jvm_heap_used_bytes": 2**30,
                "jvm_heap_max_bytes": 8 * 2**30,
            }
        ]
        for n, host in enumerate(bes):
            alive = not (down and host == dead)
            nodes.append(
                {
                    "role": "BE",
                    "host": host,
                    "alive": alive,
                    "version": "3.3.5",
                    "cpu_pct": 20.0 if alive else None,
                    "mem_pct": 30.0 if alive else None,
                    "disk_total_bytes": 10**12,
                    "disk_used_bytes": 5 * 10**11 + i * 10**9 // (n + 1),
                    "error": None if alive else node_error,
                }
            )
        rounds.append((snapshot, nodes))
    if newest:
        rounds[-1][0].update(newest)
    store.write_rounds(cluster_id, rounds)


@pytest.fixture
def seeded(env):
    cid = add_cluster(env, "prod")
    seed(env["store"], cid, hours=1, step=60)
    return env


def _first_round(store: Store) -> float:
    with store.reader.connect() as conn:
        return conn.execute(sa.select(sa.func.min(schema.metrics_snapshots.c.ts))).scalar()


def run(page: str, **query) -> AppTest:
    """Open `page` straight from a link with these query parameters."""
    at = AppTest.from_file(MAIN, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    if page != "overview":
        at.switch_page(PAGE[page])
    return at.run()


def warnings(at: AppTest) -> list[str]:
    return [unescape(w.value) for w in at.warning]  # sidebar ones included


def shown(text: str) -> str:
    """A message as Streamlit keeps it (st.warning dedents and strips its body)."""
    return textwrap.dedent(text).strip()


def shows_range(at: AppTest, page: str, words: str) -> bool:
    """The page's first caption says which range it shows: "Last 24h" / "the last 24h", or custom dates."""
    if page == "performance":
        caption = at.caption[0].value
        return caption.startswith(f"{words.removeprefix('the ').capitalize() if 'last' in words else words},")
    if not at.metric:  # the Overview of a range that ends before the first round
        return [i.value for i in at.info] == [f"No round was collected by the end of {words}."]
    return at.caption[0].value.endswith(f"deltas over {words}.")


def healthy(at: AppTest, page: str, collected: bool = True) -> None:
    """The page drew; the Overview's cards, or (`collected` False: the range ends before the first round)
    a plain note that there is nothing to show as of the range's end."""
    assert not at.exception, at.exception
    assert unescape(at.header[0].value) == f"{page.capitalize()} · prod"
    if page == "overview":
        assert len(at.metric) == (15 if collected else 0)
        assert any(i.value.startswith("No round was collected by the end of") for i in at.info) != collected
    else:
        assert at.get("plotly_chart")


link_pages = s.sampled_from(["overview", "performance"])
hostile_values = s.sampled_from(
    [
        HTML,
        LINK,
        BOLD,
        COLOR,
        MATH,
        "x" * 500,
        "prod ",
        " \n  prod\n \n x ",
        "PROD",
        "prod\x00",
        "../..",
        "'; DROP TABLE clusters; --",
        "%00",
        "\u202eprod",
        "a\nb",
        "\\",
        "1h",
        "custom",
    ]
)


@PAGES_SETTINGS
@given(page=link_pages, asked=s.one_of(hostile_values, shown_text(100)))
@example(page="overview", asked=" \n  prod\n \n x ")
@example(page="performance", asked=HTML)
def test_link_with_an_unknown_cluster_falls_back_with_a_message(seeded, page, asked):
    at = run(page, cluster=asked)
    healthy(at, page)
    assert at.selectbox(key="cluster").value == "prod"
    if asked == "prod":
        assert not warnings(at)
    elif asked:
        assert shown(f"Unknown cluster in the link: {asked[:80]}") in warnings(at)
        assert any("showing prod" in t.value for t in at.toast)


@PAGES_SETTINGS
@given(
    page=link_pages,
    asked=s.one_of(
        hostile_values,
        s.sampled_from(["99y", "<b>1h</b>", "1H", "-1h", "24h\n", "1e9h", "custom ", "0h", ""]),
        s.sampled_from(list(RANGES)),
        shown_text(50),
    ),
)
def test_link_with_an_unknown_range_falls_back_to_24h(seeded, page, asked):
    at = run(page, range=asked)
    healthy(at, page)
    if asked in RANGES:
        assert not warnings(at) and shows_range(at, page, f"the last {asked}")
    elif asked == "custom":
        assert at.date_input
    else:
        if asked:
            assert shown(f"Unknown range in the link: {asked[:40]}; showing 24h.") in warnings(at)
        assert shows_range(at, page, "the last 24h")


def _understood(text: str | None, today: date) -> bool | None:
    """How the custom-range date pickers read a URL date: True, False, or None (near the pickers' 10-year limit)."""
    if not text:
        return True  # absent: the picker's default, nothing to complain about
    for fmt in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if day > today or day < today - timedelta(days=3700):
            return False
        return True if day >= today - timedelta(days=3000) else None
    return False


def utc_today() -> date:
    return datetime.now(UTC).date()


def url_dates():
    """Dates as links carry them, relative to the UTC day when each example is drawn (so a run
    across midnight stays consistent with the page, which reads the clock too)."""
    recent = s.integers(0, 200).map(lambda n: (utc_today() - timedelta(days=n)).isoformat())
    relative = s.sampled_from([1, -3]).map(
        lambda n: (
            (utc_today() + timedelta(days=n)).isoformat()
            if n > 0
            else (utc_today() + timedelta(days=n)).strftime("%Y/%m/%d")
        )
    )
    odd = s.sampled_from(
        [
            "garbage",
            "2026-02-30",
            "2026-13-01",
            "20261120",
            "2026-11-20T08:00",
            "1999-01-01",
            "9999-12-31",
            "0001-01-01",
            "-1",
            "",
            HTML,
        ]
    )
    return s.one_of(recent, relative, odd, shown_text(20), s.none())


TODAY = utc_today()  # for the fixed examples only; tests compare with the day they run on


@PAGES_SETTINGS
@given(page=link_pages, start=url_dates(), end=url_dates())
@example(page="overview", start="garbage", end="2026-99-99")
@example(page="overview", start=(TODAY - timedelta(days=5)).isoformat(), end=(TODAY - timedelta(days=1)).isoformat())
@example(page="performance", start=(TODAY - timedelta(days=5)).isoformat(), end=TODAY.isoformat())
def test_link_with_a_custom_range(seeded, page, start, end):
    today = utc_today()
    ok_start, ok_end = _understood(start, today), _understood(end, today)
    assume(ok_start is not None and ok_end is not None)
    query = {
        "range": "custom",
        **({"start": start} if start is not None else {}),
        **({"end": end} if end is not None else {}),
    }
    at = run(page, **query)
    first, last = (d.value for d in at.date_input)
    assert isinstance(first, date) and isinstance(last, date) and last <= today
    valid = last >= first and (last - first).days + 1 <= 90
    range_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    healthy(at, page, collected=not valid or _first_round(seeded["store"]) <= range_end)
    messages = warnings(at)
    for key, text, ok in (("start", start, ok_start), ("end", end, ok_end)):
        assert (
            shown(f"Ignored {key}={(text or '')[:40]} in the link: use a date like 2026-11-24, no later than today.")
            in messages
        ) == (not ok), (key, text, messages)
    if valid:
        day = lambda d: d.strftime("%b %d")  # noqa: E731
        assert shows_range(at, page, f"{day(first)} – {day(last)}"), at.caption[0].value
        assert len(messages) == (not ok_start) + (not ok_end), messages
    else:
        assert any("showing the last 24 hours" in w for w in messages), messages
        assert shows_range(at, page, "the last 24h")


def test_changing_the_dates_after_opening_a_link_is_not_reported(seeded):
    """The link is judged once: a date picked afterwards is not compared with the link's older one."""
    today = utc_today()
    at = run("overview", range="custom", start=(today - timedelta(days=5)).isoformat())
    assert not at.exception and not warnings(at)
    at.date_input(key="start").set_value(today - timedelta(days=3)).run()
    assert not at.exception and not warnings(at)
    day = lambda d: d.strftime("%b %d")  # noqa: E731
    assert shows_range(at, "overview", f"{day(today - timedelta(days=3))} – {day(today)}")


# -- 4. text from the cluster renders as text on every page ------------------------------------------------------

_MARKDOWN_KINDS = (
    "markdown",
    "caption",
    "warning",
    "error",
    "info",
    "success",
    "header",
    "subheader",
    "title",
    "toast",
    "exception",
)


def markdown_texts(at: AppTest) -> list[str]:
    """Every string Streamlit renders as markdown: bodies of text elements, labels and help of everything."""
    out = [e.value for kind in _MARKDOWN_KINDS for e in at.get(kind) if isinstance(e.value, str)]

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        for field in ("label", "help", "body"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value:
                out.append(value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def unescaped(text: str) -> str:
    """The text with every backslash-escaped character blanked: what is left renders as markdown."""
    return re.sub(r"\\.", "\x00", text, flags=re.S)


@pytest.fixture
def hostile(env):
    store = env["store"]
    alpha = add_cluster(env, "alpha")
    seed(store, alpha, fe=COLOR, bes=(BOLD, HTML, "10.0.0.4"), dead=HTML, node_error=LINK)
    now = time.time()
    tables = [
        {"db_name": db, "table_name": name, "data_bytes": 10**9 * (i + 1), "row_count": 10 * i}
        for i, (db, name) in enumerate(zip(HOSTILE, reversed(HOSTILE)))
    ]
    for ts, grow in ((now - 3600, 0), (now - 60, 1)):
        store.write_statistics(
            alpha,
            {
                "ts": ts,
                "status": "partial",
                "error": "; ".join(HOSTILE),
                "collect_ms": 40,
                "database_count": 5,
                "table_count": 5,
                "total_data_bytes": 15 * 10**9,
                "total_rows": 100,
                "mv_total": 5,
                "mv_active": 0,
                "mv_inactive": 5,
                "mv_failed": 5,
                "schema_change_running": 5,
                "schema_change_pending": 0,
                "top_tables": [
                    {"db": t["db_name"], "table": t["table_name"], "bytes": t["data_bytes"], "rows": t["row_count"]}
                    for t in tables
                ],
                "materialized_views": [
                    {"db": h, "name": h, "active": False, "inactive_reason": h, "state": "FAILED", "error": h}
                    for h in HOSTILE
                ],
                "schema_changes": [
                    {
                        "db": h,
                        "table": h,
                        "state": "RUNNING",
                        "progress": "50%",
                        "created": "2026-01-01 00:00:00",
                        "message": h,
                    }
                    for h in HOSTILE
                ],
            },
            [{**t, "data_bytes": t["data_bytes"] + grow * 10**8} for t in tables],
        )
    beta = add_cluster(env, "beta", "10.0.1.1")
    seed(store, beta, hours=1, step=300, newest={"status": "partial", "error": f"show_proc /backends: {LINK}"})
    gamma = add_cluster(env, "gamma", "10.0.2.1")
    seed(store, gamma, hours=1, step=300, newest={"status": "down", "error": MATH})
    secrets = Secrets.from_environment(store.key_file())
    registry.add(store, secrets, {"name": "delta", "fe_host": "10.0.3.1", "user": HTML + BOLD, "password": "pw"})
    return env


@given(shown_text(60))
@FAST
def test_plain_shows_any_text_as_it_is(text):
    assert unescape(plain(text)) == text


@pytest.mark.parametrize(
    "text",
    ["bob@example.com", "www.evil.example", "WWW.evil.example", "https://evil.example/x", "mailto:bob@example.com"],
)
def test_plain_breaks_what_markdown_would_link(text):
    shown = re.sub(r"\\(.)", r"\1", plain(text))  # escapes resolved, as the browser does
    assert not re.search(r"@(?!\u2060)|(?i:www)\.|://", shown), shown
    assert shown.replace("\u2060", "") == text


def test_text_from_the_cluster_is_shown_literally_on_every_page(hostile):
    seen: list[str] = []
    for cluster in ("alpha", "beta", "gamma", "delta"):
        for page in PAGES:
            at = run(page, cluster=cluster)
            assert not at.exception, (cluster, page, at.exception)
            assert at.selectbox(key="cluster").value == cluster
            texts = markdown_texts(at)
            for text in texts:
                for bad in HOSTILE:
                    assert bad not in unescaped(text), (cluster, page, bad, text)
                # GFM links "https://..." even when escaped: a word joiner must sit after the ":".
                assert "://evil" not in re.sub(r"\\(.)", r"\1", text), (cluster, page, text)
            for chart in at.get("plotly_chart"):  # Plotly renders <a>, <b>, ... in trace names
                for trace in json.loads(chart.proto.spec)["data"]:
                    named = trace.get("name", "") + trace.get("hovertemplate", "")
                    assert "<" not in named.replace("<extra>", "").replace("</extra>", ""), (cluster, page, trace)
                    seen.append(html.unescape(trace.get("name", "")))
            seen += [unescape(t) for t in texts]
    # The names are shown (escaped), not dropped: each reached at least one markdown element.
    for bad in HOSTILE:
        assert any(bad in text for text in seen), bad
    assert any(f"BE {HTML} down since" in text for text in seen)
    assert f"BE {HTML}" in seen and f"BE {BOLD}" in seen  # chart legends, as text
    assert any(f"BE {BOLD} first" in text for text in seen)  # the disk forecast
    assert f"partial collection: show_proc /backends: {LINK}" in seen
    assert f"cluster unreachable: {MATH}" in seen


# -- 5. SQL: identifiers quoted, values bound --------------------------------------------------------------------

WEIRD = "we`ird; DROP"


def test_database_names_are_quoted_in_show_alter(emulator, monkeypatch):
    monkeypatch.setattr(catalog, "DATABASES", catalog.DATABASES + (WEIRD,))
    monkeypatch.setattr(
        catalog,
        "SCHEMA_CHANGES",
        catalog.SCHEMA_CHANGES + (catalog.SchemaChange(WEIRD, "t1", 13001, "RUNNING", "10%", "2026-11-25 10:00:00"),),
    )
    asked: list[str] = []
    real = sqlviews.show_alter_column

    def show_alter_column(model, db):
        asked.append(db)
        return real(model, db)

    monkeypatch.setattr(sqlviews, "show_alter_column", show_alter_column)
    sent: list[str] = []
    blocking = ClusterClient._sql_blocking

    def spy(self, address, statements):
        sent.extend(statements)
        return blocking(self, address, statements)

    monkeypatch.setattr(ClusterClient, "_sql_blocking", spy)
    emu = emulator(ClusterSpec("weird", workload=exact_workload()))
    [cluster] = cluster_configs(emu)
    stats, _tables = asyncio.run(fetch_statistics(ClusterClient(cluster, None, 5.0)))
    assert "SHOW ALTER TABLE COLUMN FROM `we``ird; DROP`" in sent
    assert WEIRD in asked and "we" not in asked
    assert stats["status"] == "ok", stats["error"]
    assert {"db": WEIRD, "table": "t1"}.items() <= next(c for c in stats["schema_changes"] if c["db"] == WEIRD).items()
    assert stats["schema_change_running"] == 2  # sales.order_items and the weird one: nothing was cut


def test_cluster_text_is_stored_through_bound_parameters(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'bound.db'}")
    try:
        store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
        cid = store.cluster_ids()["prod"]
        nasty = "x'); DROP TABLE clusters; --"
        store.write_statistics(
            cid,
            {"ts": 1.0, "status": "partial", "error": nasty, "collect_ms": 1},
            [{"db_name": nasty, "table_name": '"; DELETE FROM clusters; --', "data_bytes": 1, "row_count": 1}],
        )
        store.write_round(
            cid,
            {"ts": 2.0, "status": "down", "error": nasty, "collect_ms": 1},
            [{"role": "BE", "host": nasty, "alive": False, "error": nasty}],
        )
        assert store.cluster_ids() == {"prod": cid}
        with store.reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT db_name, table_name FROM table_size_history").fetchall() == [
                (nasty, '"; DELETE FROM clusters; --')
            ]
            assert conn.exec_driver_sql("SELECT host, error FROM node_snapshots").fetchall() == [(nasty, nasty)]
    finally:
        store.close()


_SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|SHOW|PRAGMA|BEGIN|WITH|SET|"
    r"EXPLAIN|ADMIN|KILL|GRANT|USE|TRUNCATE)\b",
    re.I,
)
_SQL_INSIDE = re.compile(
    r"\b(SELECT\b.*\bFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET"
    r"|WHERE\s+\w+\s*(=|IN\b|LIKE)|VALUES\s*\()",
    re.S,
)


def _literal_text(node: ast.AST) -> str | None:
    """The constant text of a string-building expression, '{}' where a value goes in; None if no string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None


def _is_identifier_quoting(node: ast.AST) -> bool:
    """`name.replace("`", "``")`: the documented quoting of a database name inside backquotes."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "replace"
        and [getattr(a, "value", None) for a in node.args] == ["`", "``"]
    )


def sql_built_from_values(source: str) -> list[tuple[int, str]]:
    """String-built SQL in a module: f-strings, `+`, `%` and .format() whose text reads as a statement."""
    found = []
    for node in ast.walk(ast.parse(source)):
        pieces: list[ast.AST] = []
        text = None
        if isinstance(node, ast.JoinedStr):
            text = _literal_text(node)
            pieces = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            text = _literal_text(node)
            pieces = [n for n in (node.left, node.right) if _literal_text(n) is None]
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            text, pieces = node.left.value, [node.right]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
        ):
            text, pieces = node.func.value.value, list(node.args) + [k.value for k in node.keywords]
        if text is None or not pieces or not (_SQL_START.search(text) or _SQL_INSIDE.search(text)):
            continue
        if all(_is_identifier_quoting(p) for p in pieces):
            continue
        found.append((node.lineno, text))
    return found


def test_the_detector_finds_sql_built_from_values():
    bad = (
        "q = f\"SELECT * FROM clusters WHERE name = '{name}'\"\n"
        'q = "DELETE FROM t WHERE id = %s" % ident\n'
        'q = "SHOW ALTER TABLE COLUMN FROM " + db\n'
        "q = \"UPDATE clusters SET user = '{}'\".format(user)\n"
    )
    assert [line for line, _ in sql_built_from_values(bad)] == [1, 2, 3, 4]
    good = (
        'q = "SHOW ALTER TABLE COLUMN FROM `" + d.replace("`", "``") + "`"\n'
        'msg = f"cluster {name}: refused"\nsql = "SELECT 1"\n'
    )
    assert sql_built_from_values(good) == []


# Statements whose interpolated parts are constants of the code itself, not values.
ALLOWED = {("starmon/store.py", "PRAGMA {}")}


def test_no_sql_is_built_from_values():
    found = []
    for path in sorted((ROOT / "starmon").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, text in sql_built_from_values(path.read_text(encoding="utf-8")):
            if (rel, text) not in ALLOWED:
                found.append(f"{rel}:{line}: {text!r}")
    assert not found, "SQL built from values (use bound parameters):\n" + "\n".join(found)
    pragma = (ROOT / "starmon" / "store.py").read_text()
    assert re.search(r'for pragma in \((\s*"[a-z_]+=[A-Z0-9]+",?)+\s*\):', pragma), (
        "the PRAGMA f-string must only ever see the constant tuple it loops over"
    )
