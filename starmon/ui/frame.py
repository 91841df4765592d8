"""The frame around every page: cluster picker, time range, refresh, freshness, demo banner.

The cluster and range live in the URL (`?cluster=prod&range=24h`) so a link can be shared.
Unknown or hostile values get a friendly message and a sane default, never a traceback.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from starmon import clusters as registry
from starmon.read import DEFAULT_RANGE, RANGES, TimeRange, parse_range
from starmon.round import collect_now
from starmon.ui import auth, loaders
from starmon.ui.text import plain

REFRESH_COOLDOWN_SECONDS = 10
_RANGE_OPTIONS = list(RANGES) + ["custom"]


@dataclass(frozen=True)
class Selection:
    """What every page shows: one cluster (a clusters-table row) over one time range."""

    cluster: dict | None
    range: TimeRange
    auto_refresh: bool


def _anchored(tr: TimeRange) -> TimeRange:
    """Round a relative range up to its bucket so reruns within a bucket share cache entries."""
    if tr.label == "custom":
        return tr
    end = math.ceil(tr.end / tr.bucket) * tr.bucket
    return TimeRange(end - RANGES[tr.label], end, tr.label)


def _cluster_picker(clusters: list[dict]) -> dict | None:
    names = [c["name"] for c in clusters]
    asked = st.query_params.get("cluster")
    if asked is not None and asked not in names:
        st.session_state.pop("cluster", None)
        st.toast(f"No cluster named “{plain(asked[:80])}”; showing {plain(names[0]) if names else 'nothing'}.")
        st.sidebar.warning(f"Unknown cluster in the link: {plain(asked[:80])}")
    if not names:
        return None
    name = st.sidebar.selectbox("Cluster", names, key="cluster", bind="query-params")
    return next(c for c in clusters if c["name"] == name)


def _range_picker() -> TimeRange:
    asked = st.query_params.get("range")
    if asked not in (None, "") and asked not in _RANGE_OPTIONS:  # `?range=` just means the default
        st.sidebar.warning(f"Unknown range in the link: {plain(asked[:40])}; showing {DEFAULT_RANGE}.")
        st.session_state.pop("range", None)
    label = (
        st.sidebar.segmented_control(
            "Time range", _RANGE_OPTIONS, default=DEFAULT_RANGE, key="range", bind="query-params", required=True
        )
        or DEFAULT_RANGE
    )
    now = time.time()
    if label != "custom":
        return _anchored(parse_range(label, now))
    today = datetime.now(UTC).date()
    link = (st.query_params.get("start"), st.query_params.get("end"))  # before the widgets drop bad ones
    start = st.sidebar.date_input("From", today - timedelta(days=7), max_value=today, key="start", bind="query-params")
    end = st.sidebar.date_input("To (inclusive)", today, max_value=today, key="end", bind="query-params")
    if link != st.session_state.get("link_dates"):  # judge each link once, not a URL older than an edit
        st.session_state["link_dates"] = link
        for key, text, shown in (("start", link[0], start), ("end", link[1], end)):
            if text and not _same_day(text, shown):
                st.sidebar.warning(
                    f"Ignored {key}={plain(text[:40])} in the link: use a date like 2026-11-24, no later than today."
                )
    if not isinstance(start, date) or not isinstance(end, date):
        st.sidebar.warning("Pick both dates; showing the last 24 hours meanwhile.")
        return _anchored(parse_range(DEFAULT_RANGE, now))
    try:
        return parse_range("custom", now, start.isoformat(), (end + timedelta(days=1)).isoformat())
    except ValueError as exc:
        st.sidebar.warning(f"{exc}; showing the last 24 hours.")
        return _anchored(parse_range(DEFAULT_RANGE, now))


def _same_day(text: str, day: object) -> bool:
    """Whether a URL date (read as Streamlit's date_input reads it) is the day the widget shows."""
    for fmt in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date() == day
        except ValueError:
            continue
    return False


def ago(seconds: float) -> str:
    """`12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`."""
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def freshness(cluster: dict) -> None:
    """Badge: when the last good snapshot was collected, and 'stale' past 3 intervals.

    Drawn in its own fragment that reruns every interval, whatever the auto-refresh toggle
    says: an age frozen at page load ("collected 3 s ago") would hide a collector that stopped.
    """
    good = loaders.reader().last_good(cluster["id"])
    if good is None:
        st.badge("no data collected yet", color="gray", icon=":material/hourglass_empty:")
        return
    age = time.time() - good["ts"]
    stale = age > 3 * loaders.config().interval_seconds
    st.badge(
        f"{'stale: ' if stale else ''}collected {ago(age)}",
        color="orange" if stale else "green",
        icon=":material/warning:" if stale else ":material/schedule:",
    )


def _refresh(cluster: dict) -> None:
    """Collect this cluster right now, at most once per cooldown, and redraw."""
    newest = loaders.reader().latest(cluster["id"])
    if newest and time.time() - newest["ts"] < REFRESH_COOLDOWN_SECONDS:
        wait = REFRESH_COOLDOWN_SECONDS - (time.time() - newest["ts"])
        st.sidebar.info(f"Collected {ago(time.time() - newest['ts'])}; refresh again in {math.ceil(wait)} s.")
        return
    config, store = loaders.config(), loaders.store()
    with st.sidebar.status("Collecting from the cluster…") as status:
        targets = [
            c for cid, c in registry.collectable(store, loaders.secrets(), config.clusters) if cid == cluster["id"]
        ]
        if not targets:
            status.update(
                label=plain(f"Not collected: its {registry.UNDECRYPTABLE}.")
                if _locked(cluster)
                else "This cluster is disabled; enable it on the Clusters page.",
                state="error",
            )
            return
        result = collect_now(store, config, cluster["id"], targets[0])
        status.update(label=f"{result.status} in {result.collect_ms} ms", state="complete")
    st.rerun()


def sidebar() -> Selection:
    """Draw the frame's controls and return the selection the pages read."""
    st.sidebar.title("starmon")
    clusters = [c for c in loaders.reader().clusters() if c["enabled"]]
    cluster = _cluster_picker(clusters)
    tr = _range_picker()
    auto = st.sidebar.toggle(
        "Auto-refresh",
        value=True,
        key="auto_refresh",
        help="Redraw cards and charts when the collector stores a new round.",
    )
    if cluster is not None:
        if st.sidebar.button(
            "Refresh now",
            icon=":material/refresh:",
            key="refresh",
            help=f"Collect from the cluster now (at most every {REFRESH_COOLDOWN_SECONDS} s).",
        ):
            _refresh(cluster)
        with st.sidebar:
            live(freshness, every=loaders.config().interval_seconds)(cluster)
        if cluster["tls"] and not cluster["tls_verify"]:
            st.warning(
                f"The FE certificate of {plain(cluster['name'])} is not verified: its numbers could come "
                "from anyone on the network path.",
                icon=":material/gpp_maybe:",
            )
        if cluster["source"] == "demo":
            with st.container(border=True):
                st.markdown(
                    ":material/science: You are looking at **demo**, a StarRocks cluster emulated by "
                    "starmon with a week of replayed history. Add your own cluster and the demo stops."
                )
                if "clusters" in st.session_state["pages"]:
                    st.page_link(
                        st.session_state["pages"]["clusters"],
                        label="Add a cluster on the Clusters page",
                        icon=":material/add_circle:",
                    )
    selection = Selection(cluster, tr, auto)
    st.session_state["selection"] = selection
    return selection


def current() -> Selection:
    """The selection the frame made on this run."""
    return st.session_state["selection"]


def require_cluster() -> Selection:
    """The selection, or an explanation of what to do and a stop when there is nothing to show."""
    selection = current()
    if selection.cluster is None:
        if "clusters" in st.session_state["pages"]:
            st.info(
                "No cluster is configured yet. Add one on the **Clusters** page, or declare it in "
                "`starmon.toml` and run `python collector.py` (see the README).",
                icon=":material/info:",
            )
            st.page_link(st.session_state["pages"]["clusters"], label="Go to Clusters", icon=":material/dns:")
        else:  # a viewer: the Clusters page is not theirs
            st.info("No cluster is configured yet. An admin can add one on the Clusters page.", icon=":material/info:")
        st.stop()
    if _locked(selection.cluster):  # said before anything else: its numbers stop at the last round
        st.error(
            plain(f"{selection.cluster['name']} is not being collected: its {registry.UNDECRYPTABLE}."),
            icon=":material/key_off:",
        )
    if loaders.newest_id(selection.cluster["id"]) is None:
        st.info(
            f"No data collected yet for {plain(selection.cluster['name'])}. The collector stores a round "
            f"every {loaders.config().interval_seconds} s; press **Refresh now** to collect one immediately.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return selection


def _locked(cluster: dict) -> bool:
    """Whether the current key cannot decrypt the cluster's stored password (a changed key)."""
    return bool(registry.undecryptable([cluster], loaders.secrets()))


def page(title: str) -> Selection:
    """Start a cluster page: its heading, or the empty state and a stop."""
    selection = require_cluster()
    st.header(f"{title} · {plain(selection.cluster['name'])}")
    return selection


def live_range() -> TimeRange:
    """The selected range as of now. Fragments redraw without rerunning the frame, so a
    relative range ("last 24h") must slide forward at every redraw; custom dates stay put."""
    return slide(current().range, time.time())


def slide(tr: TimeRange, now: float) -> TimeRange:
    """The same relative range ending at `now` (rounded up to its bucket); custom ranges as they are."""
    return tr if tr.label == "custom" else _anchored(parse_range(tr.label, now))


def run_every() -> int | None:
    """How often fragments redraw: the collection interval when auto-refresh is on."""
    return loaders.config().interval_seconds if current().auto_refresh else None


def live(draw: Callable[..., None], every: int | None = None) -> Callable[..., None]:
    """`draw` as a fragment redrawing every `every` seconds (default: run_every()), the account
    checked again at each redraw, since a fragment's own rerun does not pass the sign-in gate."""

    def checked(*args, **kwargs) -> None:
        auth.recheck()
        draw(*args, **kwargs)

    return st.fragment(functools.wraps(draw)(checked), run_every=every if every is not None else run_every())


def zone() -> str:
    """The viewer's time zone as the browser reports it, else UTC."""
    name = st.context.timezone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def local_time(ts: float) -> str:
    """Clock time in the viewer's zone, for sentences such as "BE 10.0.0.3 down since Nov 25 14:02"."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone())).strftime("%b %d %H:%M")
