"""Overview: is the cluster healthy right now, and what is wrong?"""

import time

import streamlit as st

from starmon import health
from starmon.ui import frame, loaders, widgets

cluster = frame.page("Overview").cluster


@st.fragment(run_every=frame.run_every())
def overview() -> None:
    tr = frame.live_range()
    reader, cards = loaders.reader(), loaders.config().cards
    snapshot = reader.latest(cluster["id"])
    st.caption(f"Collected {frame.local_time(snapshot['ts'])} ({frame.ago(time.time() - snapshot['ts'])}); "
               f"deltas over {tr.phrase}.")
    spark = {c.key: c.spark_column(snapshot) for c in cards if c.spark_column(snapshot)}
    trend = loaders.series(cluster["id"], tr.start, tr.end, tuple(spark.values()),
                           loaders.newest_id(cluster["id"]))
    step = max(1, len(trend) // 80)
    sparks = {key: trend[column].iloc[::step].dropna().tolist() for key, column in spark.items() if len(trend)}
    values = health.cards(snapshot, reader.first_in(cluster["id"], tr), cards)
    widgets.cards(values, sparks, tr.phrase, cards)
    lead, _ = loaders.forecast(cluster["id"], loaders.config().forecast_window_days, loaders.newest_id(cluster["id"]))
    widgets.forecast_card(lead, loaders.config().forecast_window_days)
    st.subheader("What is wrong now")
    widgets.problems(health.problems(snapshot, reader.dead_nodes(cluster["id"], snapshot), cards,
                                     frame.local_time))


overview()
