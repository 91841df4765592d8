"""The snapshot store: the one class that owns every database connection.

SQLite runs in WAL mode with `synchronous=NORMAL` and a busy timeout. Writes go through
a separate engine whose transactions start with `BEGIN IMMEDIATE`, so a write never
fails half-way with SQLITE_BUSY while the dashboard reads (shared/notes/streamlit.md
§2.3). Each round is one short transaction: a snapshot and its node rows land together
or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from . import schema
from .config import ClusterConfig, env_setting
from .readings import NodeReading, PreviousRound, Snapshot, node_from_row
from .writer_lock import WriterLock

if TYPE_CHECKING:
    from .events import Event

_NODE_KEYS = {"id", "snapshot_id", "cluster_id", "ts"}  # set by the store, not by a reading
_SNAPSHOT_COLUMNS = tuple(c.name for c in schema.metrics_snapshots.c if c.name != "cluster_id")
_NODE_COLUMNS = tuple(c.name for c in schema.node_snapshots.c if c.name not in _NODE_KEYS)


def _row(reading: Snapshot | NodeReading | dict, columns: tuple[str, ...]) -> dict:
    """A reading as a row of the columns given; any field that is not one of them is an error."""
    if isinstance(reading, dict):
        unknown = reading.keys() - set(columns) - _NODE_KEYS
        if unknown:
            raise ValueError(f"no such column: {', '.join(sorted(unknown))}")
        return {name: reading.get(name) for name in columns if name in reading or name != "id"}
    return {name: getattr(reading, name) for name in columns if name != "id"}


# PostgreSQL advisory-lock keys of the jobs one process at a time should run; a lock per name
# (sign-in attempts) is the two-key form (key, hash of the name), a key space apart
_ADVISORY_KEYS = {"migrate": 7106, "retention": 7107, "sign-in": 7108, "sync-clusters": 7109}
T = TypeVar("T")


def short_error(exc: BaseException) -> str:
    """First line of a database error, without SQLAlchemy's statement dump."""
    inner = getattr(exc, "orig", None) or exc
    return str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__


