"""Page building blocks: health cards, the problem list and downloadable tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from starmon import export, forecast, health
from starmon.ui.text import plain

_DOT = {health.OK: ":green[●]", health.WARNING: ":orange[●]", health.CRITICAL: ":red[●]", health.UNKNOWN: ":gray[●]"}


def cards(
    values: list[health.CardValue], sparks: dict[str, list], range_text: str, table: tuple[health.Card, ...]
) -> None:
    """A wrapping row of bordered metric cards: value, status colour, delta over the range, sparkline."""
    bad = {c.key: c.bad for c in table}
    with st.container(horizontal=True):
        for v in values:
            delta = None if v.delta is None else round(v.delta, 2)
            st.metric(
                f"{_DOT[v.status]} {v.title}",
                v.display,
                delta=delta,
                delta_color="inverse" if bad.get(v.key) == "high" else "normal",
                delta_description=f"over {range_text}" if delta is not None else None,
                help=f"{v.help} Status: {v.status}.",
                border=True,
                chart_data=sparks.get(v.key),
                width=220,
            )


def problems(found: list[tuple[str, str]], live: bool = True) -> None:
    """What is (or, for a past range, was) wrong, worst first; text from the cluster is shown literally."""
    if not found:
        st.success("Nothing is wrong right now." if live else "Nothing was wrong then.", icon=":material/check_circle:")
        return
    for status, sentence in found:
        (st.error if status == health.CRITICAL else st.warning)(plain(sentence))


def table(df: pd.DataFrame, name: str, **kwargs) -> None:
    """A dataframe with a CSV download beside it."""
    st.dataframe(df, hide_index=True, **kwargs)
    st.download_button(
        "Download CSV",
        export.to_csv(df),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        icon=":material/download:",
    )


def forecast_card(lead: dict, window_days: float) -> None:
    """The disk-full forecast in one line, led by the first BE to fill."""
    text = forecast.describe(lead)
    status = lead["status"]
    days = lead.get("days_to_95")
    color = (
        "red"
        if status == "above_threshold" or (days is not None and days < 7)
        else "orange"
        if days is not None and days < 30
        else "green"
        if status == "ok"
        else "gray"
    )
    value = f"~{days:.0f} days" if status == "ok" else status.replace("_", " ")
    st.metric(
        f":{color}[●] Disk 95 % forecast",
        value,
        border=True,
        width=460,
        help=f"Linear fit of used bytes over the last {window_days:g} days, per BE and for the cluster; "
        "the first BE to reach 95 % leads. ± is the 95 % prediction interval.",
    )
    st.caption(plain(text))
