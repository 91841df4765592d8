"""The Resources page's node table: one round's node rows as text that fits the page.

Every value is text, so an unknown one reads "n/a" as the README promises: a number column
would show a missing value as "None" (and a progress bar as nothing). Heartbeats are turned
from the cluster's clock to the viewer's zone (see starmon.clock), or said to be in cluster time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from starmon import clock
from starmon.health import format_value

NA = "n/a"


@dataclass(frozen=True)
class NodeTable:
    """The rows to show and their column_config (labels, widths, help)."""

    rows: pd.DataFrame
    columns: dict


def _shown(value: object, fmt: str, unit: str = "") -> str:
    return NA if pd.isna(value) else format(value, fmt) + unit


def _memory(used: object, pct: object) -> str:
    """Memory used in bytes with its share of the limit: "4.2 GB · 32.6 %"; either alone when the other is unknown."""
    parts = [format_value(used, "bytes")] if not pd.isna(used) else []
    parts += [_shown(pct, ".1f", " %")] if not pd.isna(pct) else []
    return " · ".join(parts) or NA


def _pct(used: object, total: object) -> float | None:
    return None if pd.isna(used) or pd.isna(total) or not total else 100 * used / total


def _role(role: str, leader: object) -> str:
    return f"{role} leader" if pd.notna(leader) and leader else role


def _alive(value: object) -> str:
    return NA if pd.isna(value) else ("yes" if value else "no")


def table(nodes: pd.DataFrame, collected: float, zone: str) -> NodeTable:
    """The node rows of the round collected at `collected` (epoch seconds), for a viewer in `zone`."""
    offset = clock.offset(nodes.loc[nodes["alive"].eq(True), "last_heartbeat"], collected)

    def heartbeat(text: str | None) -> str:
        if pd.isna(text):
            return NA
        if offset is None:
            return text
        t = clock.to_epoch(text, offset)
        return text if t is None else datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%b %d %H:%M:%S")

    rows = pd.DataFrame(
        {
            "role": [_role(r, leader) for r, leader in zip(nodes["role"], nodes["is_leader"])],
            "host": nodes["host"],
            "version": nodes["version"].fillna(NA),
            "alive": nodes["alive"].map(_alive),
            "heartbeat": nodes["last_heartbeat"].map(heartbeat),
            "cpu": nodes["cpu_pct"].map(lambda v: _shown(v, ".1f", " %")),
            "memory": [_memory(b, p) for b, p in zip(nodes["mem_used_bytes"], nodes["mem_pct"])],
            "disk": [
                _shown(_pct(u, t), ".1f", " %") for u, t in zip(nodes["disk_used_bytes"], nodes["disk_total_bytes"])
            ],
            "tablets": nodes["tablet_count"].map(lambda v: _shown(v, ",.0f")),
            "queries": nodes["running_queries"].map(lambda v: _shown(v, ",.0f")),
            "error": nodes["error"].fillna(""),  # no error, not an unknown one
        }
    )
    if offset is None:
        when = (
            "Last heartbeat (cluster time)",
            "As the FE printed it, in the cluster's time zone, which StarRocks does not name; starmon infers it "
            "from a live node's heartbeat and none was fresh enough in this round.",
        )
    else:
        when = (
            "Last heartbeat",
            f"In your time zone ({zone}); StarRocks prints it in the cluster's ({clock.describe_offset(offset)}, "
            "inferred from the collection time).",
        )
    right = dict(alignment="right")
    columns = {
        "role": st.column_config.TextColumn("Role", width=80),
        "host": st.column_config.TextColumn("Host", width=110),
        "version": st.column_config.TextColumn("Version", width=110),
        "alive": st.column_config.TextColumn("Alive", width=55),
        "heartbeat": st.column_config.TextColumn(when[0], help=when[1], width=130),
        "cpu": st.column_config.TextColumn("CPU", help="CPU used, % of the node's cores", width=70, **right),
        "memory": st.column_config.TextColumn(
            "Memory", help="Memory used (decimal units) and its % of the node's limit", width=125, **right
        ),
        "disk": st.column_config.TextColumn("Disk", help="Disk used, % of its capacity", width=65, **right),
        "tablets": st.column_config.TextColumn("Tablets", help="Tablets on the BE (FEs hold none)", width=70, **right),
        "queries": st.column_config.TextColumn("Queries", help="Queries running when collected", width=70, **right),
        "error": st.column_config.TextColumn("Error", help="The node's last error, as StarRocks reported it"),
    }
    return NodeTable(rows, columns)
