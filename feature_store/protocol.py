"""The feature-store port: get/put feature values for one or many entities of a named,
versioned feature set, with a time to live, plus atomic counters for real-time features.

Values are JSON-able dicts. An expired entry reads as missing. Every backend (sqlite.py,
redis.py, dynamodb.py, tiered.py) passes the same contract suite (tests/contract/).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned set of features; `ttl_s` is the default time to live (None: forever).
    A new version is a new key space, so old and new can be served side by side."""

    name: str
    version: str
    ttl_s: float | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or not re.match(r"^[A-Za-z0-9.]{1,16}$", self.version):
            raise ValueError("feature set name must be snake_case and version alphanumeric")

    @property
    def key(self) -> str:
        return f"{self.name}:v{self.version}"


@dataclass(frozen=True)
class BucketRange:
    """The counters of the entities `prefix + str(b)` for b from `first` to `last` (a
    sliding window's buckets)."""

    prefix: str
    first: int
    last: int

    def entities(self) -> list[str]:
        return [f"{self.prefix}{b}" for b in range(self.first, self.last + 1)]


class FeatureStore(Protocol):
    def get(self, fs: FeatureSet, entity: str) -> dict[str, Any] | None: ...

    def get_many(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Found entities only; missing or expired ones are left out."""
        ...

    def put(self, fs: FeatureSet, entity: str, values: Mapping[str, Any],
            ttl_s: float | None = None) -> None: ...

    def put_many(self, fs: FeatureSet, rows: Mapping[str, Mapping[str, Any]],
                 ttl_s: float | None = None) -> None:
        """Upsert every row (idempotent: the same rows twice leave the same state)."""
        ...

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        """Atomically add to each entity's counter; returns the new counts."""
        ...

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        """Atomically add to each entity's counter, each with its own TTL (amount, ttl_s),
        then read the counters of `entities` (as `counts`): one round trip or transaction
        where the backend allows, since it runs on every decision (velocity)."""
        ...

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        """As `increment_and_count`, then each named range's sum (missing or expired
        counters count 0): the velocity windows, in one call per decision. A backend that
        reads counters itself uses `sum_ranges`; Redis sums on the server."""
        ...

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        """Counters of the entities that have one (missing or expired are left out)."""
        ...

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        """Remove the entities' values and counters (erasure); returns how many were held."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def ttl_of(fs: FeatureSet, ttl_s: float | None) -> float | None:
    return fs.ttl_s if ttl_s is None else ttl_s


def sum_ranges(store: FeatureStore, fs: FeatureSet,
               amounts: Mapping[str, tuple[int, float | None]],
               ranges: Mapping[str, BucketRange]) -> dict[str, int]:
    """`increment_and_sum` by way of `increment_and_count`."""
    return range_sums(ranges, partial(store.increment_and_count, fs, amounts))


def range_sums(ranges: Mapping[str, BucketRange],
               read: Callable[[list[str]], Mapping[str, int]]) -> dict[str, int]:
    """Each named range's sum, the counters of all of them read by one `read` call."""
    entities = {name: r.entities() for name, r in ranges.items()}
    found = read([e for es in entities.values() for e in es])
    return {name: sum(found.get(e, 0) for e in es) for name, es in entities.items()}


def alone(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, BaseException | None]:
    """One call of a lane turn (`call_many`): its value, or the exception it raised."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - that caller's to raise
        return None, exc
