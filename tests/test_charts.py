"""Charts label their axis with the unit the metric registry declares, not one a page repeats."""

from __future__ import annotations

import pandas as pd
import pytest

from starmon.columns import unit_of
from starmon.ui import charts


def _series(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({"time": pd.to_datetime([0, 60], unit="s", utc=True), **{c: [1.0, 2.0] for c in columns}})


@pytest.mark.parametrize("column, unit", [("qps", "queries/s"), ("query_latency_p99", "ms"), ("query_error_rate", "%")])
def test_a_cluster_chart_takes_its_unit_from_the_registry(column, unit):
    fig = charts.lines(_series(column), {column: column}, "t", "UTC")
    assert fig.layout.yaxis.title.text == unit == unit_of(column)


@pytest.mark.parametrize("column, unit", [("cpu_pct", "%"), ("disk_pct", "%"), ("qps", "queries/s")])
def test_a_node_chart_takes_its_unit_from_the_registry(column, unit):
    df = _series(column).assign(role="BE", host="10.0.0.1")
    assert charts.per_node(df, column, "t", "UTC").layout.yaxis.title.text == unit


def test_an_undescribed_column_is_an_error_not_an_unlabelled_axis():
    with pytest.raises(KeyError, match="no metric 'qsp'"):
        charts.lines(_series("qsp"), {"qsp": "x"}, "t", "UTC")


def _with_outage() -> pd.DataFrame:
    times = [0, 60, 120, 180, 3000, 3060, 3120]  # an outage between 180 and 3000 s
    return pd.DataFrame({"time": pd.to_datetime(times, unit="s", utc=True), "qps": [1.0] * len(times)})


def test_a_gap_breaks_the_line_instead_of_crossing_it():
    trace = charts.lines(_with_outage(), {"qps": "QPS"}, "t", "UTC").data[0]
    assert len(trace.y) == 8 and pd.isna(trace.y[4]) and not any(pd.isna(trace.y[:4]))
    assert trace.connectgaps is False


def test_a_gap_breaks_each_node_line():
    df = pd.concat([_with_outage().assign(role="BE", host=h) for h in ("10.0.0.1", "10.0.0.2")])
    fig = charts.per_node(df.rename(columns={"qps": "cpu_pct"}), "cpu_pct", "t", "UTC", average=False)
    assert [sum(pd.isna(t.y)) for t in fig.data] == [1, 1]


def test_a_steady_series_is_left_as_it_is():
    df = _series("qps")
    assert charts.broken_at_gaps(df).equals(df)


# -- empty charts say why (issue 13, item 7) ------------------------------------------------------------------

WHY = "The range ends before the first round starmon holds, collected Nov 30 14:02."


def _says(fig, *words: str) -> None:
    """The figure draws nothing, hides its axes and says there is no data, and why, in one annotation."""
    assert not fig.data
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    [note] = fig.layout.annotations
    text = note.text.replace("<br>", " ")
    assert text.startswith(f"<b>{charts.NO_DATA}</b>")
    for word in words:
        assert word in text, (word, text)


def _no_rows(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({"time": pd.to_datetime([], utc=True), "role": [], "host": [], **{c: [] for c in columns}})


def _capacity_fit():
    from starmon.forecast import Forecast

    return Forecast("ok", "cluster", capacity=100.0, residual_sd=1.0, intercept=0.0, slope_per_second=1e-9)


def test_a_chart_of_an_empty_range_says_so_and_why_instead_of_blank_axes():
    _says(charts.lines(_no_rows("qps", "rps"), {"qps": "QPS", "rps": "RPS"}, "Q", "UTC", WHY), WHY)
    _says(charts.per_node(_no_rows("cpu_pct"), "cpu_pct", "CPU", "UTC", why=WHY), WHY)
    history = pd.DataFrame({"time": pd.to_datetime([], utc=True), "subject": [], "used_pct": []})
    fig = charts.capacity(history, [_capacity_fit()], "UTC", why=WHY)
    _says(fig, WHY)
    assert fig.layout.title.text == charts.CAPACITY_TITLE  # the page finds its charts by title


def test_without_a_reason_an_empty_chart_says_nothing_was_collected():
    _says(charts.lines(_no_rows("qps"), {"qps": "QPS"}, "Q", "UTC"), "Nothing was collected in this range.")


def test_a_chart_whose_values_are_all_null_says_they_are_na():
    df = _series("query_latency_p50", "query_latency_p99").assign(query_latency_p50=None, query_latency_p99=None)
    _says(charts.lines(df, {"query_latency_p50": "p50", "query_latency_p99": "p99"}, "L", "UTC"), "(n/a)")
    nodes = _series("cpu_pct").assign(role="BE", host="10.0.0.1", cpu_pct=float("nan"))
    _says(charts.per_node(nodes, "cpu_pct", "CPU", "UTC"), "(n/a)")


def test_one_value_is_enough_to_draw():
    df = _series("qps", "rps").assign(rps=None)
    assert [t.name for t in charts.lines(df, {"qps": "QPS", "rps": "RPS"}, "Q", "UTC").data] == ["QPS", "RPS"]


# -- legible charts (issue 13, item 11) -------------------------------------------------------------------------


def test_the_legend_sits_below_the_tick_labels_not_on_them():
    """Anchored to the figure's bottom edge (container coordinates), not a fraction below the plot:
    the margin Plotly grows for the date line under the times then lies between plot and legend."""
    for fig in (charts.lines(_series("qps"), {"qps": "QPS"}, "t", "UTC"), _capacity()):
        assert (fig.layout.legend.yref, fig.layout.legend.y, fig.layout.legend.yanchor) == ("container", 0, "bottom")


def _capacity():
    t = pd.to_datetime([0, 3600, 7200], unit="s", utc=True)
    history = pd.DataFrame({"time": t, "subject": "cluster", "used_pct": [40.0, 41.0, 42.0]})
    return charts.capacity(history, [_capacity_fit()], "UTC")


def test_the_capacity_band_is_a_translucent_fill_not_a_faded_trace():
    fig = _capacity()
    [band] = [t for t in fig.data if t.fill == "toself"]
    assert band.opacity in (None, 1)
    assert band.fillcolor == "rgba(68,68,68,0.2)"  # the cluster's #444444, see-through
    assert max(band.y) - min(band.y) > 2 * charts.band_pct(_capacity_fit()) - 1e-9


def test_the_95_and_100_labels_sit_on_either_side_of_their_lines():
    """5 % apart, two labels on the same side of their lines overlapped: 100 % goes above, 95 % below."""
    notes = {a.text: a for a in _capacity().layout.annotations}
    assert notes["100 %"].yanchor == "bottom" and notes["100 %"].y == 100
    assert notes["95 %"].yanchor == "top" and notes["95 %"].y == 95
    assert notes["85 %"].yanchor == "top"
    assert {a.xanchor for a in notes.values()} == {"left"}  # where the history is, below the levels


# -- event markers (issue 16) -------------------------------------------------------------------------------------


def _event(ts, kind, subject, severity="warning"):
    return {"ts": ts, "kind": kind, "subject": subject, "severity": severity, "details": {}}


def test_events_are_marked_at_their_times_with_the_worst_colour_and_escaped_hover():
    fig = charts.lines(_series("qps"), {"qps": "QPS"}, "t", "UTC")
    marked = charts.with_events(
        fig,
        [
            _event(30, "node_restarted", "BE 10.0.0.7"),
            _event(30, "node_down", "BE <b>x</b>", "critical"),
            _event(45, "leader_changed", "FE 10.0.0.2", "info"),
        ],
        "UTC",
    )
    lines = [s for s in marked.layout.shapes if s.type == "line"]
    assert [(pd.Timestamp(s.x0).timestamp(), s.line.color) for s in lines] == [
        (30, charts.SEVERITY_COLORS["critical"]),
        (45, charts.SEVERITY_COLORS["info"]),
    ]
    (markers,) = [t for t in marked.data if t.name == "events"]
    assert list(markers.text) == [
        "node_restarted BE 10.0.0.7<br>node_down BE &lt;b&gt;x&lt;/b&gt;",
        "leader_changed FE 10.0.0.2",
    ]
    assert markers.yaxis == "y9" and marked.layout.yaxis9.visible is False


def test_no_events_or_an_empty_chart_leave_the_figure_as_it_was():
    fig = charts.lines(_series("qps"), {"qps": "QPS"}, "t", "UTC")
    assert charts.with_events(fig, [], "UTC") is fig and len(fig.data) == 1
    empty = charts.empty("t")
    assert not charts.with_events(empty, [_event(30, "node_down", "BE a")], "UTC").layout.shapes


def test_a_range_holding_one_round_spans_the_range_and_shows_its_point():
    """One round in a 24h range: the axis runs over the 24 hours (not ticks a millisecond apart
    around the point) and the round is drawn as a marker (a line of one point draws nothing)."""
    end = 1_800_000_000.0
    df = pd.DataFrame({"time": pd.to_datetime([end - 60], unit="s", utc=True), "qps": [27.9], "rps": [30.0]})
    fig = charts.spanning(charts.lines(df, {"qps": "QPS", "rps": "RPS"}, "QPS", "UTC"), end - 86400, end, "UTC")
    start, stop = (pd.Timestamp(t) for t in fig.layout.xaxis.range)
    assert (start.timestamp(), stop.timestamp()) == (end - 86400, end)
    assert all("markers" in trace.mode for trace in fig.data)
    nodes = pd.DataFrame(
        {
            "time": pd.to_datetime([end - 60], unit="s", utc=True),
            "role": ["BE"],
            "host": ["10.0.0.2"],
            "cpu_pct": [12.0],
        }
    )
    assert "markers" in charts.per_node(nodes, "cpu_pct", "CPU", "UTC").data[0].mode


def test_a_longer_series_is_drawn_as_lines_and_an_empty_chart_keeps_its_message():
    end = 1_800_000_000.0
    times = pd.to_datetime([end - 120, end - 60], unit="s", utc=True)
    fig = charts.lines(pd.DataFrame({"time": times, "qps": [1.0, 2.0]}), {"qps": "QPS"}, "QPS", "UTC")
    assert [t.mode for t in fig.data] == ["lines"]
    empty = charts.spanning(charts.empty("QPS", "why"), end - 3600, end, "UTC")
    assert not empty.data and empty.layout.xaxis.range is None
