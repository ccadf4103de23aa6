"""Build the configured review store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from review.postgres import PostgresReviewConfig, PostgresReviewStore
from review.sqlite import SQLiteReviewConfig, SQLiteReviewStore
from review.store import ReviewStore

ReviewConfig = Annotated[SQLiteReviewConfig | PostgresReviewConfig, Field(discriminator="type")]


def build_review_store(config: ReviewConfig) -> ReviewStore:
    match config:
        case SQLiteReviewConfig():
            return SQLiteReviewStore(config.path, config.timeout_s)
        case PostgresReviewConfig():
            return PostgresReviewStore(config)
    raise ValueError(f"unknown review store type {config!r}")
