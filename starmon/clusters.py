"""The cluster registry: clusters from starmon.toml, from the dashboard, and the demo.

File clusters are read-only in the dashboard (the TOML file owns them). Clusters added in
the dashboard keep their password encrypted in the database. Every add or edit is
validated by the same rules as the TOML file, and a rejected change writes nothing.

Every change that is stored is also an event of the cluster (`settings_changed`, in the same
transaction): who made it and which fields changed, old and new values, so "what changed at
03:10?" has an answer when the change was starmon's own. A password is never in it, only that
it changed. A deleted cluster's events go with its history, as the Delete button says; the
deletion itself is logged (by whom), since no cluster is left to hold an event.
"""

from __future__ import annotations

import json
import logging
import os
import time

import sqlalchemy as sa

from . import schema
from .config import _ROW_FIELDS as ROW_FIELDS
from .config import ClusterConfig, ConfigError, validate_cluster
from .events import Event, event
from .secrets import SecretError, Secrets
from .store import Store

EDITABLE_SOURCES = ("ui",)
# What the current key cannot do, and what to do about it: said the same way by the
# collector's --once, the Clusters page and the Overview.
UNDECRYPTABLE = (
    "stored password cannot be decrypted with the current key; restore the STARMON_SECRET_KEY or "
    "key file it was saved with, or type the password again on the Clusters page"
)
RETYPE = (
    "the host, a port or HTTPS changed: type the password again (a stored password is only sent where it was saved for)"
)
NO_TLS_TO_VERIFY = (
    "'do not verify the certificate' needs HTTPS: without it there is no certificate; "
    "tick HTTPS, or untick 'do not verify'"
)
log = logging.getLogger(__name__)


class ClusterError(ValueError):
    """A cluster change that was refused; the message says why."""


def _row(store: Store, name: str) -> dict | None:
    c = schema.clusters
    row = store.read(lambda conn: conn.execute(sa.select(c).where(sa.func.lower(c.c.name) == name.lower())).first())
    return dict(row._mapping) if row else None


def validated(fields: dict) -> ClusterConfig:
    """The cluster the dashboard's form describes, checked, or ClusterError saying what is wrong.

    The rules of starmon.toml, and one more the form needs: skipping certificate checks without
    HTTPS is refused. It means nothing over plain HTTP, yet would be stored and flagged as an
    unverified certificate; the file keeps accepting it, so no existing starmon.toml stops working.
    """
    raw = {k: v for k, v in fields.items() if v is not None and not (k == "password_env" and v == "")}
    try:
        cluster = validate_cluster(raw, where="cluster")
    except ConfigError as exc:
        raise ClusterError(str(exc).removeprefix("cluster ").split(": ", 1)[-1]) from None
    if not cluster.tls and not cluster.tls_verify:
        raise ClusterError(NO_TLS_TO_VERIFY)
    return cluster


# The clusters-table columns a settings event names: the name and what ClusterConfig.row_fields
# stores, never password_encrypted.
SHOWN_FIELDS = ("name", *ROW_FIELDS, "tags")


def _shown(key: str, value) -> str:
    """A setting's value as a settings event says it: yes/no, tags listed, strings quoted, none."""
    if key == "tags":
        return ", ".join(json.loads(value or "[]")) or "none"
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return repr(value) if isinstance(value, str) else str(value)


def changed_fields(before: dict | None, after: dict, password: str | None = None) -> list[str]:
    """What a change did to a clusters row in words: "field: old → new" per changed field, or
    "field: value" per field a new row sets (`before` None), then `password` ("password changed").

    Only SHOWN_FIELDS present in `after` are named, so no secret can slip in; a password is
    only ever said to have changed, never shown.
    """
    if before is None:
        out = [f"{key}: {_shown(key, after[key])}" for key in SHOWN_FIELDS if after.get(key) not in (None, "", "[]")]
    else:
        out = [
            f"{key}: {_shown(key, before.get(key))} → {_shown(key, after[key])}"
            for key in SHOWN_FIELDS
            if key in after and before.get(key) != after[key]
        ]
    return out + ([password] if password else [])


def settings_event(name: str, action: str, by: str | None, changed: list[str], ts: float | None = None) -> Event:
    """The event of one stored change of a cluster's settings: `action` added, edited, enabled,
    disabled; `by` the user (None on an open dashboard, where nobody signs in)."""
    ts = time.time() if ts is None else ts
    return event(ts, "settings_changed", name, action=action, by=by, changed=", ".join(changed) or None)


def _record(conn: sa.Connection, store: Store, cluster_id: int, change: Event) -> None:
    """Store a settings event in the transaction that made the change: both or neither."""
    conn.execute(store.insert_ignoring_duplicates(schema.events), [{**change.row(), "cluster_id": cluster_id}])


