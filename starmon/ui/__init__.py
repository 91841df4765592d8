"""The Streamlit dashboard: the only part of starmon that imports Streamlit."""
