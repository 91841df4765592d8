"""Clusters: add, edit, disable and delete the clusters starmon watches, and test connections."""

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from starmon import clusters as registry
from starmon.config import ClusterConfig
from starmon.fleet import parse_tags
from starmon.probe import check_connection
from starmon.ui import auth, loaders
from starmon.ui.text import plain

auth.require_admin()
st.header("Clusters")
store = loaders.store()
rows = loaders.reader().clusters()
locked = registry.undecryptable(rows, loaders.secrets())
_ICON = {"ok": ":material/check_circle:", "warning": ":material/warning:", "failed": ":material/error:"}
_DONE = "clusters-done"  # (place, message): what the last change did, kept across the rerun that shows it
by = getattr(st.session_state.get("user"), "name", None)  # who the change's event names; None on an open dashboard

for name in locked:
    st.error(plain(f"{name} is not collected: its {registry.UNDECRYPTABLE}."), icon=":material/key_off:")


def _form(key: str, current: dict | None) -> tuple[dict, bool, bool, DeltaGenerator]:
    """The cluster fields form; returns (fields, test pressed, save pressed, the place above its buttons).

    What the buttons did is said above them, where the user is looking: the page reruns
    scrolled as it was, and below the form could be off screen.
    """
    current = current or {}
    with st.form(key):
        name = st.text_input("Name", current.get("name", ""), max_chars=63)
        host = st.text_input("FE host", current.get("fe_host", ""), help="Host name or address of one FE.")
        left, right = st.columns(2)
        http_port = left.number_input("HTTP port", 1, 65535, current.get("http_port", 8030), step=1)
        query_port = right.number_input("MySQL port", 1, 65535, current.get("query_port", 9030), step=1)
        user = left.text_input("User", current.get("user", "root"))
        password = right.text_input(
            "Password",
            type="password",
            placeholder="unchanged" if current else "",
            help="Stored encrypted; never shown again. Leave empty to keep it, "
            "unless you change the host, a port or HTTPS: then type it again.",
        )
        tls = st.checkbox("HTTPS (certificates are verified)", current.get("tls", False))
        skip_verify = st.checkbox(
            "Do not verify the certificate (not recommended)",
            not current.get("tls_verify", True),
            help="Only with HTTPS, for FEs with self-signed certificates; the dashboard flags such clusters.",
        )
        tags = st.text_input(
            "Tags",
            ", ".join(parse_tags(current.get("tags"))),
            placeholder="prod, eu",
            help="Comma-separated; the Fleet page filters clusters by them.",
        )
        said = st.container()
        test = st.form_submit_button("Test connection", icon=":material/network_check:")
        save = st.form_submit_button("Save", type="primary", icon=":material/save:")
    fields = {
        "name": name.strip(),
        "fe_host": host.strip(),
        "http_port": int(http_port),
        "query_port": int(query_port),
        "user": user.strip(),
        "password": password,
        "tls": tls,
        "tls_verify": not skip_verify,
        "tags": [tag.strip() for tag in tags.split(",") if tag.strip()],
    }
    return fields, test, save, said


def _test(cluster: ClusterConfig) -> None:
    """Test connection: each check's outcome, one line each."""
    with st.spinner("Testing the connection…"):
        checks = check_connection(cluster, timeout=loaders.config().timeout_seconds)
    for check in checks:
        line = f"**{check.name}**: {plain(check.detail)}"
        {"ok": st.success, "warning": st.warning, "failed": st.error}[check.status](line, icon=_ICON[check.status])


def _done(place: str, message: str) -> None:
    """Rerun to show a change, and say what it did once the page shows it (at _say_done(place)).

    A toast sent just before st.rerun() shows for four seconds in a corner; the message
    stays, next to the button that made the change.
    """
    st.session_state[_DONE] = (place, plain(message))
    st.rerun()


def _say_done(place: str) -> None:
    """What the last change made from this place did, said once."""
    if st.session_state.get(_DONE, ("",))[0] == place:
        st.success(st.session_state.pop(_DONE)[1], icon=":material/check_circle:")


