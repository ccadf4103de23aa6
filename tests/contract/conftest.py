"""Every feature-store backend, on a real server with fresh state per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from feature_store.dynamodb import DynamoDBConfig
from feature_store.factory import build_store
from feature_store.protocol import FeatureStore
from feature_store.redis import RedisConfig
from feature_store.sqlite import SQLiteConfig
from feature_store.tiered import TieredConfig

BACKENDS = ["sqlite", "redis", "dynamodb", "tiered"]


def instances(build: Callable[[], object]) -> Iterator[Callable[[], object]]:
    """For a fixture to `yield from`: a function opening store instances on one backing
    store, as separate workers would; every instance is closed afterwards."""
    made: list = []

    def make():
        made.append(build())
        return made[-1]

    yield make
    for s in made:
        s.close()


def store_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    if kind == "sqlite":
        return SQLiteConfig(path=tmp_path / "features.db")
    if kind == "redis":
        return RedisConfig(url=request.getfixturevalue("redis_url"))
    dynamo = DynamoDBConfig(endpoint=request.getfixturevalue("dynamodb_endpoint"),
                            table_name=f"features-{uuid.uuid4().hex[:8]}")
    if kind == "dynamodb":
        return dynamo
    return TieredConfig(redis=RedisConfig(url=request.getfixturevalue("redis_url")),
                        dynamodb=dynamo)


CONFIGS: dict[int, object] = {}  # id(store) -> its config, for a second client of it


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FeatureStore]:
    config = store_config(request.param, tmp_path, request)
    s = build_store(config)
    CONFIGS[id(s)] = config
    yield s
    CONFIGS.pop(id(s), None)
    s.close()