class LeaseLost(RuntimeError):
    """Another collector now owns the cluster; this round is not written."""


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message is safe to show."""


class DatabaseLost(StoreError):
    """The SQLite file was deleted or replaced under a running starmon; only a restart helps.

    Without this check SQLite keeps writing into the deleted file through its open
    descriptor, and everything written after the deletion is gone at the next start.
    """


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown without its credentials part
        return url.split("@")[-1]


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(conn: sa.Connection) -> None:
    """Bring the schema to the newest revision, keeping every row (Alembic, both engines)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _sqlite_engine(url: sa.URL, *, immediate: bool, check: Callable[[], None]) -> Engine:
    """An engine on the SQLite file that runs `check` before every new connection and,
    for the writer, before every transaction."""
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "do_connect")
    def _still_there(*_args):
        check()  # before SQLite would create an empty file where the database was

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        # auto_vacuum must precede the first table: deleted pages then return to the file
        # through PRAGMA incremental_vacuum, never a full VACUUM while the dashboard reads.
        for pragma in (
            "auto_vacuum=INCREMENTAL",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            dbapi_conn.execute(f"PRAGMA {pragma}")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        if immediate:
            check()
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """Opens the database named by a SQLAlchemy URL, creates the schema, reads and writes."""

    def __init__(self, url: str):
        self.url = url
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise StoreError(f"invalid database URL {safe_url(url)!r}: {exc}") from exc
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.sqlite_path: Path | None = None
        self._identity: tuple[int, int] | None = None
        if self.is_sqlite:
            if not parsed.database or parsed.database == ":memory:":
                raise StoreError("starmon needs a SQLite file, not an in-memory database")
            self.sqlite_path = Path(parsed.database)
            self._identity = _open_private(self.sqlite_path)
            self.reader = _sqlite_engine(parsed, immediate=False, check=self.check_file)
            self.writer = _sqlite_engine(parsed, immediate=True, check=self.check_file)
        else:
            try:
                self.reader = self.writer = sa.create_engine(parsed, pool_pre_ping=True)
            except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
                raise StoreError(f"invalid database URL {safe_url(url)!r}: {short_error(exc)}") from exc
        try:
            self.write(migrate, lock="migrate")  # collectors starting together migrate once
        except sa.exc.SQLAlchemyError as exc:
            self.close()
            raise StoreError(f"cannot open database {safe_url(url)}: {short_error(exc)}") from exc

    def check_file(self) -> None:
        """Raise DatabaseLost if the SQLite file is no longer the one opened at start.

        One stat per write transaction and per new connection (about a microsecond, against
        the milliseconds of a write): a deleted or replaced file is noticed at the next write
        instead of after a restart, when everything written since would be gone.
        """
        if self._identity is None:
            return
        try:
            st = os.stat(self.sqlite_path)
            now = (st.st_dev, st.st_ino)
        except OSError:
            now = None
        if now != self._identity:
            raise DatabaseLost(
                f"the database file {os.path.abspath(self.sqlite_path)} was deleted or replaced while "
                "starmon was running, so nothing more can be stored; restart starmon to use the file "
                "now there"
            )

    def close(self) -> None:
        self.reader.dispose()
        if self.writer is not self.reader:
            self.writer.dispose()

    # -- transactions: the only way in for other modules -------------------------------------
    def write(self, fn: Callable[[sa.Connection], T], *, lock: str | tuple[str, str] | None = None) -> T:
        """Run `fn(conn)` in one write transaction and return its result.

        The transaction commits when `fn` returns and rolls back when it raises. On SQLite it
        starts with BEGIN IMMEDIATE, after check_file, so write transactions run one at a time.
        `lock` makes them one at a time on PostgreSQL too, with a transaction advisory lock: a
        job name ("migrate") for one lock, or (job, name) for one lock per name ("sign-in", user).
        """
        with self.writer.begin() as conn:
            if lock is not None and conn.dialect.name == "postgresql":
                if isinstance(lock, str):
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEYS[lock]})
                else:
                    job, name = lock
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
                        {"space": _ADVISORY_KEYS[job], "name": name},
                    )
            return fn(conn)

    def read(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run `fn(conn)` on a read connection and return its result, which must not be lazy
        (a Result is gone with the connection): rows as lists, scalars, dicts."""
        with self.reader.connect() as conn:
            return fn(conn)

    # -- clusters ----------------------------------------------------------------------------
    def sync_clusters(
        self,
        configs: tuple[ClusterConfig, ...],
        changes_of: Callable[[dict | None, dict], Sequence[Event]] | None = None,
    ) -> None:
        """Mirror the TOML-declared clusters into the clusters table.

        Clusters no longer in the file are disabled, not deleted, so their history stays.
        Passwords are never written; only the name of a password environment variable is.
        `changes_of(stored row or None, new values)` names the events a changed row is stored
        with (starmon.clusters.file_changes: the file was edited), in the same transaction.
        """
        t = schema.clusters
        now = time.time()
        wanted = {c.name: dict(c.row_fields(), source="file") for c in configs}

        def differences(conn: sa.Connection) -> tuple[dict, dict, list[int]]:
            existing = {r.name: dict(r._mapping) for r in conn.execute(sa.select(t))}
            changes = {n: v for n, v in wanted.items() if n not in existing or any(existing[n][k] != v[k] for k in v)}
            gone = [r["id"] for n, r in existing.items() if r["source"] == "file" and r["enabled"] and n not in wanted]
            return existing, changes, gone

        # Read first and write only what changed: this runs every round, and with several
        # collectors an UPDATE of every cluster row each time would only contend for locks.
        with self.reader.connect() as conn:
            _, changes, gone = differences(conn)
        if not changes and not gone:
            return

        def sync(conn: sa.Connection) -> None:
            # Again under the write lock: another collector may have synced the same edit meanwhile,
            # and it must be stored (and its event written) once.
            existing, changes, gone = differences(conn)
            for name, values in changes.items():
                if name in existing:
                    cid = existing[name]["id"]
                    conn.execute(t.update().where(t.c.id == cid).values(**values, updated_at=now))
                else:
                    cid = conn.execute(t.insert().values(name=name, **values, updated_at=now)).inserted_primary_key[0]
                if changes_of:
                    self._insert_events(conn, cid, changes_of(existing.get(name), {"name": name, **values}))
            if gone:
                conn.execute(t.update().where(t.c.id.in_(gone)).values(enabled=False, updated_at=now))
            for row in (r for r in existing.values() if changes_of and r["id"] in gone):
                self._insert_events(conn, row["id"], changes_of(row, {**row, "enabled": False}))

        self.write(sync, lock="sync-clusters")

    def enabled_clusters(self) -> list[dict]:
        """Every enabled cluster row, by name."""
        t = schema.clusters
        with self.reader.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.enabled).order_by(t.c.name))]

    def key_file(self) -> Path:
        """Where the password-encryption key lives: STARMON_SECRET_KEY_FILE, else beside the database."""
        given = env_setting("STARMON_SECRET_KEY_FILE", or_default=False)  # its default is worked out here
        if given:
            return Path(given)
        return (self.sqlite_path.parent if self.sqlite_path else Path("data")) / "secret.key"

    def cluster_ids(self) -> dict[str, int]:
        """Name -> id of every enabled cluster."""
        t = schema.clusters
        with self.reader.connect() as conn:
            return {r.name: r.id for r in conn.execute(sa.select(t.c.name, t.c.id).where(t.c.enabled))}

    # -- rounds ------------------------------------------------------------------------------
    def previous_round(self, cluster_id: int) -> PreviousRound | None:
        """The newest stored round of a cluster with its node rows, or None.

        With what events need across rounds (starmon.events.remember): its status, the newest
        node list when it had none (it found the cluster down), and since when what is down was.
        """
        s, n, e = schema.metrics_snapshots, schema.node_snapshots, schema.events
        with self.reader.connect() as conn:
            last = conn.execute(
                sa.select(s.c.id, s.c.ts, s.c.status)
                .where(s.c.cluster_id == cluster_id)
                .order_by(s.c.ts.desc())
                .limit(1)
            ).first()
            if last is None:
                return None
            nodes = tuple(
                node_from_row(dict(r._mapping)) for r in conn.execute(sa.select(n).where(n.c.snapshot_id == last.id))
            )
            listed = nodes
            if not nodes:
                newest = (
                    sa.select(n.c.snapshot_id).where(n.c.cluster_id == cluster_id).order_by(n.c.ts.desc()).limit(1)
                ).scalar_subquery()
                listed = tuple(
                    node_from_row(dict(r._mapping)) for r in conn.execute(sa.select(n).where(n.c.snapshot_id == newest))
                )
            began = dict(
                conn.execute(
                    sa.select(e.c.subject, sa.func.max(e.c.ts))
                    .where(e.c.cluster_id == cluster_id, e.c.kind.in_(("node_down", "cluster_unreachable")))
                    .group_by(e.c.subject)
                ).all()
            )
        down_since = {
            node.key: began[f"{node.role} {node.host}"]
            for node in nodes
            if node.alive is False and f"{node.role} {node.host}" in began
        }
        if last.status == "down" and "" in began:
            down_since["cluster", ""] = began[""]
        return PreviousRound(ts=last.ts, nodes=nodes, status=last.status, listed=listed, down_since=down_since)

    def last_round_times(self, cluster_ids: list[int]) -> dict[int, float]:
        """Cluster id -> ts of its newest stored round, for the clusters that have one."""
        s = schema.metrics_snapshots
        query = (
            sa.select(s.c.cluster_id, sa.func.max(s.c.ts))
            .where(s.c.cluster_id.in_(cluster_ids))
            .group_by(s.c.cluster_id)
        )
        with self.reader.connect() as conn:
            return dict(conn.execute(query).all())

    def write_round(
        self,
        cluster_id: int,
        snapshot: dict,
        nodes: list[dict],
        lease_owner: str | None = None,
        events: Sequence[Event] = (),
    ) -> int:
        """Store one round and the events it showed atomically; returns the snapshot id."""
        return self.write_rounds(cluster_id, [(snapshot, nodes)], lease_owner, events)[0]

    def write_rounds(
        self,
        cluster_id: int,
        rounds: list[tuple[Snapshot | dict, Sequence[NodeReading | dict]]],
        lease_owner: str | None = None,
        events: Sequence[Event] = (),
    ) -> list[int]:
        """Store several rounds of one cluster, and the events they showed, in one transaction (all or none).

        Snapshots and node readings become rows here and only here; a field that is no column
        of its table raises ValueError, so a misspelled key can never be stored as NULL.
        With `lease_owner`, the write happens only while that collector still holds the
        cluster's lease (checked under a row lock in the same transaction), so a collector
        that lost its lease while a round was in flight cannot write it.
        """
        rows = [
            (_row(snapshot, _SNAPSHOT_COLUMNS), [_row(n, _NODE_COLUMNS) for n in nodes]) for snapshot, nodes in rounds
        ]
        ids = []
        with self.writer.begin() as conn:
            if lease_owner is not None:
                lease = schema.collector_leases
                owner = conn.execute(
                    sa.select(lease.c.owner).where(lease.c.cluster_id == cluster_id).with_for_update()
                ).scalar()
                if owner != lease_owner:
                    raise LeaseLost(f"cluster {cluster_id} is now collected by {owner or 'nobody'}")
            for snapshot, nodes in rows:
                # Values as parameters, not .values(): one cached statement instead of building
                # ~45 bound parameters per round (half the cost of a write).
                snap_id = conn.execute(
                    schema.metrics_snapshots.insert(), {**snapshot, "cluster_id": cluster_id}
                ).inserted_primary_key[0]
                if nodes:
                    keys = {"snapshot_id": snap_id, "cluster_id": cluster_id, "ts": snapshot["ts"]}
                    conn.execute(schema.node_snapshots.insert(), [{**node, **keys} for node in nodes])
                ids.append(snap_id)
            self._insert_events(conn, cluster_id, events)
        return ids

    def write_events(self, cluster_id: int, events: Sequence[Event]) -> None:
        """Store events that come with no round (alerts, settings edits: see starmon.events)."""
        with self.writer.begin() as conn:
            self._insert_events(conn, cluster_id, events)

    def _insert_events(self, conn: sa.Connection, cluster_id: int, events: Sequence[Event]) -> None:
        """Insert events, skipping any already stored (same cluster, time, kind and subject): once each."""
        if events:
            conn.execute(
                self.insert_ignoring_duplicates(schema.events), [{**e.row(), "cluster_id": cluster_id} for e in events]
            )

    def previous_statistics(self, cluster_id: int) -> dict | None:
        """The newest statistics pass of a cluster, its lists decoded, for the next pass's events."""
        d = schema.data_statistics
        query = sa.select(d).where(d.c.cluster_id == cluster_id).order_by(d.c.ts.desc()).limit(1)
        with self.reader.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        lists = ("top_tables", "materialized_views", "schema_changes")
        return {k: json.loads(v) if k in lists and v is not None else v for k, v in row._mapping.items()}

    def write_statistics(self, cluster_id: int, stats: dict, tables: list[dict], events: Sequence[Event] = ()) -> None:
        """Store one statistics pass, its per-table sizes and the events it showed atomically."""
        row = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in stats.items()}
        with self.writer.begin() as conn:
            self._insert_events(conn, cluster_id, events)
            conn.execute(schema.data_statistics.insert().values(cluster_id=cluster_id, **row))
            if tables:
                conn.execute(
                    schema.table_size_history.insert(),
                    [{**tb, "cluster_id": cluster_id, "ts": stats["ts"]} for tb in tables],
                )

    # -- engine-specific SQL -----------------------------------------------------------------
    def bucket(self, ts: sa.ColumnElement, seconds: int) -> sa.ColumnElement:
        """Start of the `seconds`-wide time bucket holding `ts` (floor division per engine)."""
        if self.is_sqlite:  # ts is positive, so truncation is floor
            return sa.cast(ts / seconds, sa.Integer) * seconds
        return sa.func.floor(ts / seconds) * seconds

    def insert_ignoring_duplicates(self, table: sa.Table) -> sa.Insert:
        """INSERT that skips rows whose key exists (ON CONFLICT DO NOTHING, per engine)."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table).on_conflict_do_nothing()

    def reclaim_space(self) -> None:
        """Give deleted pages back to the file system without blocking readers (SQLite only)."""
        if self.is_sqlite:
            with self.writer.connect() as conn:
                conn.exec_driver_sql("PRAGMA incremental_vacuum")
                conn.commit()

    @contextmanager
    def only_one(self, job: str) -> Iterator[bool]:
        """Whether this process may run `job` now, while no other does.

        Several collectors share a PostgreSQL database, and a job like retention needs doing
        once, not once per collector at the same moment: a session advisory lock, which the
        server also lets go if the holder's connection dies. A SQLite file has one writer anyway.
        """
        if self.is_sqlite:
            yield True
            return
        key = _ADVISORY_KEYS[job]  # advisory keys are per database: one starmon per database
        with self.writer.connect() as conn:
            mine = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            conn.commit()
            try:
                yield bool(mine)
            finally:
                if mine:
                    try:
                        conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        conn.commit()
                    except sa.exc.SQLAlchemyError:
                        # never hand a connection still holding the lock back to the pool;
                        # closing the session is what lets the server release it
                        conn.invalidate()

    # -- single writer -----------------------------------------------------------------------
    def writer_lock(self) -> WriterLock:
        """The lock that makes one collector the only writer of this database."""
        if self.sqlite_path is not None:
            return WriterLock(self.sqlite_path.with_name(self.sqlite_path.name + ".collector.lock"))
        digest = hashlib.sha256(safe_url(self.url).encode()).hexdigest()[:12]
        return WriterLock(Path("data") / f"collector-{digest}.lock")


def _open_private(path: Path) -> tuple[int, int]:
    """Create the SQLite file owner-only if it is new; return its (device, inode).

    SQLite gives the -wal and -shm files the main file's permissions, so creating the main
    file 0600 before SQLite opens it keeps all three private (the snapshots and the encrypted
    passwords are nobody else's business), whatever the umask.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from exc
    # An existing file is only stat'ed, never opened: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, SQLite's included, and another process could then take
    # itself for the last user and delete the write-ahead log under our open connections.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fd = None
    except OSError as exc:
        raise StoreError(f"cannot open database {path}: {exc.strerror}") from exc
    if fd is not None:
        os.close(fd)  # new: no connection of ours has it open yet
    try:
        st = os.stat(path)
    except OSError as exc:
        raise StoreError(f"cannot open database {path}: {exc.strerror}") from exc
    return st.st_dev, st.st_ino
