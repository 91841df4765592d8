"""Plotly figures from bucketed DataFrames (pure: DataFrame in, Figure out)."""

from __future__ import annotations

import html
import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from starmon.columns import metric, unit_of
from starmon.coverage import ALL_NA

# One colour per node, stable across charts: nodes are coloured by their sorted position.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_UNIT_SUFFIX = {
    "%": " %",
    "ms": " ms",
    "queries/s": "/s",
    "requests/s": "/s",
    "transactions/s": "/s",
    "loads/s": "/s",
    "ms/s": " ms/s",
}
# Byte figures read in decimal SI units, as everywhere on the dashboard: "1.25 GB", "312 kB/s".
_SI = {"bytes": "B", "bytes/s": "B/s"}
# Hover boxes name their trace through this, so a node's name is never read as a hover template.
_HOVER_NAME = "<extra>%{fullData.name}</extra>"
HEIGHT = 300
NO_DATA = "No data in this range"
NOTHING = "Nothing was collected in this range."


def _label(name: str) -> str:
    """A trace name from a cluster (node host) as text: Plotly renders <a>, <b>, ... in names."""
    return html.escape(name, quote=False)


def _layout(fig: go.Figure, title: str, unit: str) -> go.Figure:
    """Title, unit and legend. The legend sits at the figure's bottom edge (container coordinates),
    so the margin Plotly grows for tick labels keeps the date line under the times visible: a
    legend placed a fixed fraction below the plot covered it in the 300 px charts."""
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin=dict(l=10, r=10, t=40, b=10),
        hovermode="x unified",
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom"),
        yaxis_title=unit or None,
    )
    if unit in ("%", "connections", "queries", "messages") or unit.endswith("/s"):
        fig.update_yaxes(rangemode="tozero")  # levels and rates read against zero, not a zoomed-in band
    if unit in _SI:  # "~s": no trailing zeros, so an axis from 0 reads "0B/s", "2MB/s", "2.5MB/s"
        fig.update_yaxes(tickformat="~s", ticksuffix=_SI[unit])
    return fig


def _hover(unit: str, decimals: int) -> str:
    """A trace's hover value in its unit: SI prefixes for bytes, else grouped digits."""
    if unit in _SI:
        return f"%{{y:.3s}}{_SI[unit]}{_HOVER_NAME}"
    return f"%{{y:,.{decimals}f}}{_UNIT_SUFFIX.get(unit, '')}{_HOVER_NAME}"


def _why_na(why: str | None, df: pd.DataFrame, column: str) -> str | None:
    """Why a chart of `column` has nothing to draw: the page's reason, unless it is the generic "no
    value in any round", where the metric's own reason (a release without it, a setting) says more."""
    if not len(df):
        return why
    if why is None or why == ALL_NA:
        return metric(column).missing or ALL_NA
    return why


def empty(title: str, why: str | None = None, height: int = HEIGHT) -> go.Figure:
    """A chart with nothing to draw: its title and, in place of blank axes (-1 to 6, or ticks a
    millisecond apart), what is missing and why. Every chart here says it this one way."""
    why = html.escape(why or NOTHING, quote=False)
    fig = go.Figure()
    fig.add_annotation(
        text=f"<b>{NO_DATA}</b><br>{'<br>'.join(textwrap.wrap(why, 60))}",
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font=dict(size=14, color="#555"),
    )
    fig.update_layout(
        title=title, height=height, margin=dict(l=10, r=10, t=40, b=10), xaxis_visible=False, yaxis_visible=False
    )
    return fig


def broken_at_gaps(df: pd.DataFrame) -> pd.DataFrame:
    """The series with an empty row in every gap of more than two buckets, so a line breaks there
    instead of crossing a collector outage (or history still loading) as if data had been there.

    The bucket is the series' most common step; Plotly breaks lines at the empty rows
    (connectgaps=False).
    """
    if len(df) < 3:
        return df
    steps = df["time"].diff()
    step = steps.mode().iloc[0]
    gaps = df.loc[steps > 2 * step, "time"] - step
    if gaps.empty:
        return df
    holes = pd.DataFrame({"time": gaps.to_numpy()}).astype({"time": df["time"].dtype})
    return pd.concat([df, holes], ignore_index=True).sort_values("time", kind="stable", ignore_index=True)


def lines(
    df: pd.DataFrame, columns: dict[str, str], title: str, zone: str, why: str | None = None, unit: str | None = None
) -> go.Figure:
    """One line per column of a cluster series; `columns` maps column -> legend label. The axis
    takes `unit`, else the unit the metric registry gives the first column (a series that is no
    metric, like the statistics passes' sizes, names its own). With no rows, or no value in any
    of the columns, the chart says so instead, and why: the page's `why` (it knows the range and
    what was collected), else what the data shows."""
    first = next(iter(columns))
    if not len(df) or df[list(columns)].isna().all(axis=None):
        return empty(title, _why_na(why, df, first) if unit is None else why or (ALL_NA if len(df) else None))
    unit = unit or unit_of(first)
    fig = go.Figure()
    df = broken_at_gaps(df)
    x = df["time"].dt.tz_convert(zone)
    for column, label in columns.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=df[column],
                name=label,
                mode=_mode(df[column]),
                connectgaps=False,
                hovertemplate=_hover(unit, 2),
            )
        )
    return _layout(fig, title, unit)