def add(store: Store, secrets: Secrets, fields: dict, by: str | None = None) -> ClusterConfig:
    """Add a dashboard cluster. `fields` are the TOML keys; the password is encrypted."""
    cluster = validated(fields)
    if _row(store, cluster.name):
        raise ClusterError(f"a cluster named {cluster.name!r} already exists")
    values = _values(cluster, secrets, fields.get("password"))
    given = {"name": cluster.name, **cluster.row_fields()}
    password = "password set" if values["password_encrypted"] else None
    added = settings_event(cluster.name, "added", by, changed_fields(None, given, password))

    def insert(conn: sa.Connection) -> None:
        new = conn.execute(schema.clusters.insert().values(name=cluster.name, source="ui", **values))
        _record(conn, store, new.inserted_primary_key[0], added)

    store.write(insert)
    return cluster


def update(store: Store, secrets: Secrets, name: str, fields: dict, by: str | None = None) -> ClusterConfig:
    """Edit a dashboard cluster; an empty password keeps the stored one, unless it would
    then go somewhere new (see may_reuse_password). Saving unchanged settings stores no event."""
    row = _row(store, name)
    if row is None:
        raise ClusterError(f"no cluster named {name!r}")
    if row["source"] not in EDITABLE_SOURCES:
        raise ClusterError(f"{name!r} is declared in starmon.toml; edit it there")
    password = fields.get("password") or None
    cluster = validated({"name": row["name"], **fields, "password": password})  # before any lookup by name
    if password is None and row["password_encrypted"] and not may_reuse_password(row, cluster.row_fields()):
        raise ClusterError(RETYPE)
    clash = _row(store, cluster.name)
    if clash and clash["id"] != row["id"]:
        raise ClusterError(f"a cluster named {cluster.name!r} already exists")
    values = _values(cluster, secrets, password)
    if password is None and not cluster.password_env:
        values.pop("password_encrypted")
    change = schema.clusters.update().where(schema.clusters.c.id == row["id"]).values(name=cluster.name, **values)
    if password is not None and password != _decrypted(row, secrets):
        said = "password changed"
    elif row["password_encrypted"] and values.get("password_encrypted", row["password_encrypted"]) is None:
        said = "stored password removed"
    else:
        said = None
    changed = changed_fields(row, {"name": cluster.name, **cluster.row_fields()}, said)

    def write(conn: sa.Connection) -> None:
        conn.execute(change)
        if changed:
            _record(conn, store, row["id"], settings_event(cluster.name, "edited", by, changed))

    store.write(write)
    return cluster


def _decrypted(row: dict, secrets: Secrets) -> str | None:
    """The password stored with a row, so a retyped one is told from a new one; None when there is
    none or this key cannot read it (any password typed is then a change)."""
    try:
        return secrets.decrypt(row["password_encrypted"]) if row["password_encrypted"] else None
    except SecretError:
        return None


_DESTINATION = ("fe_host", "http_port", "query_port")  # where a password goes


def may_reuse_password(stored: dict, edited: dict) -> bool:
    """Whether the password stored with `stored` may be sent to the cluster as `edited` describes it.

    Only to the same host and ports, and no less protected (HTTPS not turned off, certificate
    checks not turned off). Otherwise an admin could point a cluster at a server they control
    and press Test connection, and the stored password would go there as Basic auth; asking
    for it again is what Grafana does with a data source's secrets.
    """

    def protection(c: dict) -> tuple[bool, bool]:  # (HTTPS, HTTPS with a verified certificate)
        return bool(c["tls"]), bool(c["tls"] and c["tls_verify"])

    same_place = all(edited[key] == stored[key] for key in _DESTINATION)
    return same_place and all(now >= before for now, before in zip(protection(edited), protection(stored)))


def password_to_test(stored: dict, edited: dict, secrets: Secrets) -> str:
    """The password Test connection may use for an edited dashboard cluster.

    The one typed in the form, else the stored one when may_reuse_password allows it.
    Raises ClusterError saying what to do when the stored one may not go there, or
    cannot be decrypted with the current key.
    """
    if edited.get("password") or not stored["password_encrypted"]:
        return edited.get("password") or ""
    if not may_reuse_password(stored, edited):
        raise ClusterError(RETYPE)
    try:
        return secrets.decrypt(stored["password_encrypted"])
    except SecretError:
        raise ClusterError(f"The {UNDECRYPTABLE}.") from None


def config_of(row: dict, file_clusters: tuple[ClusterConfig, ...], secrets: Secrets) -> ClusterConfig | None:
    """One enabled cluster's row as the collector would ask it, password included, for a live question
    a page asks (Running now); None when it is disabled or its password cannot be had. Unlike
    collectable it writes nothing, so opening a page never changes the clusters table."""
    if not row["enabled"]:
        return None
    if row["source"] == "file":
        return next((c for c in file_clusters if c.name == row["name"]), None)
    try:
        return ClusterConfig.from_row(row, _stored_password(row, secrets))
    except SecretError:
        return None


