"""Events: what changed in the cluster over the range (nodes down and back, restarts, upgrades,
leader moves, collection gaps, MVs and schema changes), newest first, filtered by kind and node."""

import pandas as pd
import streamlit as st

from starmon.events import KINDS
from starmon.ui import frame, loaders, widgets

cluster = frame.page("Events").cluster


def _details(details: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in details.items() if v is not None)


@frame.live
def events() -> None:
    tr = frame.live_range()
    found = loaders.events(cluster["id"], tr.start, tr.end, loaders.newest_id(cluster["id"]))
    zone = frame.zone()
    left, right = st.columns(2)
    kinds = left.multiselect(
        "Kinds",
        sorted({e["kind"] for e in found}),
        key="event_kinds",
        placeholder="every kind",
        help="; ".join(f"{k}: {what}" for k, (_severity, what) in KINDS.items()),
    )
    subjects = right.multiselect(
        "Nodes and objects",
        sorted({e["subject"] for e in found if e["subject"]}),
        key="event_subjects",
        placeholder="all",
    )
    shown = [e for e in found if (not kinds or e["kind"] in kinds) and (not subjects or e["subject"] in subjects)]
    st.caption(f"{len(shown)} of {len(found)} events in {tr.phrase}, newest first; times in {zone}.")
    if not found:
        st.info(
            f"Nothing changed in {tr.phrase}: no node went down, restarted or changed.",
            icon=":material/event_available:",
        )
        return
    # Text from the cluster (hosts, table names, errors) goes into a dataframe cell, which shows it as text.
    table = pd.DataFrame(
        {
            "time": pd.to_datetime([e["ts"] for e in shown], unit="s", utc=True).tz_convert(zone),
            "severity": [e["severity"] for e in shown],
            "kind": [e["kind"] for e in shown],
            "subject": [e["subject"] for e in shown],
            "details": [_details(e["details"]) for e in shown],
        }
    ).iloc[::-1]
    widgets.table(table, "events", width="stretch")


events()