add, edit = st.tabs(["Add a cluster", "Edit, disable or delete"])
with add:
    # A new form key after each save starts the next form empty (Test keeps what was typed).
    fields, test, save, said = _form(f"add-cluster-{st.session_state.get('added', 0)}", None)
    with said:
        _say_done("add")
        try:
            if test:
                _test(registry.validated(fields))
            if save:
                cluster = registry.add(store, loaders.secrets(), fields, by)
                st.session_state["added"] = st.session_state.get("added", 0) + 1
                _done("add", f"Added {cluster.name}; the collector picks it up on its next round.")
        except registry.ClusterError as exc:
            st.error(plain(exc), icon=":material/error:")

with edit:
    editable = [r for r in rows if r["source"] in registry.EDITABLE_SOURCES]
    if not editable:
        _say_done("edit-buttons")  # the last one was just deleted
        st.caption("Clusters declared in starmon.toml are edited there; the demo cannot be edited.")
    else:
        if renamed := st.session_state.pop("edit-renamed", None):  # keep the saved cluster chosen
            st.session_state["edit-choice"] = renamed
        chosen = st.selectbox("Cluster", [r["name"] for r in editable], key="edit-choice")
        row = next(r for r in editable if r["name"] == chosen)
        fields, test, save, said = _form(f"edit-{row['id']}", row)
        with said:
            _say_done("edit-form")
            try:
                if test:  # the stored password only goes where it was saved for
                    password = registry.password_to_test(row, fields, loaders.secrets())
                    _test(registry.validated({**fields, "password": password}))
                if save:
                    cluster = registry.update(store, loaders.secrets(), row["name"], fields, by)
                    st.session_state["edit-renamed"] = cluster.name
                    _done("edit-form", f"Saved {cluster.name}; the collector uses the change on its next round.")
            except registry.ClusterError as exc:
                st.error(plain(exc), icon=":material/error:")
        _say_done("edit-buttons")
        left, right = st.columns(2)
        if left.button("Enable" if not row["enabled"] else "Disable", key="toggle-enabled"):
            registry.set_enabled(store, row["name"], not row["enabled"], by)
            _done(
                "edit-buttons",
                f"Disabled {row['name']}: no longer collected; its history stays."
                if row["enabled"]
                else f"Enabled {row['name']}; the collector picks it up on its next round.",
            )
        # keyed by cluster, so the tick never carries over to the cluster chosen after a delete
        confirm = right.checkbox("Also delete its whole history", key=f"confirm-delete-{row['id']}")
        if right.button("Delete", disabled=not confirm, type="secondary", key="delete"):
            registry.delete(store, row["name"], by)
            _done("edit-buttons", f"Deleted {row['name']} and its history.")


def _watched() -> None:
    """The clusters starmon watches, below the forms: a cluster added or deleted grows or shrinks
    this table without moving the form and its message out of view."""
    st.subheader("Watched clusters")
    if rows:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": r["name"],
                        "FE host": r["fe_host"],
                        "HTTP port": r["http_port"],
                        "MySQL port": r["query_port"],
                        "User": r["user"],
                        "Password": "stored, but the current key cannot decrypt it"
                        if r["name"] in locked
                        else "stored (encrypted)"
                        if r["password_encrypted"]
                        else f"from ${r['password_env']}"
                        if r["password_env"]
                        else "none",
                        "HTTPS": ("yes, certificate NOT verified" if not r["tls_verify"] else "yes, verified")
                        if r["tls"]
                        else "no",
                        "Tags": ", ".join(parse_tags(r["tags"])),
                        "Enabled": r["enabled"],
                        "Declared in": {"file": "starmon.toml", "ui": "dashboard", "demo": "demo (emulated)"}[
                            r["source"]
                        ],
                    }
                    for r in rows
                ]
            ),
            hide_index=True,
            key="cluster-table",
        )
    else:
        st.info("No clusters yet: add one above, or declare them in starmon.toml.", icon=":material/info:")


_watched()
