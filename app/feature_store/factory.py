"""Build the configured feature store (called from app/bootstrap.py only)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.feature_store.dynamodb import DynamoDBConfig, DynamoDBFeatureStore
from app.feature_store.protocol import FeatureStore
from app.feature_store.redis import RedisConfig, RedisFeatureStore
from app.feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from app.feature_store.tiered import TieredConfig, TieredFeatureStore

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


def config_from_settings(settings) -> StoreConfig:  # settings: app.settings.Settings
    redis_cfg = RedisConfig(url=settings.redis_url, socket_timeout_s=settings.redis_timeout_s,
                            connect_timeout_s=settings.redis_timeout_s)
    dynamo_cfg = DynamoDBConfig(table_name=settings.feature_table,
                                endpoint=settings.dynamodb_endpoint or None,
                                region=settings.dynamodb_region)
    match settings.feature_store:
        case "sqlite":
            return SQLiteConfig(path=settings.feature_db_path)
        case "redis":
            return redis_cfg
        case "dynamodb":
            return dynamo_cfg
        case _:
            return TieredConfig(redis=redis_cfg, dynamodb=dynamo_cfg)
