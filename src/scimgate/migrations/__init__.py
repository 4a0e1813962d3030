"""Alembic migrations. ``scimgate.store.schema_migrations`` runs them; the same scripts serve SQLite and PostgreSQL."""
