"""The audit log's PostgreSQL schema, as the Alembic branch `audit` (core/schema.py)."""
