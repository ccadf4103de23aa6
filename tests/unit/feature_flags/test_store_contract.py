import pytest

from feature_flags.model import CountryFlag
from feature_flags.store import VersionConflict


def test_empty_store(store_factory):
    assert store_factory().load() == {}


def test_put_then_load_from_another_instance(store_factory):
    """A change written by one worker is read by another."""
    a, b = store_factory(), store_factory()
    stored = a.put(CountryFlag("ES", "canary", 2000, 0, "t", "ana", "pilot"), expected_version=0)
    assert stored.version == 1
    assert b.load()["ES"] == stored


def test_version_token_moves_on_every_change(store_factory):
    s = store_factory()
    seen = {s.version()}
    for i in range(3):
        s.put(CountryFlag("PT", "shadow", 0), expected_version=i)
        seen.add(s.version())
    assert len(seen) == 4


def test_stale_write_is_refused(store_factory):
    """Optimistic concurrency: a writer that read version 0 loses to one that wrote 1."""
    a, b = store_factory(), store_factory()
    a.put(CountryFlag("ES", "full", 10000), expected_version=0)
    with pytest.raises(VersionConflict):
        b.put(CountryFlag("ES", "legacy", 0), expected_version=0)
    assert a.load()["ES"].mode == "full"


def test_countries_are_independent(store_factory):
    s = store_factory()
    s.put(CountryFlag("ES", "full", 10000), expected_version=0)
    s.put(CountryFlag("FR", "legacy", 0), expected_version=0)
    assert {c: f.mode for c, f in s.load().items()} == {"ES": "full", "FR": "legacy"}
    s.ping()
