"""Plotly figures from bucketed DataFrames (pure: DataFrame in, Figure out)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from starmon.columns import unit_of

# One colour per node, stable across charts: nodes are coloured by their sorted position.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_UNIT_SUFFIX = {"%": " %", "ms": " ms", "queries/s": "/s", "requests/s": "/s", "bytes": " B"}
# Hover boxes name their trace through this, so a node's name is never read as a hover template.
_HOVER_NAME = "<extra>%{fullData.name}</extra>"


def _label(name: str) -> str:
    """A trace name from a cluster (node host) as text: Plotly renders <a>, <b>, ... in names."""
    return html.escape(name, quote=False)


def _layout(fig: go.Figure, title: str, unit: str) -> go.Figure:
    fig.update_layout(
        title=title,
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        hovermode="x unified",
        legend=dict(orientation="h", y=-0.2),
        yaxis_title=unit or None,
    )
    if unit == "%":
        fig.update_yaxes(rangemode="tozero")
    if unit == "bytes":
        fig.update_yaxes(tickformat=".3s", ticksuffix="B")
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


def lines(df: pd.DataFrame, columns: dict[str, str], title: str, zone: str) -> go.Figure:
    """One line per column of a cluster series; `columns` maps column -> legend label. The axis
    takes the unit the metric registry gives the first column."""
    unit = unit_of(next(iter(columns)))
    fig = go.Figure()
    df = broken_at_gaps(df)
    x = df["time"].dt.tz_convert(zone) if len(df) else []
    for column, label in columns.items():
        fig.add_trace(
            go.Scatter(
                x=x,
                y=df[column] if len(df) else [],
                name=label,
                mode="lines",
                connectgaps=False,
                hovertemplate=f"%{{y:,.2f}}{_UNIT_SUFFIX.get(unit, '')}{_HOVER_NAME}",
            )
        )
    return _layout(fig, title, unit)


def node_colors(hosts: list[str]) -> dict[str, str]:
    return {host: PALETTE[i % len(PALETTE)] for i, host in enumerate(sorted(hosts))}


def per_node(df: pd.DataFrame, column: str, title: str, zone: str, average: bool = True) -> go.Figure:
    """One line per node (role and host) plus the dashed cluster average, in the column's unit."""
    unit = unit_of(column)
    fig = go.Figure()
    if len(df):
        df = df.assign(time=df["time"].dt.tz_convert(zone), node=df["role"] + " " + df["host"])
        colors = node_colors(df["node"].unique().tolist())
        for node, part in df.groupby("node", sort=True):
            part = broken_at_gaps(part)
            fig.add_trace(
                go.Scatter(
                    x=part["time"],
                    y=part[column],
                    name=_label(node),
                    mode="lines",
                    line=dict(color=colors[node]),
                    hovertemplate=f"%{{y:,.1f}}{_UNIT_SUFFIX.get(unit, '')}{_HOVER_NAME}",
                )
            )
        if average and df["node"].nunique() > 1:
            mean = df.groupby("time", sort=True)[column].mean()
            fig.add_trace(
                go.Scatter(
                    x=mean.index,
                    y=mean.values,
                    name="cluster average",
                    mode="lines",
                    line=dict(color="#444", dash="dash", width=2),
                )
            )
    return _layout(fig, title, unit)


def capacity(history: pd.DataFrame, fits: list, zone: str, horizon_days: float = 60.0) -> go.Figure:
    """Disk used % per BE and for the cluster: the history each line was fitted on, the fitted line
    and its extrapolation with a band, and the 85 / 95 / 100 % lines (see read.Capacity)."""
    fig = go.Figure()
    colors = node_colors([f.subject for f in fits[1:]])
    colors["cluster"] = "#444"
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
        band = 100 * 1.96 * (f.residual_sd or 0) / f.capacity
        x = pd.to_datetime(ts, unit="s", utc=True).tz_convert(zone)
        color = colors.get(f.subject, "#999")
        fig.add_trace(
            go.Scatter(
                x=list(x) + list(x[::-1]),
                y=list(line + band) + list((line - band)[::-1]),
                fill="toself",
                fillcolor=color,
                opacity=0.12,
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
    for level, color in ((85, "#e0a800"), (95, "#d62728"), (100, "#7f0000")):
        fig.add_hline(
            y=level,
            line=dict(color=color, dash="dash", width=1),
            annotation_text=f"{level} %",
            annotation_position="top left",
        )
    fig = _layout(fig, "Disk used: history and forecast", "%")
    fig.update_layout(height=420)
    return fig