DATA_SIZE_TITLE = "Total data size"


def data_size(df: pd.DataFrame, zone: str, why: str | None = None) -> go.Figure:
    """The total data size at each statistics pass (Reader.data_size), in decimal units as the
    cards show it. Passes come minutes to an hour apart, so each is marked: a line alone would draw
    nothing for a range holding one pass, and the hover reads "6.60 TB", not 6.6e12 bytes."""
    fig = lines(df, {"total_data_bytes": "total size"}, DATA_SIZE_TITLE, zone, why, unit="bytes")
    if fig.data:
        fig.update_traces(mode="lines+markers", hovertemplate=f"%{{y:.3s}}B{_HOVER_NAME}")
    return fig


# Event markers: a dotted vertical line per event time, coloured by the worst severity there, and
# one invisible-axis marker per time at the plot's top whose hover lists what happened.
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#e0a800", "info": "#7f7f7f"}
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
MAX_EVENT_LINES = 200  # shapes cost the browser per redraw; past this, the markers alone show the rest


def failures(df: pd.DataFrame, zone: str) -> go.Figure:
    """Failed statements per hour, stacked by error code (Queries page): Plotly like every chart
    here, with hours in the viewer's zone; codes come from the cluster, so they are escaped."""
    fig = go.Figure()
    for code, part in df.groupby("error_code", sort=True):
        fig.add_trace(
            go.Bar(
                x=pd.to_datetime(part["ts"], utc=True).dt.tz_convert(zone),
                y=part["queries"],
                name=_label(str(code)),
                hovertemplate=f"%{{y:,}} failed{_HOVER_NAME}",
            )
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, "Failed statements per hour", "statements")


def spanning(fig: go.Figure, start: float, end: float, zone: str) -> go.Figure:
    """The figure's time axis over the whole range asked for, not just the data in it: a range
    holding one round (a new cluster, history still loading) drew ticks a millisecond apart
    ("00:03:49.9995") around that one point. An empty chart is returned as it is."""
    if fig.data:
        bounds = [pd.Timestamp(t, unit="s", tz="UTC").tz_convert(zone) for t in (start, end)]
        fig.update_xaxes(range=bounds)
    return fig


def _mode(values: pd.Series) -> str:
    """Lines, with markers when a series has a single value: a line of one point draws nothing."""
    return "lines" if values.notna().sum() > 1 else "lines+markers"


def with_events(fig: go.Figure, events: list[dict], zone: str) -> go.Figure:
    """The figure with the events (timeline.events_in rows) marked at their times; an empty chart,
    or one whose range holds no event, is returned as it is. Kinds and subjects come from the
    cluster (node hosts, table names): they are escaped, as `_label` does, never rendered as HTML."""
    if not events or not fig.data:
        return fig
    by_time: dict[float, list[dict]] = {}
    for event in events:
        by_time.setdefault(event["ts"], []).append(event)
    times = sorted(by_time)
    worst = [max((e["severity"] for e in by_time[t]), key=lambda s: _SEVERITY_RANK.get(s, 0)) for t in times]
    x = pd.to_datetime([round(t * 1000) for t in times], unit="ms", utc=True).tz_convert(zone)  # whole ms for Plotly
    texts = ["<br>".join(_label(f"{e['kind']} {e['subject']}".strip()) for e in by_time[t]) for t in times]
    for when, severity in list(zip(x, worst))[-MAX_EVENT_LINES:]:
        fig.add_shape(
            type="line",
            x0=when,
            x1=when,
            xref="x",
            y0=0,
            y1=1,
            yref="paper",
            line=dict(color=SEVERITY_COLORS.get(severity, "#7f7f7f"), width=1, dash="dot"),
            layer="below",
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[1] * len(times),
            yaxis="y9",
            name="events",
            mode="markers",
            marker=dict(symbol="triangle-down", size=9, color=[SEVERITY_COLORS.get(s, "#7f7f7f") for s in worst]),
            text=texts,
            hovertemplate="%{text}<extra>events</extra>",
            showlegend=False,
        )
    )
    fig.update_layout(yaxis9=dict(overlaying="y", range=[0, 1.02], visible=False, fixedrange=True))
    return fig


def node_colors(hosts: list[str]) -> dict[str, str]:
    return {host: PALETTE[i % len(PALETTE)] for i, host in enumerate(sorted(hosts))}


