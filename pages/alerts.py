"""Alerts: what is firing now, what fired over the range, silences, where messages go, and the rules."""

import time

import pandas as pd
import streamlit as st

from starmon import alert_store
from starmon.alert_delivery import DeliveryError, send_test
from starmon.alerts import RULE_NAMES, duration
from starmon.ui import alert_rules, auth, frame, loaders, widgets
from starmon.ui.text import plain

st.header("Alerts")
admin = auth.may_edit(st.session_state.get("user"))
who = getattr(st.session_state.get("user"), "name", "dashboard")  # recorded with silences and rule edits
store, config = loaders.store(), loaders.config()


def _table(rows: list[dict]) -> pd.DataFrame:
    """Alerts as the page lists them: times in the viewer's zone, the value against its threshold."""
    at = lambda ts: frame.local_time(ts) if ts else None  # noqa: E731
    return pd.DataFrame(
        [
            {
                "Severity": r["severity"],
                "State": r["state"],
                "Cluster": r["cluster"],
                "Rule": r["rule"],
                "What": r["message"],
                "Peak": r["peak"],
                "Threshold": r["threshold"],
                "Unit": r["unit"],
                "Since": at(r["started_at"]),
                "Resolved": at(r["resolved_at"]),
                "Messages sent": r["notifications"],
                "Silenced": r["silenced"],
            }
            for r in rows
        ],
        columns=[
            "Severity",
            "State",
            "Cluster",
            "Rule",
            "What",
            "Peak",
            "Threshold",
            "Unit",
            "Since",
            "Resolved",
            "Messages sent",
            "Silenced",
        ],
    )


@frame.live
def now_and_history() -> None:
    tr = frame.live_range()
    st.subheader("Firing now")
    open_ = alert_store.list_alerts(store, states=("firing", "pending"))
    if open_:
        st.caption("Worst first; pending ones wait out their rule's `for` duration before they fire.")
        widgets.table(_table(open_).drop(columns=["Resolved"]), "alerts-firing", placeholder="n/a")
    else:
        st.success("No alert is firing.", icon=":material/notifications_off:")
    st.subheader("History")
    resolved = sorted(
        alert_store.list_alerts(store, states=("resolved",), since=tr.start), key=lambda r: -r["started_at"]
    )
    if resolved:
        st.caption(f"Alerts that started in {tr.phrase} and have resolved, newest first.")
        widgets.table(_table(resolved), "alerts-history", placeholder="n/a")
    else:
        st.info(f"No alert started and resolved in {tr.phrase}.", icon=":material/history:")


def silences() -> None:
    st.subheader("Silences")
    st.caption("A silenced alert is still recorded; only its messages are held back.")
    held = alert_store.silences(store)
    for s in held:
        left, right = st.columns([5, 1])
        left.markdown(
            plain(
                f"{s.cluster or 'every cluster'} · {s.rule or 'every rule'} until {frame.local_time(s.until)} "
                f"({s.created_by}: {s.reason})"
            )
        )
        if admin and right.button("End", key=f"end-silence-{s.id}"):
            alert_store.end_silence(store, s.id)
            st.rerun()
    if not held:
        st.caption("None in force.")
    if not admin:
        return
    names = {c["name"]: c["id"] for c in loaders.reader().clusters()}
    with st.form("silence"):
        left, middle, right = st.columns(3)
        cluster = left.selectbox("Cluster", ["every cluster", *names])
        rule = middle.selectbox("Rule", ["every rule", *RULE_NAMES])
        span = right.text_input("For", "2h", help='A duration: "90m", "2h", "1d".')
        reason = st.text_input("Reason", max_chars=200)
        if st.form_submit_button("Silence", icon=":material/notifications_paused:"):
            try:
                until = time.time() + duration(span, "For")
                alert_store.add_silence(
                    store,
                    names.get(cluster),
                    None if rule == "every rule" else rule,
                    until,
                    reason,
                    who,
                )
            except ValueError as exc:
                st.error(plain(exc))
            else:
                st.rerun()


def channels() -> None:
    st.subheader("Channels")
    if not config.alerts.channels:
        st.info(
            "No channel is configured: alerts are recorded here but sent nowhere. Add `[[alerts.channels]]` "
            "to starmon.toml (see the README's Alerts section).",
            icon=":material/campaign:",
        )
        return
    st.caption("Declared in starmon.toml. Their addresses hold secrets and are never shown.")
    for channel in config.alerts.channels:
        left, right = st.columns([5, 1])
        clusters = ", ".join(channel.clusters) or "every cluster"
        left.markdown(plain(f"{channel.name}: {channel.min_severity} and worse, {clusters}"))
        if admin and right.button("Send a test", key=f"test-{channel.name}"):
            try:
                with st.spinner(f"Sending to {channel.name}…"):
                    send_test(config.alerts, channel.name)
            except (DeliveryError, LookupError) as exc:
                st.error(plain(f"{channel.name}: {exc}"))
            else:
                st.success(plain(f"Test message sent to {channel.name}."))


now_and_history()
silences()
channels()
alert_rules.section(store, config, admin, who)
