"""The Alerts page's Rules section: each rule's values and where they come from, and an admin's edits.

Values are the built-in defaults, then starmon.toml's, then the edits made here (starmon.alert_edits),
which the collector takes up at its next round. An edit is checked with the file's own checks; a
bad value is said next to the button and nothing is stored.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import alert_edits
from ..alerts import OWN_LEVELS, AlertSettings
from ..config import Config
from ..store import Store
from . import frame, widgets
from .text import plain

_SAID = "alert-rule-said"  # what the last save or reset did, shown after the rerun it causes
_COLUMNS = {
    "rule": "Rule",
    "clusters": "Clusters",
    "enabled": "Enabled",
    "for": "For",
    "repeat": "Repeat",
    "severity": "Severity",
    "warning": "Warning",
    "critical": "Critical",
    "changed": "Set by",
    "edited_by": "Edited by",
    "edited_at": "Edited at",
}


def section(store: Store, config: Config, admin: bool, user: str) -> None:
    """The rules in force, and for an admin the form that edits them."""
    st.subheader("Rules")
    settings = alert_edits.load(store, config.alerts)
    st.caption(
        "Built-in defaults, then starmon.toml, then edits made here (they win). *Set by* says where each "
        "value that is not a default comes from; health-card rules take their levels from `[thresholds]`."
    )
    rows = pd.DataFrame(alert_edits.rule_rows(settings, config.cards), columns=list(_COLUMNS))
    rows["edited_at"] = [frame.local_time(ts) if pd.notna(ts) else None for ts in rows["edited_at"]]
    widgets.table(rows.rename(columns=_COLUMNS), "alert-rules", placeholder="n/a")
    if admin:
        _editor(store, settings, user)


def _editor(store: Store, settings: AlertSettings, user: str) -> None:
    st.markdown("**Edit a rule**")
    left, right = st.columns(2)
    name = left.selectbox("Rule to edit", [r.name for r in settings.rules])
    glob = right.text_input(
        "For clusters", alert_edits.EVERY, help='"*" for every cluster, or a glob such as "prod-*".'
    ).strip()
    glob = glob or alert_edits.EVERY
    shown = alert_edits.explain(settings, name, glob)
    rule = shown.rule
    with st.form("edit-alert-rule"):
        enabled = st.checkbox("Enabled", rule.enabled)
        a, b, c = st.columns(3)
        values = {
            "enabled": enabled,
            "for": a.text_input("Holds for", alert_edits.as_text(rule.for_seconds), help="The rule's `for`."),
            "repeat": b.text_input("Repeat every", alert_edits.as_text(rule.repeat_seconds)),
            "severity": c.selectbox(
                "Severity",
                [None, "warning", "critical"],
                index=[None, "warning", "critical"].index(rule.severity),
                format_func=lambda v: v or "by level",
            ),
        }
        if name in OWN_LEVELS and glob == alert_edits.EVERY:  # as in the file: levels for every cluster only
            w, k = st.columns(2)
            values["warning"] = w.text_input("Warning level", _number(rule.warning)) or None
            values["critical"] = k.text_input("Critical level", _number(rule.critical)) or None
        saved = st.form_submit_button("Save rule", icon=":material/save:")
    where = "every cluster" if glob == alert_edits.EVERY else glob
    if saved:
        try:
            raw = alert_edits.form_changes(settings, name, glob, values)
            alert_edits.save(store, settings, name, glob, raw, user)
        except ValueError as exc:
            st.error(plain(exc))
        else:
            changed = ", ".join(f"{key} {_shown(key, value)}" for key, value in raw.items())
            st.session_state[_SAID] = f"Saved {name} for {where}: {changed}. Collectors apply it from their next round."
            st.rerun()
    if shown.edit is not None and st.button(f"Reset {name} for {where}", icon=":material/undo:"):
        alert_edits.reset(store, name, glob)
        st.session_state[_SAID] = f"Reset {name} for {where}: starmon.toml's values apply again."
        st.rerun()
    said = st.session_state.pop(_SAID, None)
    if said:
        st.success(plain(said), icon=":material/check:")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _shown(key: str, value: object) -> str:
    if key in ("for", "repeat"):
        return alert_edits.as_text(value)
    return "on" if value is True else "off" if value is False else str(value)
