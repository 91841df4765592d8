"""The cluster registry: clusters from starmon.toml, from the dashboard, and the demo.

File clusters are read-only in the dashboard (the TOML file owns them). Clusters added in
the dashboard keep their password encrypted in the database. Every add or edit is
validated by the same rules as the TOML file, and a rejected change writes nothing.
"""

from __future__ import annotations

import logging
import os
import time

import sqlalchemy as sa

from . import schema
from .config import ClusterConfig, ConfigError, validate_cluster
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


def add(store: Store, secrets: Secrets, fields: dict) -> ClusterConfig:
    """Add a dashboard cluster. `fields` are the TOML keys; the password is encrypted."""
    cluster = validated(fields)
    if _row(store, cluster.name):
        raise ClusterError(f"a cluster named {cluster.name!r} already exists")
    values = _values(cluster, secrets, fields.get("password"))
    store.write(lambda conn: conn.execute(schema.clusters.insert().values(name=cluster.name, source="ui", **values)))
    return cluster


def update(store: Store, secrets: Secrets, name: str, fields: dict) -> ClusterConfig:
    """Edit a dashboard cluster; an empty password keeps the stored one, unless it would
    then go somewhere new (see may_reuse_password)."""
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
    store.write(lambda conn: conn.execute(change))
    return cluster


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


def set_enabled(store: Store, name: str, enabled: bool) -> None:
    row = _row(store, name)
    if row is None:
        raise ClusterError(f"no cluster named {name!r}")
    if row["source"] == "file":
        raise ClusterError(f"{name!r} is declared in starmon.toml; set enabled = {str(enabled).lower()} there")
    store.write(
        lambda conn: conn.execute(
            schema.clusters.update()
            .where(schema.clusters.c.id == row["id"])
            .values(enabled=enabled, updated_at=time.time())
        )
    )


def delete(store: Store, name: str) -> None:
    """Delete a dashboard cluster and all of its history."""
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


def collectable(
    store: Store, secrets: Secrets, file_clusters: tuple[ClusterConfig, ...]
) -> list[tuple[int, ClusterConfig]]:
    """Every enabled cluster with its id and password, ready to collect.

    File clusters carry their password from the TOML file or its environment variable;
    dashboard clusters decrypt theirs. A cluster whose password cannot be had is skipped
    rather than collected with a wrong one; `undecryptable` names those clusters.
    """
    store.sync_clusters(file_clusters)
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
