"""Alembic's environment for every PostgreSQL branch (core/schema.py); the revisions live
beside each store (audit/migrations/, ...)."""
