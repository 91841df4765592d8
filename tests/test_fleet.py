"""The fleet view (issue 16): the ranking, the read at any number of clusters, tags, and the Fleet page."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from starmon import clusters as registry
from starmon import fleet, rollup, schema
from starmon.config import ClusterConfig, ConfigError, load_config, validate_cluster
from starmon.fleet import Cluster, Fleet, matching, rank
from starmon.read import Reader, forecast, parse_range
from starmon.secrets import Secrets
from starmon.store import Store
from starmon.ui import fleet_table

from .fixtures import PAGE, add_cluster, app, cluster_rows, seed_rounds, unescape

# -- the ranking (pure) -----------------------------------------------------------------------------------


def healthy(name: str, **changes) -> Cluster:
    values = dict(status="ok", nodes_alive=4, nodes_total=4, p99_level="ok", error_level="ok")
    return Cluster(1, name, **(values | changes))


def test_risk_orders_down_then_dead_nodes_alerts_disk_and_thresholds():
    clusters = [
        healthy("a-fine"),
        healthy("b-slow", p99_level="warning"),
        healthy("c-erroring", p99_level="warning", error_level="critical"),
        healthy("d-disk-in-30-days", days_to_95=30.0),
        healthy("e-disk-in-3-days", days_to_95=3.0, p99_level="critical"),
        healthy("f-alert", critical_alerts=1),
        healthy("g-one-dead", nodes_alive=3),
        healthy("h-two-dead", nodes_alive=2),
        healthy("i-down", status="down", nodes_alive=None, nodes_total=None),
        healthy("j-never", status=None, nodes_alive=None, nodes_total=None),
    ]
    assert [c.name for c in rank(clusters)] == [
        "i-down",
        "j-never",
        "h-two-dead",
        "g-one-dead",
        "f-alert",
        "e-disk-in-3-days",
        "d-disk-in-30-days",
        "c-erroring",
        "b-slow",
        "a-fine",
    ]


def test_unknown_values_never_rank_as_good_or_bad_numbers():
    """Unknown node counts are not 'no dead nodes worse than known ones'; a disk above 95 % comes first."""
    unknown = healthy("unknown", nodes_alive=None, nodes_total=None, p99_level="unknown", error_level="unknown")
    assert unknown.dead_nodes is None
    full = healthy("full", days_to_95=0.0)
    assert [c.name for c in rank([healthy("fine"), unknown, full])] == ["full", "fine", "unknown"]


def test_filters_by_name_and_every_tag():
    clusters = [healthy("prod-eu", tags=("prod", "eu")), healthy("prod-us", tags=("prod", "us")), healthy("dev")]
    assert [c.name for c in matching(clusters, "PROD")] == ["prod-eu", "prod-us"]
    assert [c.name for c in matching(clusters, "", ["prod", "eu"])] == ["prod-eu"]
    assert [c.name for c in matching(clusters, "dev", ["prod"])] == []
    assert fleet.all_tags(clusters) == ["eu", "prod", "us"]
    assert fleet.parse_tags('["a", 3]') == ("a",) and fleet.parse_tags("not json") == ()


# -- the read ----------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    opened = Store(f"sqlite:///{tmp_path / 'starmon.db'}")
    yield opened
    opened.close()


def _alert(store: Store, cluster_id: int, state: str, severity: str) -> None:
    now = time.time()
    row = dict(cluster_id=cluster_id, rule="node_down", subject="x", state=state, severity=severity)
    row |= dict(message="m", started_at=now, last_seen_at=now, notifications=0, silenced=False)
    store.write(lambda conn: conn.execute(schema.alerts.insert().values(**row)))


def _event(store: Store, cluster_id: int, ts: float, subject: str) -> None:
    row = dict(cluster_id=cluster_id, ts=ts, kind="node_restarted", subject=subject, severity="info")
    store.write(lambda conn: conn.execute(schema.events.insert().values(**row)))


def test_the_read_shows_what_was_seeded(store):
    fine, dead, _ = add_cluster(store, "fine"), add_cluster(store, "dead-be", "10.0.0.5"), add_cluster(store, "new")
    newest = seed_rounds(store, fine, dead=None, newest={"qps": 77.0, "query_latency_p99": 1500.0})
    seed_rounds(store, dead)
    _alert(store, fine, "firing", "critical")
    _alert(store, fine, "resolved", "critical")
    _alert(store, dead, "firing", "warning")
    for i in range(3):
        _event(store, dead, newest - 60 * i, f"BE {i}")
    _event(store, dead, newest - 2 * 86400, "before the range")
    rows = {c.name: c for c in Fleet(store).read(parse_range("24h", time.time()))}
    assert [c.name for c in Fleet(store).read(parse_range("24h", time.time()))] == ["new", "dead-be", "fine"]
    assert (rows["fine"].qps, rows["fine"].p99_ms, rows["fine"].p99_level) == (77.0, 1500.0, "warning")
    assert (rows["fine"].critical_alerts, rows["dead-be"].critical_alerts) == (1, 0)
    assert (rows["dead-be"].nodes_alive, rows["dead-be"].nodes_total, rows["dead-be"].status) == (3, 4, "partial")
    assert (rows["dead-be"].events, rows["fine"].events) == (3, 0)
    assert rows["fine"].collected_at == pytest.approx(newest)
    new = rows["new"]
    assert (new.status, new.qps, new.nodes_total, new.days_to_95, new.disk_forecast) == (None, None, None, None, "n/a")
    short = {c.name: c for c in Fleet(store).read(parse_range("1h", time.time()))}
    assert 40 <= len(short["fine"].qps_trend) <= fleet.TREND_POINTS + 1  # 75 s buckets, unaligned
    assert all(50 <= q <= 57 for q in short["dead-be"].qps_trend)


def test_days_to_95_agree_with_the_overview_forecast(store):
    cid = add_cluster(store, "filling")
    now = seed_rounds(store, cid, hours=12, step=120, dead=None)
    rollup.roll_up_span(store, cid, now - 13 * 3600, now, 30)
    [row] = Fleet(store).read(parse_range("7d", now), now=now)
    overview = forecast(Reader(store), cid, 7, now).headline
    assert overview["status"] == "ok" and overview["first_node"] == "BE 10.0.0.2"
    assert row.days_to_95 == pytest.approx(overview["days_to_95"], rel=0.1)
    assert row.disk_forecast.startswith("95 % in ~") and row.disk_forecast.endswith("BE 10.0.0.2 first")


def test_a_read_refits_a_few_disk_forecasts_and_the_rest_follow(store, monkeypatch):
    """At most FITS_PER_READ clusters are fitted per read, never-fitted ones first; a cluster
    waiting says so rather than showing a number, and every fit ends equal to the Overview's."""
    monkeypatch.setattr(fleet, "FITS_PER_READ", 2)
    fleet._fits.clear()
    ids = [add_cluster(store, f"filling-{k}", f"10.8.0.{k}") for k in range(5)]
    for cid in ids:
        now = seed_rounds(store, cid, hours=12, step=120, dead=None)
        rollup.roll_up_span(store, cid, now - 13 * 3600, now, 30)
    tr = parse_range("7d", now)
    first = Fleet(store).read(tr, now=now)
    assert sorted(fleet_table._days(c) for c in first)[-3:] == ["pending"] * 3
    waiting = [sum(c.forecast_at is None for c in Fleet(store).read(tr, now=now)) for _ in range(3)]
    assert waiting == [1, 0, 0]
    rows = {c.id: c for c in Fleet(store).read(tr, now=now)}
    assert all(rows[cid].days_to_95 is not None for cid in ids)
    for cid in ids:
        overview = forecast(Reader(store), cid, 7, now).headline
        assert rows[cid].days_to_95 == pytest.approx(overview["days_to_95"], rel=0.1)

    later = now + 3600  # the hour turned: every fit is stale; two are refitted, three keep the last hour's
    moved = {c.id: c.days_to_95 for c in Fleet(store).read(parse_range("7d", later), now=later)}
    assert sum(moved[cid] != rows[cid].days_to_95 for cid in ids) == 2
    assert all(moved[cid] is not None for cid in ids)


