"""Build the configured review store (a config model per backend, a union, a factory). The
PostgreSQL backend adds its config to the union and a case below."""

from __future__ import annotations

from review.sqlite import SQLiteReviewConfig, SQLiteReviewStore
from review.store import ReviewStore

# One member for now; with PostgreSQL: Annotated[SQLite... | Postgres..., Field(discriminator="type")]
ReviewConfig = SQLiteReviewConfig


def build_review_store(config: ReviewConfig) -> ReviewStore:
    match config:
        case SQLiteReviewConfig():
            return SQLiteReviewStore(config.path, config.timeout_s)
    raise ValueError(f"unknown review store type {config!r}")
