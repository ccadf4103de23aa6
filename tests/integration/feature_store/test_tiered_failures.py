"""The tiered store when Redis dies, freezes or forgets: reads come from DynamoDB in time."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
import redis

from feature_store.dynamodb import DynamoDBConfig
from feature_store.protocol import FeatureSet
from feature_store.redis import RedisConfig
from feature_store.tiered import TieredConfig, TieredFeatureStore
from tests import servers

FS = FeatureSet("customer_features", "1")


@pytest.fixture
def private_redis():
    """A redis-server of this test only, so killing or freezing it spares the shared one."""
    with servers.redis_server() as (url, proc):
        try:
            yield url, proc
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)


def tiered(redis_url: str, endpoint: str) -> TieredFeatureStore:
    return TieredFeatureStore(TieredConfig(
        redis=RedisConfig(url=redis_url),
        dynamodb=DynamoDBConfig(endpoint=endpoint, table_name=f"t-{uuid.uuid4().hex[:8]}"),
        retry_after_s=30))


def test_writes_reach_both_tiers(redis_url, dynamodb_endpoint):
    """A put is in DynamoDB and in Redis."""
    store = tiered(redis_url, dynamodb_endpoint)
    store.put(FS, "C-1", {"a": 1})
    assert store.durable.get(FS, "C-1") == {"a": 1}
    assert store.redis.get(FS, "C-1") == {"a": 1}


def test_losing_redis_loses_nothing_and_a_miss_refills(redis_url, dynamodb_endpoint):
    """After Redis forgets everything, reads come from DynamoDB and refill Redis with the
    remaining TTL."""
    store = tiered(redis_url, dynamodb_endpoint)
    store.put_many(FS, {"C-1": {"a": 1}, "C-2": {"a": 2}}, ttl_s=100)
    store.increment(FS, {"k": 3})
    redis.Redis.from_url(redis_url).flushall()
    assert store.get_many(FS, ["C-1", "C-2"]) == {"C-1": {"a": 1}, "C-2": {"a": 2}}
    assert store.counts(FS, ["k"]) == {"k": 3}
    assert store.redis.get(FS, "C-1") == {"a": 1}
    assert store.redis.counts(FS, ["k"]) == {"k": 3}
    pttl = redis.Redis.from_url(redis_url).pttl(f"fs:{FS.key}:v:C-1")
    assert 90_000 < pttl <= 100_000


def test_killed_redis_falls_back_to_dynamodb(private_redis, dynamodb_endpoint):
    """With redis-server killed, reads and writes keep working on DynamoDB alone."""
    url, proc = private_redis
    store = tiered(url, dynamodb_endpoint)
    store.put(FS, "C-1", {"a": 1})
    proc.kill()
    proc.wait()
    t = time.perf_counter()
    assert store.get(FS, "C-1") == {"a": 1}
    store.put(FS, "C-2", {"a": 2})
    assert store.get(FS, "C-2") == {"a": 2}
    assert time.perf_counter() - t < 2.0


def test_frozen_redis_costs_one_timeout_then_none(private_redis, dynamodb_endpoint):
    """SIGSTOP: the first read waits one socket timeout (50 ms) then falls back; while the
    breaker is open later reads skip Redis entirely."""
    url, proc = private_redis
    store = tiered(url, dynamodb_endpoint)
    store.put(FS, "C-1", {"a": 1})
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        t = time.perf_counter()
        assert store.get(FS, "C-1") == {"a": 1}
        first = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(5):
            assert store.get(FS, "C-1") == {"a": 1}
        later = (time.perf_counter() - t) / 5
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert first < 0.5
    assert later < first  # no socket timeout is paid again
    assert store.breaker.current_state == "open"