def _statements(store: Store, clusters: int) -> int:
    """Statements the fleet read issues with `clusters` clusters, each with rounds, events and alerts."""
    for k in range(clusters):
        cid = add_cluster(store, f"c{k:03d}", f"10.9.0.{k + 1}")
        newest = seed_rounds(store, cid, hours=0.5, dead=None)
        _event(store, cid, newest, "BE x")
        _alert(store, cid, "firing", "critical")
        rollup.roll_up_span(store, cid, newest - 3600, newest + 3600, 30, now=newest + 3600)
    count = [0]

    def counted(*_args) -> None:
        count[0] += 1

    sa.event.listen(store.reader, "before_cursor_execute", counted)
    try:
        found = Fleet(store).read(parse_range("7d", time.time()))
    finally:
        sa.event.remove(store.reader, "before_cursor_execute", counted)
    assert len(found) == clusters and all(c.events == 1 and c.critical_alerts == 1 for c in found)
    return count[0]


def test_the_read_costs_the_same_statements_for_2_or_12_clusters(tmp_path):
    few, many = (Store(f"sqlite:///{tmp_path / f'{n}.db'}") for n in (2, 12))
    try:
        assert _statements(few, 2) == _statements(many, 12) <= 9
    finally:
        few.close()
        many.close()


