"""The demo cluster's disk forecast: right against the emulator, and the same everywhere it shows."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from starmon import demo, forecast
from starmon.overview_json import overview
from starmon.read import Reader
from starmon.read import forecast as read_forecast
from starmon.ui import loaders

from .fixtures import MAIN, PAGE, clear_caches, trace_values, unescape, use_dashboard


@pytest.fixture(scope="module")
def week(demo_week):
    """A store holding the demo's replayed week, and the emulator model that produced it."""
    store, model, cluster_id, _, tmp = demo_week
    return store, model, cluster_id, tmp


def test_forecast_matches_the_emulator(week):
    store, model, cluster_id, _ = week
    now = model.now()
    lead, fits, _ = read_forecast(Reader(store), cluster_id, 7, now)
    assert lead["status"] == "ok" and lead["r2"] > 0.99
    # The emulator grows every BE by a fixed share of its capacity a day; the fullest fills first.
    growth = model.workload.disk_growth_pct_per_day / 100
    expected = {}
    for be in model.backends:
        disk = model.be_disk(be, now)
        used = (disk["total"] - disk["avail"]) / disk["total"]
        expected[f"BE {be.host}"] = (0.95 - used) / growth
    first = min(expected, key=expected.get)
    assert lead["first_node"] == first
    assert lead["days_to_95"] == pytest.approx(expected[first], rel=0.03)
    capacity = next(b.capacity for b in model.backends if f"BE {b.host}" == first)
    assert lead["slope_bytes_per_day"] == pytest.approx(growth * capacity, rel=0.03)
    for fit in fits[1:]:
        assert fit.days_to_95 == pytest.approx(expected[fit.subject], rel=0.03)


def test_card_chart_and_json_agree(week, monkeypatch):
    store, model, cluster_id, tmp = week
    (tmp / "starmon.toml").write_text("")
    use_dashboard(monkeypatch, store.url, tmp / "starmon.toml")
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert not at.exception
    # What the page computed, from the cache it filled (AppTest runs in this process): a forecast
    # recomputed seconds later could round its days differently.
    capacity = loaders.forecast(cluster_id, 7, loaders.newest_id(cluster_id))
    sentence = forecast.describe(capacity.headline)
    assert sentence.startswith("95 % in ~") and capacity.headline["first_node"] in sentence
    assert sentence in [unescape(c.value) for c in at.caption]
    card = next(m for m in at.metric if "forecast" in m.label)
    assert card.value == f"~{round(capacity.headline['days_to_95'])} days"
    data = overview(Reader(store), demo.DEMO_NAME, "24h", loaders.config())  # the JSON, a moment later
    assert data["forecast"]["first_node"] == capacity.headline["first_node"]
    assert data["forecast"]["days_to_95"] == pytest.approx(capacity.headline["days_to_95"], rel=1e-3)
    at.switch_page(PAGE["resources"]).run()
    assert not at.exception
    assert any(unescape(c.value).startswith(sentence) for c in at.caption)
    # The chart's history lines are the very points each trend was fitted on.
    [chart] = [
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"]["title"]["text"] == "Disk used: history and forecast"
    ]
    drawn = {t["name"]: t for t in chart["data"] if t.get("mode") == "lines" and "trend" not in t.get("name", "")}
    assert set(drawn) == {f.subject for f in capacity.fits} == {"cluster", *(f"BE {b.host}" for b in model.backends)}
    for subject, part in capacity.history.groupby("subject"):
        assert trace_values(drawn[subject]["y"]) == pytest.approx(list(part["used_pct"])), subject
    clear_caches()
