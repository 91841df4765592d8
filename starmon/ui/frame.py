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

from starmon import alert_store, demo
from starmon import clusters as registry
from starmon.freshness import Freshness, ago, freshness
from starmon.read import DEFAULT_RANGE, RANGES, TimeRange, anchored, parse_range
from starmon.round import REFRESH_COOLDOWN_SECONDS, collect_now
from starmon.ui import auth, loaders
from starmon.ui.text import plain

_RANGE_OPTIONS = list(RANGES) + ["custom"]


@dataclass(frozen=True)
class Selection:
    """What every page shows: one cluster (a clusters-table row) over one time range."""

    cluster: dict | None
    range: TimeRange
    auto_refresh: bool


def _cluster_picker(clusters: list[dict]) -> dict | None:
    names = [c["name"] for c in clusters]
    asked = st.query_params.get("cluster")
    if asked is not None and asked not in names:
        st.session_state.pop("cluster", None)
        shown = f"showing {plain(names[0])}" if names else "no cluster is configured"
        st.sidebar.warning(f"Unknown cluster in the link: {plain(asked[:80])}; {shown}.")
    if not names:
        return None
    # Not bound to the address: a bound widget leaves its default out of it, and a copied link
    # must name the cluster, or it shows another one once a cluster sorting first is added.
    name = st.sidebar.selectbox("Cluster", names, index=names.index(asked) if asked in names else 0, key="cluster")
    st.query_params["cluster"] = name
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
        return anchored(parse_range(label, now))
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
        return anchored(parse_range(DEFAULT_RANGE, now))
    try:
        return parse_range("custom", now, start.isoformat(), (end + timedelta(days=1)).isoformat())
    except ValueError as exc:
        st.sidebar.warning(f"{exc}; showing the last 24 hours.")
        return anchored(parse_range(DEFAULT_RANGE, now))


def _same_day(text: str, day: object) -> bool:
    """Whether a URL date (read as Streamlit's date_input reads it) is the day the widget shows."""
    for fmt in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date() == day
        except ValueError:
            continue
    return False


def fresh(cluster: dict) -> Freshness:
    """How current the cluster's numbers are (starmon.freshness): the badge and the Overview say it alike."""
    reader = loaders.reader()
    return freshness(
        reader.latest(cluster["id"]),
        reader.last_good(cluster["id"]),
        loaders.config().interval_seconds,
        time.time(),
        local_time,
    )


_BADGE = {
    "fresh": ("green", ":material/schedule:"),
    "stale": ("orange", ":material/warning:"),
    "down": ("red", ":material/cloud_off:"),
    "none": ("gray", ":material/hourglass_empty:"),
}


def freshness_badge(cluster: dict) -> None:
    """Badge: when the newest round was collected, stale past 3 intervals, down when it found nothing.

    Drawn in its own fragment that reruns every interval, whatever the auto-refresh toggle
    says: an age frozen at page load ("collected 3 s ago") would hide a collector that stopped.
    """
    state = fresh(cluster)
    color, icon = _BADGE[state.level]
    st.badge(state.label, color=color, icon=icon)


def firing_alerts() -> None:
    """How many alerts fire now, over every cluster, linked to the Alerts page; nothing when none.

    In its own fragment, redrawn every interval like the freshness badge: a count frozen at page
    load would hide an alert that fired since.
    """
    count = alert_store.firing_count(loaders.store())
    if count:
        st.page_link(
            st.session_state["pages"]["alerts"],
            label=f"{count} alert{'' if count == 1 else 's'} firing",
            icon=":material/notifications_active:",
        )


