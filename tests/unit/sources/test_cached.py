"""CachingSource: fresh answers from the store, new answers stored, store failures harmless."""

from __future__ import annotations

import asyncio

import pytest

from audit.pii import Pseudonymizer
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from sources.base import SourceResult
from sources.cached import CachingSource

PSEUDO = Pseudonymizer(b"k" * 32)


class CountingSource:
    """A Source (our Protocol) that answers from a dict and counts its calls."""

    name = "bureau"

    def __init__(self) -> None:
        self.calls = 0

    async def fetch(self, national_id: str) -> SourceResult:
        self.calls += 1
        return SourceResult({"bad_records": False, "debt": 12.5}, "ab" * 32, 3.0)


class BrokenStore:
    """A FeatureStore (our Protocol) whose backend is down."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("down")
        return fail


@pytest.fixture
def store(tmp_path):
    s = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    yield s
    s.close()


def test_second_fetch_is_a_cache_hit(store):
    """The second fetch of an id costs no source call and returns the same values and hash."""
    inner = CountingSource()
    src = CachingSource(inner, store, 60, PSEUDO)
    first = asyncio.run(src.fetch("00000001R"))
    second = asyncio.run(src.fetch("00000001R"))
    assert inner.calls == 1
    assert first.cached_at is None and second.cached_at is not None
    assert (second.values, second.raw_sha256) == (first.values, first.raw_sha256)


def test_expired_entry_calls_the_source_again(store):
    """Past the TTL, the source is asked again."""
    inner = CountingSource()
    src = CachingSource(inner, store, 0.2, PSEUDO)
    asyncio.run(src.fetch("00000001R"))
    asyncio.run(asyncio.sleep(0.3))
    asyncio.run(src.fetch("00000001R"))
    assert inner.calls == 2


def test_store_failure_falls_back_to_the_source():
    """A broken store costs a source call, never an error."""
    inner = CountingSource()
    res = asyncio.run(CachingSource(inner, BrokenStore(), 60, PSEUDO).fetch("00000001R"))
    assert inner.calls == 1 and res.values["debt"] == 12.5


def test_cache_key_is_a_pseudonym(store, tmp_path):
    """The national id is never written to the store."""
    asyncio.run(CachingSource(CountingSource(), store, 60, PSEUDO).fetch("12345678Z"))
    assert b"12345678Z" not in (tmp_path / "f.db").read_bytes()
