"""Schema migrations (Alembic) and the admin user, for the migration-operator Job."""
