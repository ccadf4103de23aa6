"""Durable backend: DynamoDB through pynamodb. One item per (feature set, entity); counters
are separate items updated with an atomic ADD. Expiry is an attribute checked on read (and
usable as the table's TTL attribute so DynamoDB deletes expired items itself).

Throttling (ProvisionedThroughputExceeded, ThrottlingException) is retried by botocore's
"standard" retry mode with exponential backoff and jitter; pynamodb sets it up from
`max_retry_attempts` (see ADR 0023)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from feature_store.protocol import BucketRange, FeatureSet, sum_ranges, ttl_of


class DynamoDBConfig(BaseModel):
    type: Literal["dynamodb"] = "dynamodb"
    table_name: str = "credit-features"
    endpoint: str | None = None  # empty: AWS itself
    region: str = "eu-west-1"
    connect_timeout_s: float = Field(default=1.0, gt=0)
    read_timeout_s: float = Field(default=1.0, gt=0)
    max_retry_attempts: int = Field(default=5, ge=0)
    create_table: bool = True


def _model(config: DynamoDBConfig) -> type[Model]:
    """A pynamodb model bound to this config (pynamodb keeps connection settings on Meta, so
    each store gets its own class instead of a module-level one)."""

    class Meta:
        table_name = config.table_name
        host = config.endpoint or None
        region = config.region
        connect_timeout_seconds = config.connect_timeout_s
        read_timeout_seconds = config.read_timeout_s
        max_retry_attempts = config.max_retry_attempts
        billing_mode = "PAY_PER_REQUEST"

    return type("FeatureItem", (Model,), {
        "Meta": Meta,
        "__module__": __name__,
        "key": UnicodeAttribute(hash_key=True),
        "value": UnicodeAttribute(null=True),
        "n": NumberAttribute(null=True),  # counter ("count" is a Model method)
        "expires_at": NumberAttribute(null=True),
    })


def _live(item: Any, now: float) -> bool:
    return item.expires_at is None or item.expires_at > now


class DynamoDBFeatureStore:
    def __init__(self, config: DynamoDBConfig) -> None:
        self._m = _model(config)
        if config.create_table and not self._m.exists():
            self._m.create_table(billing_mode="PAY_PER_REQUEST", wait=True)

    @staticmethod
    def _key(fs: FeatureSet, entity: str, kind: str = "v") -> str:
        return f"{fs.key}#{kind}#{entity}"

    def get(self, fs: FeatureSet, entity: str) -> dict[str, Any] | None:
        return self.get_many(fs, [entity]).get(entity)

    def get_many(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {e: v for e, (v, _) in self.get_many_with_expiry(fs, entities).items()}

    def get_many_with_expiry(self, fs: FeatureSet, entities: Sequence[str]
                             ) -> dict[str, tuple[dict[str, Any], float | None]]:
        """Found entities with their absolute expiry (epoch seconds), for cache refills."""
        keys = {self._key(fs, e): e for e in entities}
        now = time.time()
        return {keys[it.key]: (orjson.loads(it.value), it.expires_at)
                for it in self._m.batch_get(list(keys))
                if it.value is not None and _live(it, now)}

    def put(self, fs: FeatureSet, entity: str, values: Mapping[str, Any],
            ttl_s: float | None = None) -> None:
        self.put_many(fs, {entity: values}, ttl_s)

    def put_many(self, fs: FeatureSet, rows: Mapping[str, Mapping[str, Any]],
                 ttl_s: float | None = None) -> None:
        ttl = ttl_of(fs, ttl_s)
        exp = None if ttl is None else time.time() + ttl
        items = [self._m(self._key(fs, e), value=orjson.dumps(dict(v)).decode(), expires_at=exp)
                 for e, v in rows.items()]
        if len(items) == 1:
            items[0].save()
            return
        with self._m.batch_write() as batch:  # 25 per request, unprocessed items retried
            for item in items:
                batch.save(item)

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        ttl = ttl_of(fs, ttl_s)
        exp = None if ttl is None else time.time() + ttl
        out: dict[str, int] = {}
        for entity, n in amounts.items():
            item = self._m(self._key(fs, entity, "n"))
            actions = [self._m.n.add(n)]
            if exp is not None:
                actions.append(self._m.expires_at.set(exp))
            item.update(actions=actions)  # UpdateItem ADD: atomic, creates the item if absent
            out[entity] = int(item.n)
        return out

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        return sum_ranges(self, fs, amounts, ranges)

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        # DynamoDB has no multi-item atomic ADD with reads: each ADD, then one batch read.
        for entity, (n, ttl_s) in amounts.items():
            self.increment(fs, {entity: n}, ttl_s)
        return self.counts(fs, entities)

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        return {e: n for e, (n, _) in self.counts_with_expiry(fs, entities).items()}

    def counts_with_expiry(self, fs: FeatureSet, entities: Sequence[str]
                           ) -> dict[str, tuple[int, float | None]]:
        keys = {self._key(fs, e, "n"): e for e in entities}
        now = time.time()
        return {keys[it.key]: (int(it.n), it.expires_at)
                for it in self._m.batch_get(list(keys))
                if it.n is not None and _live(it, now)}

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        keys = [self._key(fs, e, kind) for e in entities for kind in ("v", "n")]
        held = [it for it in self._m.batch_get(keys)] if keys else []
        with self._m.batch_write() as batch:
            for item in held:
                batch.delete(item)
        return len(held)

    def ping(self) -> None:
        self._m.describe_table()

    def close(self) -> None:
        pass  # botocore's pool closes with the process