def per_node(
    df: pd.DataFrame, column: str, title: str, zone: str, average: bool = True, why: str | None = None
) -> go.Figure:
    """One line per node (role and host) plus the dashed cluster average, in the column's unit;
    without rows or values, the chart says so instead (see `lines`)."""
    unit = unit_of(column)
    if not len(df) or df[column].isna().all():
        return empty(title, _why_na(why, df, column))
    fig = go.Figure()
    hover = _hover(unit, 1)
    df = df.assign(time=df["time"].dt.tz_convert(zone), node=df["role"] + " " + df["host"])
    colors = node_colors(df["node"].unique().tolist())
    for node, part in df.groupby("node", sort=True):
        part = broken_at_gaps(part)
        fig.add_trace(
            go.Scatter(
                x=part["time"],
                y=part[column],
                name=_label(node),
                mode=_mode(part[column]),
                line=dict(color=colors[node]),
                hovertemplate=hover,
            )
        )
    if average and df["node"].nunique() > 1:
        mean = broken_at_gaps(df.groupby("time", sort=True)[column].mean().reset_index())
        fig.add_trace(
            go.Scatter(
                x=mean["time"],
                y=mean[column],
                name="cluster average",
                mode="lines",
                line=dict(color="#444", dash="dash", width=2),
                hovertemplate=hover,
            )
        )
    return _layout(fig, title, unit)


def _rgba(color: str, alpha: float) -> str:
    """A "#rrggbb" colour with an alpha, for a fill: a trace's opacity would fade its line too."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# The dashed levels on the Capacity chart, with where each label sits: on the left, where the
# history runs below them (the trends reach them on the right), 100 % above its line and the
# others below theirs, so the 95 % and 100 % labels (5 % apart) never overlap.
LEVELS = ((85, "#e0a800", "bottom left"), (95, "#d62728", "bottom left"), (100, "#7f0000", "top left"))
CAPACITY_TITLE = "Disk used: history and forecast"
CAPACITY_HEIGHT = 420


def band_pct(fit) -> float:
    """Half-width of a fit's 95 % band in % of its capacity: on a steady disk it can be narrower
    than the line, which the page then says rather than leave the reader looking for it."""
    return 100 * 1.96 * (fit.residual_sd or 0) / fit.capacity


def capacity(
    history: pd.DataFrame, fits: list, zone: str, horizon_days: float = 60.0, why: str | None = None
) -> go.Figure:
    """Disk used % per BE and for the cluster: the history each line was fitted on, the fitted line
    and its extrapolation with its 95 % band, and the 85 / 95 / 100 % lines (see read.Capacity);
    without history, the chart says so instead (see `lines`)."""
    if not len(history) or history["used_pct"].isna().all():
        return empty(CAPACITY_TITLE, why or (ALL_NA if len(history) else None), CAPACITY_HEIGHT)
    fig = go.Figure()
    colors = node_colors([f.subject for f in fits[1:]])
    colors["cluster"] = "#444444"
    for subject, part in history.groupby("subject", sort=False):
        fig.add_trace(
            go.Scatter(
                x=part["time"].dt.tz_convert(zone),
                y=part["used_pct"],
                name=_label(subject),
                mode="lines",
                line=dict(color=colors.get(subject, "#999"), width=1.5),
                hovertemplate=f"%{{y:.2f}} %{_HOVER_NAME}",
            )
        )
    now = pd.Timestamp.now(tz="UTC").timestamp()
    starts = history.groupby("subject")["time"].min()
    for f in fits:
        if f.slope_per_second is None or f.capacity is None:
            continue
        days = min(horizon_days, (f.days_to_full or horizon_days) + 2) if f.status == "ok" else 7
        ts = np.linspace(starts[f.subject].timestamp(), now + days * 86400, 60)  # from the first point fitted
        line = 100 * (f.intercept + f.slope_per_second * ts) / f.capacity
        band = band_pct(f)
        x = pd.to_datetime(ts, unit="s", utc=True).tz_convert(zone)
        color = colors.get(f.subject, "#999")
        fig.add_trace(
            go.Scatter(
                x=list(x) + list(x[::-1]),
                y=list(line + band) + list((line - band)[::-1]),
                fill="toself",
                fillcolor=_rgba(color, 0.2),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=line,
                name=_label(f"{f.subject} trend"),
                mode="lines",
                line=dict(color=color, dash="dot", width=1.5),
                hovertemplate=f"%{{y:.1f}} %{_HOVER_NAME}",
            )
        )
    for level, color, position in LEVELS:
        fig.add_hline(
            y=level,
            line=dict(color=color, dash="dash", width=1),
            annotation_text=f"{level} %",
            annotation_position=position,
            annotation_font_color=color,
        )
    fig = _layout(fig, CAPACITY_TITLE, "%")
    fig.update_layout(height=CAPACITY_HEIGHT)
    return fig
