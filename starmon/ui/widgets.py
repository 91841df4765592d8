"""Page building blocks: health cards, the problem list and downloadable tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from starmon import export, forecast, health, wrong_now
from starmon.ui.text import plain

_DOT = {health.OK: ":green[●]", health.WARNING: ":orange[●]", health.CRITICAL: ":red[●]", health.UNKNOWN: ":gray[●]"}


CARD_HEIGHT = 190  # px: every card as tall as one with a sparkline, so a row stays even
CARD_WIDTH = 220
_SPARK_SIZE = (188, 44)  # px inside a card's padding


def sparkline_svg(values: list[float], size: tuple[int, int] = _SPARK_SIZE) -> str | None:
    """A sparkline as a small SVG polyline scaled to its own range; None with fewer than two points.

    Drawn by us rather than by st.metric's chart_data: Streamlit's Vega charts log two
    "Infinite extent" warnings each on every page load (they render before their data arrives).
    """
    if len(values) < 2:
        return None
    width, height = size
    low, high = min(values), max(values)
    y = (lambda v: height / 2) if high == low else (lambda v: height - 1 - (v - low) / (high - low) * (height - 2))
    points = " ".join(f"{1 + i * (width - 2) / (len(values) - 1):.1f},{y(v):.1f}" for i, v in enumerate(values))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<polyline fill="none" stroke="#4a7ab5" stroke-width="1.5" points="{points}"/></svg>'
    )


def cards(values: list[health.CardValue], sparks: dict[str, list], since: str, table: tuple[health.Card, ...]) -> None:
    """A wrapping row of bordered cards: value, status colour, delta since `since`, sparkline."""
    bad = {c.key: c.bad for c in table}
    with st.container(horizontal=True):
        for v in values:
            delta = v.delta_text
            moved = delta is not None and delta[0] in "+-"
            with st.container(border=True, width=CARD_WIDTH, height=CARD_HEIGHT, key=f"card-{v.key}"):
                st.metric(
                    f"{_DOT[v.status]} {v.title}",
                    v.display,
                    delta=delta,
                    delta_color=("inverse" if bad.get(v.key) == "high" else "normal") if moved else "off",
                    delta_arrow="auto" if moved else "off",
                    delta_description=since if delta is not None else None,
                    help=f"{v.help} Status: {v.status}.",
                )
                svg = sparkline_svg(sparks.get(v.key) or [])
                if svg:
                    st.image(svg)


def problems(found: list[wrong_now.Problem], when: Callable[[float], str], live: bool = True) -> None:
    """What is (or, for a past range, was) wrong, worst first, each with its alert's state; text
    from the cluster is shown literally."""
    if not found:
        st.success("Nothing is wrong right now." if live else "Nothing was wrong then.", icon=":material/check_circle:")
        return
    for problem in found:
        (st.error if problem.severity == health.CRITICAL else st.warning)(plain(problem.sentence(when)))


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
    value = f"~{forecast.estimate(days)[0]}" if status == "ok" else status.replace("_", " ")
    st.metric(
        f":{color}[●] Disk 95 % forecast",
        value,
        border=True,
        width=460,
        help=f"Linear fit of used bytes over the last {window_days:g} days, per BE and for the cluster; "
        "the first BE to reach 95 % leads. ± is the 95 % prediction interval.",
    )
    st.caption(plain(text))