# -- tags --------------------------------------------------------------------------------------------------


def test_tags_in_the_config_file_reach_the_clusters_table(tmp_path, store):
    path = tmp_path / "starmon.toml"
    path.write_text('[[clusters]]\nname = "eu1"\nfe_host = "10.0.0.1"\ntags = ["prod", "eu"]\n')
    config = load_config({"STARMON_CONFIG": str(path), "STARMON_DB_URL": store.url})
    assert config.clusters[0].tags == ("prod", "eu")
    store.sync_clusters(config.clusters)
    [row] = cluster_rows(store)
    assert fleet.parse_tags(row["tags"]) == ("prod", "eu")
    assert ClusterConfig.from_row(row) == config.clusters[0]
    store.sync_clusters((ClusterConfig("eu1", "10.0.0.1", tags=("dev",)),))  # the file changed
    assert fleet.parse_tags(cluster_rows(store)[0]["tags"]) == ("dev",)


@pytest.mark.parametrize(
    "tags, message",
    [
        ("prod", r"'tags' must be a list of strings, like tags = \[\"prod\", \"eu\"\]"),
        ([1], "'tags' must be a list of strings"),
        (["has space"], "tag 'has space' must be 1-32 letters, digits"),
        (["-x"], "tag '-x' must be .* starting with a letter or digit"),
        (["x" * 33], f"tag '{'x' * 33}' must be 1-32 letters"),
        (["prod", "PROD"], "tag 'PROD' is given twice"),
        ([f"t{i}" for i in range(17)], "at most 16 tags, got 17"),
    ],
)
def test_bad_tags_are_named(tags, message):
    with pytest.raises(ConfigError, match=rf"cluster 'a': {message}"):
        validate_cluster({"name": "a", "fe_host": "h", "tags": tags})


def test_dashboard_clusters_keep_their_tags(store):
    secrets = Secrets.from_environment(store.key_file())
    registry.add(store, secrets, {"name": "ui1", "fe_host": "10.0.0.1", "tags": ["prod"]})
    registry.update(store, secrets, "ui1", {"fe_host": "10.0.0.1", "tags": ["prod", "us"]})
    assert fleet.parse_tags(cluster_rows(store)[0]["tags"]) == ("prod", "us")
    with pytest.raises(registry.ClusterError, match="tag 'a/b' must be"):
        registry.update(store, secrets, "ui1", {"fe_host": "10.0.0.1", "tags": ["a/b"]})


