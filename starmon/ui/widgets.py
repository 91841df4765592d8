"""Page building blocks: health cards, the problem list and downloadable tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from starmon import health
from starmon.ui.text import plain

_DOT = {health.OK: ":green[●]", health.WARNING: ":orange[●]", health.CRITICAL: ":red[●]",
        health.UNKNOWN: ":gray[●]"}


def cards(values: list[health.CardValue], sparks: dict[str, list], range_text: str,
          table: tuple[health.Card, ...]) -> None:
    """A wrapping row of bordered metric cards: value, status colour, delta over the range, sparkline."""
    bad = {c.key: c.bad for c in table}
    with st.container(horizontal=True):
        for v in values:
            delta = None if v.delta is None else round(v.delta, 2)
            st.metric(f"{_DOT[v.status]} {v.title}", v.display, delta=delta,
                      delta_color="inverse" if bad.get(v.key) == "high" else "normal",
                      delta_description=f"over {range_text}" if delta is not None else None,
                      help=f"{v.help} Status: {v.status}.", border=True, chart_data=sparks.get(v.key),
                      width=220)


def problems(found: list[tuple[str, str]]) -> None:
    """What is wrong now, worst first; text from the cluster is shown literally."""
    if not found:
        st.success("Nothing is wrong right now.", icon=":material/check_circle:")
        return
    for status, sentence in found:
        (st.error if status == health.CRITICAL else st.warning)(plain(sentence))


def table(df: pd.DataFrame, name: str, **kwargs) -> None:
    """A dataframe with a CSV download beside it."""
    st.dataframe(df, hide_index=True, **kwargs)
    st.download_button("Download CSV", df.to_csv(index=False).encode(), file_name=f"{name}.csv",
                       mime="text/csv", key=f"csv-{name}", icon=":material/download:")
