"""The production store: Redis read-through over DynamoDB, written through to both.

DynamoDB is the system of record, so it is written first; Redis is a cache that may be lost at
any time. A Redis miss is read from DynamoDB and refilled into Redis with the entry's remaining
lifetime. A Redis failure (killed, frozen, timing out) opens a breaker: for `retry_after_s`
reads and writes go to DynamoDB only, so a frozen Redis costs one socket timeout, not one per
request. See ADR 0021 and docs/runbooks/redis-outage-feature-store.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import orjson
import pybreaker
import redis
from pydantic import BaseModel, Field

from feature_store.dynamodb import DynamoDBConfig, DynamoDBFeatureStore
from feature_store.protocol import BucketRange, FeatureSet, sum_ranges, ttl_of
from feature_store.redis import RedisConfig, RedisFeatureStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class TieredConfig(BaseModel):
    type: Literal["tiered"] = "tiered"
    redis: RedisConfig
    dynamodb: DynamoDBConfig
    retry_after_s: float = Field(default=5.0, gt=0)  # how long to skip Redis after a failure


def _remaining_px(expires_at: float | None, now: float) -> int | None:
    return None if expires_at is None else max(1, int((expires_at - now) * 1000))


class TieredFeatureStore:
    def __init__(self, config: TieredConfig) -> None:
        self.redis = RedisFeatureStore(config.redis)
        self.durable = DynamoDBFeatureStore(config.dynamodb)
        self.breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=config.retry_after_s)

    def _cache(self, call: Callable[[], T]) -> T | None:
        """Run a Redis call unless its breaker is open; None on any Redis failure."""
        try:
            return self.breaker.call(call)
        except (pybreaker.CircuitBreakerError, redis.RedisError) as exc:
            log.warning("feature store: redis skipped (%s)", type(exc).__name__)
            return None

    def get(self, fs: FeatureSet, entity: str) -> dict[str, Any] | None:
        return self.get_many(fs, [entity]).get(entity)

    def get_many(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self._cache(lambda: self.redis.get_many(fs, entities))
        redis_ok = found is not None
        found = found or {}
        missing = [e for e in entities if e not in found]
        if missing:
            durable = self.durable.get_many_with_expiry(fs, missing)
            found.update({e: v for e, (v, _) in durable.items()})
            if durable and redis_ok:
                now = time.time()
                px = {e: _remaining_px(exp, now) for e, (_, exp) in durable.items()}
                self._cache(lambda: self.redis.put_encoded(
                    fs, {e: orjson.dumps(v) for e, (v, _) in durable.items()}, None,
                    {e: p for e, p in px.items() if p is not None}))
        return found

    def put(self, fs: FeatureSet, entity: str, values: Mapping[str, Any],
            ttl_s: float | None = None) -> None:
        self.put_many(fs, {entity: values}, ttl_s)

    def put_many(self, fs: FeatureSet, rows: Mapping[str, Mapping[str, Any]],
                 ttl_s: float | None = None) -> None:
        self.durable.put_many(fs, rows, ttl_s)
        self._cache(lambda: self.redis.put_many(fs, rows, ttl_s))

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        # DynamoDB's atomic ADD is the truth; Redis gets the resulting values (not its own
        # increment), so a counter that missed writes during an outage heals on the next one.
        counts = self.durable.increment(fs, amounts, ttl_s)
        ttl = ttl_of(fs, ttl_s)
        self._cache(lambda: self.redis.set_counts(
            fs, counts, None if ttl is None else max(1, int(ttl * 1000))))
        return counts

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        return sum_ranges(self, fs, amounts, ranges)

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        for entity, (n, ttl_s) in amounts.items():
            self.increment(fs, {entity: n}, ttl_s)
        return self.counts(fs, entities)

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        found = self._cache(lambda: self.redis.counts(fs, entities))
        redis_ok = found is not None
        found = found or {}
        missing = [e for e in entities if e not in found]
        if missing:
            durable = self.durable.counts_with_expiry(fs, missing)
            found.update({e: n for e, (n, _) in durable.items()})
            if durable and redis_ok:
                now = time.time()
                for e, (n, exp) in durable.items():
                    self._cache(lambda e=e, n=n, exp=exp: self.redis.set_counts(
                        fs, {e: n}, _remaining_px(exp, now)))
        return found

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        gone = self.durable.delete(fs, entities)
        # Redis down: its copies expire by their TTL (erasure waits at most that long there).
        self._cache(lambda: self.redis.delete(fs, entities))
        return gone

    def ping(self) -> None:
        self.durable.ping()  # Redis down is a degradation, not unreadiness

    def close(self) -> None:
        self.redis.close()
        self.durable.close()
