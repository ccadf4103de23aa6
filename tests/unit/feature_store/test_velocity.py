"""Velocity counters on the embedded store (the contract suite covers the other backends)."""

from __future__ import annotations

import pytest

from audit.pii import Pseudonymizer
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from feature_store.velocity import Velocity

NOW = 1_800_000_000.0  # a fixed instant, aligned to nothing in particular


@pytest.fixture
def velocity(tmp_path):
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    yield Velocity(store, Pseudonymizer(b"k" * 32))
    store.close()


def test_first_application_counts_one_everywhere(velocity):
    """The application being decided is part of its own counts."""
    got = velocity.record("C-1", "00000001R", NOW)
    assert got == {f"{s}_applications_{w}": 1
                   for s in ("customer", "national_id") for w in ("1h", "24h", "30d")}


def test_windows_forget_old_applications(velocity):
    """Applications older than a window drop out of it but stay in the longer ones."""
    velocity.record("C-1", "00000001R", NOW - 2 * 86400)   # two days ago
    velocity.record("C-1", "00000001R", NOW - 3 * 3600)    # three hours ago
    got = velocity.record("C-1", "00000001R", NOW)
    assert got["customer_applications_1h"] == 1
    assert got["customer_applications_24h"] == 2
    assert got["customer_applications_30d"] == 3
    assert velocity.counts("C-1", "00000001R", NOW + 40 * 86400)["customer_applications_30d"] == 0


def test_customer_and_national_id_are_counted_apart(velocity):
    """Two customer ids with one national id: per-id counts add up, per-customer do not."""
    velocity.record("C-1", "00000001R", NOW)
    got = velocity.record("C-2", "00000001r", NOW)  # same id, other spelling
    assert got["customer_applications_24h"] == 1
    assert got["national_id_applications_24h"] == 2


def test_store_holds_no_national_id(velocity, tmp_path):
    """Only the keyed pseudonym of the national id reaches the store."""
    velocity.record("C-1", "12345678Z", NOW)
    assert b"12345678Z" not in (tmp_path / "f.db").read_bytes()
