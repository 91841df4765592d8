"""The script Streamlit runs for every session: the frame, then the chosen page."""

from pathlib import Path

import streamlit as st

from starmon.ui import auth, frame, loaders

PAGES = Path(__file__).resolve().parents[2] / "pages"

# A file, not ":material/monitoring:": for a Material icon Streamlit fetches the favicon from
# fonts.gstatic.com, and the dashboard must work air-gapped (tests/test_offline.py).
st.set_page_config(page_title="starmon", page_icon=Path(__file__).with_name("favicon.svg"), layout="wide")
# With several clusters the landing page is the Fleet, every cluster ranked by risk; with one, its Overview.
fleet = sum(c["enabled"] for c in loaders.reader().clusters()) > 1
pages = {
    "fleet": st.Page(PAGES / "fleet.py", title="Fleet", icon=":material/view_list:", default=fleet),
    "overview": st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=not fleet),
    "performance": st.Page(PAGES / "performance.py", title="Performance", icon=":material/speed:"),
    "resources": st.Page(PAGES / "resources.py", title="Resources", icon=":material/memory:"),
    "data": st.Page(PAGES / "data.py", title="Data", icon=":material/database:"),
    "queries": st.Page(PAGES / "queries.py", title="Queries", icon=":material/query_stats:"),
    "events": st.Page(PAGES / "events.py", title="Events", icon=":material/event_note:"),
    "alerts": st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
    "clusters": st.Page(PAGES / "clusters.py", title="Clusters", icon=":material/dns:"),
}
user = auth.gate(pages)  # signed out, it stops here: `pages` only names the page to come back to
st.session_state["user"] = user
if not auth.may_edit(user):  # viewers never get the page registered, so no URL reaches it
    del pages["clusters"]
if not fleet:
    del pages["fleet"]
st.session_state["pages"] = pages
navigation = st.navigation(list(pages.values()), position="top")
frame.sidebar(navigation)
auth.sidebar(user)
navigation.run()