def _stored_password(row: dict, secrets: Secrets) -> str:
    """A dashboard cluster's password: from its environment variable, else decrypted (SecretError)."""
    if row["password_env"]:
        return os.environ.get(row["password_env"], "")
    return secrets.decrypt(row["password_encrypted"]) if row["password_encrypted"] else ""


def undecryptable(rows: list[dict], secrets: Secrets) -> list[str]:
    """Names of the dashboard clusters among `rows` whose stored password this key cannot decrypt.

    A changed STARMON_SECRET_KEY or key file leaves such clusters uncollected; callers say so
    by name rather than letting them silently go stale.
    """
    locked = []
    for row in rows:
        if row["source"] != "file":
            try:
                _stored_password(row, secrets)
            except SecretError:
                locked.append(row["name"])
    return locked


def _values(cluster: ClusterConfig, secrets: Secrets, password: str | None) -> dict:
    return dict(
        cluster.row_fields(),
        password_encrypted=secrets.encrypt(password) if password and not cluster.password_env else None,
        updated_at=time.time(),
    )


def set_enabled(store: Store, name: str, enabled: bool, by: str | None = None) -> None:
    """Enable or disable a dashboard cluster; an event says so when it was the other way."""
    row = _row(store, name)
    if row is None:
        raise ClusterError(f"no cluster named {name!r}")
    if row["source"] == "file":
        raise ClusterError(f"{name!r} is declared in starmon.toml; set enabled = {str(enabled).lower()} there")
    changed = changed_fields(row, {"enabled": enabled})

    def write(conn: sa.Connection) -> None:
        conn.execute(
            schema.clusters.update()
            .where(schema.clusters.c.id == row["id"])
            .values(enabled=enabled, updated_at=time.time())
        )
        if changed:
            action = "enabled" if enabled else "disabled"
            _record(conn, store, row["id"], settings_event(row["name"], action, by, changed))

    store.write(write)


def delete(store: Store, name: str, by: str | None = None) -> None:
    """Delete a dashboard cluster and all of its history, its events included (the page asks for
    exactly that); the server log keeps who deleted it."""
    row = _row(store, name)
    if row is None:
        raise ClusterError(f"no cluster named {name!r}")
    if row["source"] == "file":
        raise ClusterError(f"{name!r} is declared in starmon.toml; remove it there")
    cid = row["id"]
    # Every table that keeps something per cluster, dependants first, read from the schema so
    # a table added later (rollups, leases) is never left behind to block the delete.
    history = [t for t in reversed(schema.metadata.sorted_tables) if "cluster_id" in t.c]

    def delete_all(conn: sa.Connection) -> None:
        for table in history:
            conn.execute(table.delete().where(table.c.cluster_id == cid))
        conn.execute(schema.clusters.delete().where(schema.clusters.c.id == cid))

    store.write(delete_all)
    log.warning("cluster %r deleted with its history by %s", row["name"], by or "an open dashboard's visitor")


def file_changes(before: dict | None, after: dict) -> list[Event]:
    """The event of a starmon.toml cluster whose stored row a sync changes (Store.sync_clusters):
    edited in the file, disabled because the file no longer declares it, or enabled when it does
    again. A cluster new to the database is no change of settings: none."""
    if before is None:
        return []
    changed = changed_fields(before, after)
    was = before["enabled"]
    now = after.get("enabled", was)
    action = "edited" if was == now else "enabled" if now else "disabled"
    return [settings_event(before["name"], action, "starmon.toml", changed)] if changed else []


def collectable(
    store: Store, secrets: Secrets, file_clusters: tuple[ClusterConfig, ...]
) -> list[tuple[int, ClusterConfig]]:
    """Every enabled cluster with its id and password, ready to collect.

    File clusters carry their password from the TOML file or its environment variable;
    dashboard clusters decrypt theirs. A cluster whose password cannot be had is skipped
    rather than collected with a wrong one; `undecryptable` names those clusters.
    """
    store.sync_clusters(file_clusters, file_changes)
    by_name = {c.name: c for c in file_clusters}
    out = []
    for row in store.enabled_clusters():
        if row["source"] == "file":
            if row["name"] in by_name:
                out.append((row["id"], by_name[row["name"]]))
            continue
        try:
            password = _stored_password(row, secrets)
        except SecretError:
            log.error("cluster %s skipped: %s", row["name"], UNDECRYPTABLE)
            continue
        out.append((row["id"], ClusterConfig.from_row(row, password)))
    return out
