"""Fleet: every cluster in one view, ranked by risk, so the one that needs you comes first."""

import streamlit as st

from starmon import fleet
from starmon.ui import fleet_table, frame

st.header("Fleet")


@frame.live
def fleet_view() -> None:
    tr = frame.live_range()
    everyone = fleet_table.clusters(tr.start, tr.end, tr.label, fleet_table.newest_round())
    name, tags = st.columns([2, 1])
    text = name.text_input("Filter by name", key="fleet-name", placeholder="part of a name")
    wanted = tags.multiselect("Tags", fleet.all_tags(everyone), key="fleet-tags", placeholder="any tag")
    shown = fleet.matching(everyone, text, wanted)
    st.caption(
        f"{len(shown)} of {len(everyone)} clusters, worst first: down, dead nodes, critical alerts firing, "
        f"days until a disk reaches 95 %, then p99 latency and error rate against their thresholds. "
        f"Each row's numbers are from its newest round (Collected); trends and events over {tr.phrase}."
    )
    fleet_table.attention(shown)
    fleet_table.table(shown, tr)


fleet_view()
