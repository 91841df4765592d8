"""Overview: is the cluster healthy right now, and what is wrong?"""

import time

import streamlit as st

from starmon.ui import frame, loaders, widgets

cluster = frame.page("Overview").cluster


@frame.live
def overview() -> None:
    tr = frame.live_range()
    cards, newest = loaders.config().cards, loaders.newest_id(cluster["id"])
    state = loaders.health(cluster["id"], tr.start, tr.end, newest)
    snapshot = state.snapshot
    if snapshot is None:
        st.info(f"No round was collected by the end of {tr.phrase}.", icon=":material/hourglass_empty:")
        return
    live = tr.reaches(time.time())
    since = frame.deltas_since(state.since, tr)
    when = (
        frame.fresh(cluster).sentence.rstrip(".")
        if live
        else f"As of the range's last round, {frame.local_time(snapshot['ts'])}"
    )
    first = f", the first round in {tr.phrase}" if since.startswith("since") else ""
    st.caption(f"{when}; deltas {since}{first}.")
    spark = {c.key: c.spark_column(snapshot) for c in cards if c.spark_column(snapshot)}
    trend = loaders.series(cluster["id"], tr.start, tr.end, tuple(spark.values()), newest)
    step = max(1, len(trend) // 80)
    sparks = {key: trend[column].iloc[::step].dropna().tolist() for key, column in spark.items() if len(trend)}
    widgets.cards(state.cards, sparks, since, cards)
    window = loaders.config().forecast_window_days
    widgets.forecast_card(loaders.forecast(cluster["id"], window, newest).headline, window)
    if not live:
        st.caption("The forecast is as of now; the cards and the list below are as of the range's end.")
    st.subheader("What is wrong now" if live else f"What was wrong at {frame.local_time(snapshot['ts'])}")
    widgets.problems(loaders.problems(cluster, state, tr), frame.local_time, live)


overview()
