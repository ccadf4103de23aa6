"""Build the configured outcome store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from monitoring.postgres import PostgresOutcomeConfig, PostgresOutcomeStore
from monitoring.sqlite import SQLiteOutcomeConfig, SQLiteOutcomeStore
from monitoring.store import OutcomeStore

OutcomeConfig = Annotated[SQLiteOutcomeConfig | PostgresOutcomeConfig,
                          Field(discriminator="type")]


def open_outcome_store(config: OutcomeConfig) -> OutcomeStore:
    match config:
        case SQLiteOutcomeConfig():
            return SQLiteOutcomeStore(config)
        case PostgresOutcomeConfig():
            return PostgresOutcomeStore(config)
    raise ValueError(f"unknown outcome store type {config!r}")