def test_the_clusters_page_saves_and_shows_tags(env):
    at = app().run()
    at.switch_page(PAGE["clusters"]).run()
    at.text_input[0].input("tagged")
    at.text_input[1].input("10.0.0.7")
    next(t for t in at.text_input if t.label == "Tags").input(" prod, eu ,")
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert fleet.parse_tags(cluster_rows(env["store"])[0]["tags"]) == ("prod", "eu")
    assert list(at.dataframe[0].value["Tags"]) == ["prod, eu"]
    edit = [t for t in at.text_input if t.label == "Tags"][-1]
    assert edit.value == "prod, eu"  # the edit form shows them back
    edit.input("prod, bad tag")
    next(b for b in at.button if b.label == "Save" and "edit-" in b.proto.form_id).click()
    at.run()
    assert any("tag 'bad tag' must be" in unescape(e.value) for e in at.error)
    assert fleet.parse_tags(cluster_rows(env["store"])[0]["tags"]) == ("prod", "eu")


# -- the page -----------------------------------------------------------------------------------------------


@pytest.fixture
def three_clusters(env):
    """`fine` (tagged prod, eu), `dead-be` (a BE down for the last rounds, tagged prod) and `idle` (disabled)."""
    store = env["store"]
    declared = (
        ClusterConfig("fine", "10.0.0.1", tags=("prod", "eu")),
        ClusterConfig("dead-be", "10.0.0.5", tags=("prod",)),
        ClusterConfig("idle", "10.0.0.6", enabled=False),
    )
    store.sync_clusters(declared)
    ids = store.cluster_ids()
    env["newest_ts"] = seed_rounds(store, ids["fine"], dead=None, newest={"qps": 88.0})
    seed_rounds(store, ids["dead-be"])
    _event(store, ids["dead-be"], env["newest_ts"] - 30, "BE 10.0.0.3")
    return env


def test_the_fleet_is_the_landing_page_ranked_worst_first(three_clusters):
    at = app(range="6h").run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Fleet"]
    assert not at.sidebar.selectbox  # the fleet picks no cluster
    table = at.dataframe[0].value
    assert list(table["Cluster"]) == ["dead-be", "fine"]  # disabled clusters are not in the fleet
    dead, fine = table.iloc[0], table.iloc[1]
    assert (dead["Status"], dead["Nodes alive"], dead["Events"], dead["Tags"]) == ("partial", "3/4", 1, "prod")
    assert (fine["QPS"], fine["p99"], fine["Error rate"], fine["Disk"]) == ("88.0/s", "150 ms", "0.1 %", "57.3 %")
    assert fine["Days to 95 %"] == "n/a"  # two hours of history forecast nothing yet
    assert fine["Open"] == "./overview?cluster=fine&range=6h"
    assert 16 <= len(fine["QPS trend"]) <= 17  # two hours of a 6h range in 450 s buckets
    [link] = at.get("page_link")
    assert (unescape(link.proto.label), link.proto.query_string) == ("dead-be", "cluster=dead-be&range=6h")
    assert "1 node dead." in [unescape(m.value) for m in at.markdown]


def test_the_fleet_filters_by_name_and_tag(three_clusters):
    at = app().run()
    at.text_input(key="fleet-name").input("FIN").run()
    assert list(at.dataframe[0].value["Cluster"]) == ["fine"]
    assert at.success  # nothing in it needs attention
    at.text_input(key="fleet-name").input("").run()
    assert at.multiselect(key="fleet-tags").options == ["eu", "prod"]
    at.multiselect(key="fleet-tags").select("eu").run()
    assert list(at.dataframe[0].value["Cluster"]) == ["fine"]


def test_a_link_naming_a_cluster_still_opens_its_overview(three_clusters):
    at = app(cluster="fine", range="6h").run()
    assert not at.exception
    assert unescape(at.header[0].value) == "Overview · fine"


def test_with_one_cluster_the_overview_stays_the_landing_page(seeded_with_problems):
    at = app().run()
    assert unescape(at.header[0].value) == "Overview · prod"
    assert "Fleet" not in [p.title for p in at.session_state["pages"].values()]
