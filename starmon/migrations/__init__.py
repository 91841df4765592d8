"""Schema migrations (Alembic). `starmon.store.Store` upgrades every database it opens to head."""
