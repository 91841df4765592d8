"""The Fleet page's pieces: the cached fleet read, the clusters that need attention, the ranked table.

Every cluster's numbers come from one `starmon.fleet.Fleet.read` (a fixed number of queries for
any number of clusters), cached until any cluster stores a new round. Names from clusters are
shown as text (`plain`, or table cells, which Streamlit never renders as markdown).
"""

from __future__ import annotations

import time

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from starmon import fleet, schema
from starmon.forecast import estimate
from starmon.freshness import ago
from starmon.health import CRITICAL, WARNING, format_value
from starmon.read import TimeRange
from starmon.ui import frame, loaders
from starmon.ui.text import plain

ATTENTION_SHOWN = 12  # cards above the table; the table lists every cluster
SOON_DAYS = 14  # a disk reaching 95 % sooner than this needs attention


def newest_round() -> int | None:
    """Id of the newest round of any cluster: the fleet's cache key (uncached, one index lookup)."""
    s = schema.metrics_snapshots
    return loaders.store().read(lambda conn: conn.execute(sa.select(sa.func.max(s.c.id))).scalar())


@st.cache_data(ttl="1m", max_entries=32, show_spinner=False)
def clusters(start: float, end: float, label: str, newest: int | None) -> list[fleet.Cluster]:
    """The ranked fleet over the range (Fleet.read), re-read when any cluster stores a round, and at
    least every minute (alerts and hourly rollups change between rounds)."""
    config = loaders.config()
    return fleet.Fleet(loaders.store()).read(
        TimeRange(start, end, label), config.cards, config.forecast_window_days, time.time()
    )


def overview_link(cluster: fleet.Cluster) -> tuple[st.Page, dict]:
    """The cluster's Overview page and the query that opens it with this range kept."""
    kept = {key: st.query_params[key] for key in ("range", "start", "end") if key in st.query_params}
    return st.session_state["pages"]["overview"], {"cluster": cluster.name, **kept}


def _url(cluster: fleet.Cluster) -> str:
    page, query = overview_link(cluster)
    return f"./{page.url_path}?" + "&".join(f"{key}={value}" for key, value in query.items())


def reasons(cluster: fleet.Cluster) -> list[str]:
    """What puts the cluster at risk, in the ranking's order, in words; empty when nothing does."""
    out = []
    if cluster.status is None:
        out.append("no round collected yet")
    elif cluster.status == "down":
        out.append("down")
    if cluster.dead_nodes:
        out.append(f"{cluster.dead_nodes} node{'s' if cluster.dead_nodes > 1 else ''} dead")
    if cluster.critical_alerts:
        out.append(f"{cluster.critical_alerts} critical alert{'s' if cluster.critical_alerts > 1 else ''} firing")
    if cluster.days_to_95 is not None and cluster.days_to_95 < SOON_DAYS:
        out.append(f"disk: {cluster.disk_forecast}")
    for title, value, unit, level in (
        ("p99", cluster.p99_ms, "ms", cluster.p99_level),
        ("error rate", cluster.error_rate, "%", cluster.error_level),
    ):
        if level in (WARNING, CRITICAL):
            out.append(f"{title} {format_value(value, unit)} ({level})")
    return out


def attention(shown: list[fleet.Cluster]) -> None:
    """The worst clusters as cards, each a link to its Overview with the range kept."""
    at_risk = [c for c in shown if reasons(c)]
    if not at_risk:
        st.success("Nothing needs attention in the clusters shown.", icon=":material/check_circle:")
        return
    st.subheader(f"Needs attention ({len(at_risk)})")
    with st.container(horizontal=True):
        for cluster in at_risk[:ATTENTION_SHOWN]:
            with st.container(border=True, width=300):
                page, query = overview_link(cluster)
                st.page_link(page, label=plain(cluster.name), query_params=query, icon=":material/open_in_new:")
                said = "; ".join(reasons(cluster))
                st.markdown(plain(said[:1].upper() + said[1:] + "."))
                st.caption(_collected(cluster))
    if len(at_risk) > ATTENTION_SHOWN:
        st.caption(f"{len(at_risk) - ATTENTION_SHOWN} more below, in the table's order.")


def _collected(cluster: fleet.Cluster) -> str:
    if cluster.collected_at is None:
        return "Never collected."
    return f"Collected {frame.local_time(cluster.collected_at)} ({ago(time.time() - cluster.collected_at)})."


def _days(cluster: fleet.Cluster) -> str:
    if cluster.forecast_at is None and cluster.disk_forecast == fleet.PENDING:
        return "pending"
    if cluster.days_to_95 is None:
        return "n/a"
    return "above 95 %" if cluster.days_to_95 == 0 else estimate(cluster.days_to_95)[0]


def frame_of(shown: list[fleet.Cluster]) -> pd.DataFrame:
    """The table's rows, in rank order; unknown values as "n/a", never 0."""
    return pd.DataFrame(
        [
            {
                "Rank": i,
                "Cluster": c.name,
                "Open": _url(c),
                "Status": c.status or "no data",
                "Version": c.version or "n/a",
                "Nodes alive": f"{c.nodes_alive}/{c.nodes_total}" if c.nodes_total is not None else "n/a",
                "QPS": format_value(c.qps, "queries/s"),
                "QPS trend": c.qps_trend,
                "p99": format_value(c.p99_ms, "ms"),
                "Error rate": format_value(c.error_rate, "%"),
                "Disk": format_value(c.disk_pct, "%"),
                "Days to 95 %": _days(c),
                "Critical alerts": c.critical_alerts,
                "Events": c.events,
                "Collected": frame.local_time(c.collected_at) if c.collected_at is not None else "n/a",
                "Tags": ", ".join(c.tags),
            }
            for i, c in enumerate(shown, 1)
        ],
        columns=[
            "Rank",
            "Cluster",
            "Open",
            "Status",
            "Version",
            "Nodes alive",
            "QPS",
            "QPS trend",
            "p99",
            "Error rate",
            "Disk",
            "Days to 95 %",
            "Critical alerts",
            "Events",
            "Collected",
            "Tags",
        ],
    )


def table(shown: list[fleet.Cluster], tr: TimeRange) -> None:
    """Every cluster shown, worst first; picking a row opens its Overview, the Open link a new tab."""
    picked = st.dataframe(
        frame_of(shown),
        hide_index=True,
        key="fleet-table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Open": st.column_config.LinkColumn("Open", display_text="Overview", help="Opens in a new tab."),
            "QPS trend": st.column_config.LineChartColumn(f"QPS, {tr.phrase}", y_min=0),
            "Collected": st.column_config.TextColumn(help="When the round these numbers come from was taken."),
            "Days to 95 %": st.column_config.TextColumn(
                help="Disk-full forecast fitted on hourly averages, up to the last complete hour; "
                f"the first BE to fill leads. Refitted when a cluster's hourly history changes, at most "
                f"{fleet.FITS_PER_READ} clusters each time the fleet is read: 'pending' until a cluster's first fit."
            ),
            "Events": st.column_config.NumberColumn(help=f"Events stored over {tr.phrase}."),
            "Critical alerts": st.column_config.NumberColumn(help="Critical alerts firing now."),
        },
    )
    rows = picked.selection.rows if picked else []
    if rows:
        page, query = overview_link(shown[rows[0]])
        st.switch_page(page, query_params=query)
