"""Build the configured feature store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from feature_store.dynamodb import DynamoDBConfig, DynamoDBFeatureStore
from feature_store.protocol import FeatureStore
from feature_store.redis import RedisConfig, RedisFeatureStore
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from feature_store.tiered import TieredConfig, TieredFeatureStore

StoreConfig = Annotated[SQLiteConfig | RedisConfig | DynamoDBConfig | TieredConfig,
                        Field(discriminator="type")]


def build_store(config: StoreConfig) -> FeatureStore:
    match config:
        case SQLiteConfig():
            return SQLiteFeatureStore(config)
        case RedisConfig():
            return RedisFeatureStore(config)
        case DynamoDBConfig():
            return DynamoDBFeatureStore(config)
        case TieredConfig():
            return TieredFeatureStore(config)
    raise ValueError(f"unknown feature store type {config!r}")
