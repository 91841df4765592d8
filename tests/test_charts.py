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
