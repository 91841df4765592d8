"""Plotly figures from bucketed DataFrames (pure: DataFrame in, Figure out)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# One colour per node, stable across charts: nodes are coloured by their sorted position.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
_UNIT_SUFFIX = {"%": " %", "ms": " ms", "queries/s": "/s", "requests/s": "/s", "bytes": " B"}


def _layout(fig: go.Figure, title: str, unit: str) -> go.Figure:
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40, b=10), hovermode="x unified",
                      legend=dict(orientation="h", y=-0.2), yaxis_title=unit or None)
    if unit == "%":
        fig.update_yaxes(rangemode="tozero")
    if unit == "bytes":
        fig.update_yaxes(tickformat=".3s", ticksuffix="B")
    return fig


def lines(df: pd.DataFrame, columns: dict[str, str], title: str, unit: str, zone: str) -> go.Figure:
    """One line per column of a cluster series; `columns` maps column -> legend label."""
    fig = go.Figure()
    x = df["time"].dt.tz_convert(zone) if len(df) else []
    for column, label in columns.items():
        fig.add_trace(go.Scatter(x=x, y=df[column] if len(df) else [], name=label, mode="lines",
                                 connectgaps=False,
                                 hovertemplate=f"%{{y:,.2f}}{_UNIT_SUFFIX.get(unit, '')}<extra>{label}</extra>"))
    return _layout(fig, title, unit)


def node_colors(hosts: list[str]) -> dict[str, str]:
    return {host: PALETTE[i % len(PALETTE)] for i, host in enumerate(sorted(hosts))}


def per_node(df: pd.DataFrame, column: str, title: str, unit: str, zone: str, average: bool = True) -> go.Figure:
    """One line per node (role and host) plus the dashed cluster average."""
    fig = go.Figure()
    if len(df):
        df = df.assign(time=df["time"].dt.tz_convert(zone), node=df["role"] + " " + df["host"])
        colors = node_colors(df["node"].unique().tolist())
        for node, part in df.groupby("node", sort=True):
            fig.add_trace(go.Scatter(x=part["time"], y=part[column], name=node, mode="lines",
                                     line=dict(color=colors[node]),
                                     hovertemplate=f"%{{y:,.1f}}{_UNIT_SUFFIX.get(unit, '')}<extra>{node}</extra>"))
        if average and df["node"].nunique() > 1:
            mean = df.groupby("time", sort=True)[column].mean()
            fig.add_trace(go.Scatter(x=mean.index, y=mean.values, name="cluster average", mode="lines",
                                     line=dict(color="#444", dash="dash", width=2)))
    return _layout(fig, title, unit)
