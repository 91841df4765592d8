"""Schema migrations: the newest revision equals the code's schema, and upgrades keep history."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext

from starmon import schema
from starmon.store import MIGRATIONS, Store


def _alembic(conn) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_migrations_build_exactly_the_declared_schema(db_url):
    store = Store(db_url)
    with store.writer.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, schema.metadata)
        revision = context.get_current_revision()
    store.close()
    # Column comments are documentation in schema.py; PostgreSQL stores them, migrations need not.
    ops = [
        d
        for d in diff
        if not (isinstance(d, list) and d[0][0] == "modify_comment")
        and not (isinstance(d, tuple) and d[0].endswith("table_comment"))
    ]
    assert ops == [], ops
    assert revision == "0009"


def test_upgrade_from_the_previous_schema_keeps_every_row(db_url):
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # a database as the previous version left it
        command.upgrade(_alembic(conn), "0001")
        conn.execute(
            sa.text(
                'INSERT INTO clusters (name, fe_host, http_port, query_port, "user", tls, enabled, '
                "source, updated_at) VALUES ('prod', '10.0.0.1', 8030, 9030, 'root', true, true, "
                "'file', 1.0)"
            )
        )
        cluster_id = conn.execute(sa.text("SELECT id FROM clusters")).scalar()
        for i in range(5):
            conn.execute(
                sa.text(
                    "INSERT INTO metrics_snapshots (cluster_id, ts, status, collect_ms, qps) "
                    "VALUES (:c, :ts, 'ok', 5, :qps)"
                ),
                {"c": cluster_id, "ts": 100.0 + i, "qps": i * 1.5},
            )
    engine.dispose()
    store = Store(db_url)  # opening it upgrades to the newest revision
    with store.reader.connect() as conn:
        rows = conn.execute(
            sa.select(schema.metrics_snapshots.c.ts, schema.metrics_snapshots.c.qps).order_by(
                schema.metrics_snapshots.c.ts
            )
        ).all()
        cluster = conn.execute(sa.select(schema.clusters)).one()
    assert [tuple(r) for r in rows] == [(100.0 + i, i * 1.5) for i in range(5)]
    assert cluster.name == "prod" and cluster.tls_verify is True  # the new column defaults to verifying
    assert store.previous_round(cluster_id).ts == 104.0
    store.close()
