"""Build the configured outcome store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from monitoring.sqlite import SQLiteOutcomeConfig, SQLiteOutcomeStore
from monitoring.store import OutcomeStore

# One backend so far; with the PostgreSQL one this becomes
# Annotated[SQLiteOutcomeConfig | PostgresOutcomeConfig, Field(discriminator="type")].
OutcomeConfig = SQLiteOutcomeConfig


def open_outcome_store(config: OutcomeConfig) -> OutcomeStore:
    match config:
        case SQLiteOutcomeConfig():
            return SQLiteOutcomeStore(config)
    raise ValueError(f"unknown outcome store type {config!r}")