def history_progress(cluster: dict) -> None:
    """While a cluster's past is still being replayed: how far along, redrawn every 2 s; then
    the whole page once more, so every chart, card and delta has the history it was missing."""
    fraction = demo.history_loading(cluster["id"])
    if fraction is None:
        st.rerun()
    st.progress(
        fraction,
        text=f"Loading {demo.HISTORY_DAYS} days of history for {plain(cluster['name'])}: {fraction:.0%}. "
        "Charts, sparklines and deltas fill in as it loads.",
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


def _demo_banner(here: st.Page) -> None:
    """Say that the cluster is the emulated demo, and where to add a real one (unless already there)."""
    clusters_page = st.session_state["pages"].get("clusters")
    on_clusters = clusters_page is not None and here.url_path == clusters_page.url_path
    with st.container(border=True):
        st.markdown(
            ":material/science: You are looking at **demo**, a StarRocks cluster emulated by "
            "starmon with a week of replayed history. "
            + (
                "Add your own cluster below and the demo stops."
                if on_clusters
                else "Add your own cluster and the demo stops."
            )
        )
        if clusters_page is not None and not on_clusters:
            st.page_link(clusters_page, label="Add a cluster on the Clusters page", icon=":material/add_circle:")


def _on_fleet(here: st.Page) -> bool:
    """Whether `here` is the Fleet, which shows every cluster and so picks none.

    A link naming a cluster (`/?cluster=prod`, from before the Fleet was the landing page) still
    opens that cluster's Overview when it is the first page of the visit.
    """
    fleet = st.session_state["pages"].get("fleet")
    if fleet is None or here.url_path != fleet.url_path:
        return False
    if "cluster" in st.query_params and "selection" not in st.session_state:  # it says if it knows none
        st.switch_page(st.session_state["pages"]["overview"], query_params=st.query_params.to_dict())
    st.query_params.pop("cluster", None)
    return True


def sidebar(here: st.Page) -> Selection:
    """Draw the frame's controls (around the page `here`) and return the selection the pages read."""
    st.sidebar.title("starmon")
    clusters = [c for c in loaders.reader().clusters() if c["enabled"]]
    cluster = None if _on_fleet(here) else _cluster_picker(clusters)
    tr = _range_picker()
    auto = st.sidebar.toggle(
        "Auto-refresh",
        value=True,
        key="auto_refresh",
        help="Redraw cards and charts when the collector stores a new round.",
    )
    st.sidebar.toggle(
        "Events on charts",
        value=True,
        key="show_events",
        help="Mark restarts, nodes down, leader moves and other events on every time chart.",
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
            live(freshness_badge, every=loaders.config().interval_seconds)(cluster)
        if cluster["tls"] and not cluster["tls_verify"]:
            st.warning(
                f"The FE certificate of {plain(cluster['name'])} is not verified: its numbers could come "
                "from anyone on the network path.",
                icon=":material/gpp_maybe:",
            )
        if cluster["source"] == "demo":
            _demo_banner(here)
    with st.sidebar:
        live(firing_alerts, every=loaders.config().interval_seconds)()
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
    if demo.history_loading(selection.cluster["id"]) is not None:
        live(history_progress, every=2)(selection.cluster)
    return selection


def live_range() -> TimeRange:
    """The selected range as of now. Fragments redraw without rerunning the frame, so a
    relative range ("last 24h") must slide forward at every redraw; custom dates stay put."""
    return slide(current().range, time.time())


def slide(tr: TimeRange, now: float) -> TimeRange:
    """The same relative range ending at `now` (rounded up to its bucket); custom ranges as they are."""
    return tr if tr.label == "custom" else anchored(parse_range(tr.label, now))


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


def marks(cluster_id: int, tr: TimeRange, newest: int | None) -> list[dict]:
    """The events to mark on the page's time charts: those of the range, or none when the sidebar's
    toggle hides them."""
    if not st.session_state.get("show_events", True):
        return []
    return loaders.events(cluster_id, tr.start, tr.end, newest)


def zone() -> str:
    """The viewer's time zone as the browser reports it, else UTC."""
    name = st.context.timezone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def deltas_since(since: float | None, tr: TimeRange) -> str:
    """What the cards' deltas are measured over: the range, or the time of its first round when
    that came well after the range began (a new cluster, a collector outage, history loading)."""
    if since is not None and since - tr.start > 2 * tr.bucket:
        return f"since {local_time(since)}"
    return f"over {tr.phrase}"


def local_time(ts: float) -> str:
    """Clock time in the viewer's zone, for sentences such as "BE 10.0.0.3 down since Nov 25 14:02"."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone())).strftime("%b %d %H:%M")
