"""Cached access to the store for the pages.

Cache keys are small values: cluster id, range bounds rounded to the chart bucket, the
bucket, and the newest snapshot id, so a rerun re-queries only when new data landed.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from starmon import coverage, read, size_history, timeline, wrong_now
from starmon.config import Config, load_config
from starmon.read import Reader, TimeRange
from starmon.secrets import SecretError, Secrets
from starmon.store import Store, StoreError
from starmon.ui.text import plain


@st.cache_resource
def config() -> Config:
    return load_config()


@st.cache_resource
def _store() -> Store:
    return Store(config().db_url)


def store() -> Store:
    """The process's store, or the reason and a stop when its SQLite file was deleted or replaced.

    Every page and the sign-in gate come through here first, so a lost database is said on
    every page rather than read from stale connections until a write fails.
    """
    opened = _store()
    try:
        opened.check_file()
    except StoreError as exc:
        st.error(plain(exc), icon=":material/database_off:")
        st.stop()
    return opened


def reader() -> Reader:
    return Reader(store())


def secrets() -> Secrets:
    """The key for stored passwords, or the reason and a stop when the key or its file is unusable."""
    try:
        return Secrets.from_environment(store().key_file())
    except SecretError as exc:
        st.error(plain(exc), icon=":material/key_off:")
        st.stop()


def newest_id(cluster_id: int) -> int | None:
    """Uncached and cheap: the cache key that moves when the collector writes."""
    return reader().newest_id(cluster_id)


@st.cache_data(ttl="15m", max_entries=256, show_spinner=False)
def series(cluster_id: int, start: float, end: float, columns: tuple[str, ...], newest: int | None) -> pd.DataFrame:
    return reader().series(cluster_id, TimeRange(start, end, ""), list(columns))


@st.cache_data(ttl="15m", max_entries=256, show_spinner=False)
def node_series(
    cluster_id: int, start: float, end: float, columns: tuple[str, ...], role: str | None, newest: int | None
) -> pd.DataFrame:
    return reader().node_series(cluster_id, TimeRange(start, end, ""), list(columns), role)


@st.cache_data(ttl="15m", max_entries=256, show_spinner=False)
def events(cluster_id: int, start: float, end: float, newest: int | None) -> list[dict]:
    """Stored events of the range (timeline.events_in), re-read when a new round lands."""
    return timeline.events_in(reader(), cluster_id, TimeRange(start, end, ""))


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def table_growth(cluster_id: int, start: float, end: float, newest: int | None) -> pd.DataFrame:
    return size_history.table_growth(reader(), cluster_id, TimeRange(start, end, ""))


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def data_size(cluster_id: int, start: float, end: float, newest: int | None) -> pd.DataFrame:
    return size_history.data_size(reader(), cluster_id, TimeRange(start, end, ""))


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def database_sizes(cluster_id: int, ts: float) -> pd.DataFrame:
    """Per-database sizes of one pass: a pass never changes, so its time alone is the key."""
    return size_history.database_sizes(reader(), cluster_id, ts)


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def held(cluster_id: int, start: float, end: float, newest: int | None) -> coverage.Held:
    """What is held of the cluster over a range (coverage.held), re-read when a new round lands."""
    return coverage.held(store(), cluster_id, start, end)


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def health(cluster_id: int, start: float, end: float, newest: int | None) -> read.Health:
    """The cards as of the range's end (read.health_at), re-read when a new round lands."""
    return read.health_at(reader(), cluster_id, TimeRange(start, end, ""), config().cards)


def problems(cluster: dict, state: read.Health, tr: TimeRange) -> list[wrong_now.Problem]:
    """What is wrong at the range's end (wrong_now.problems). Not cached: the alert evaluation
    runs just after a round is stored, so a list cached with the round could miss its alerts."""
    return wrong_now.problems(reader(), cluster, state, config(), tr, time.time())


@st.cache_data(ttl="15m", max_entries=64, show_spinner=False)
def forecast(cluster_id: int, window_days: float, newest: int | None) -> read.Capacity:
    """The disk-full forecast (headline, every fit, the history fitted), recomputed when a new round lands."""
    return read.forecast(reader(), cluster_id, window_days)
