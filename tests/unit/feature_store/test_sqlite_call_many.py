"""The embedded store's `call_many`: a feature-lane turn's velocity calls in one write
transaction, on a real SQLite file."""

from __future__ import annotations

import sqlite3

from feature_store.protocol import BucketRange, FeatureSet
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from tests.contract.test_feature_store import lane_turn

FS = FeatureSet("application_velocity", "2")


def velocity(subject):
    return (FS, {f"{subject}|10": (1, 60.0)}, {"n": BucketRange(f"{subject}|", 9, 10)})


def test_a_turn_s_velocity_calls_share_one_transaction(tmp_path):
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    commits = []
    store._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    got = lane_turn([(store.increment_and_sum, velocity(s)) for s in "abc"])
    assert got == [{"n": 1}] * 3
    assert commits == ["COMMIT"]


def test_a_write_that_fails_fails_the_turn_s_velocity_calls_not_its_reads(tmp_path):
    """Another process holds the write lock past the busy timeout: every velocity call of
    the turn gets the error (each caller's degradation); the cached read is answered."""
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db", busy_timeout_s=0.1))
    store.put(FS, "e1", {"v": 1})
    other = sqlite3.connect(tmp_path / "f.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        got = lane_turn([(store.increment_and_sum, velocity("a")), (store.get, (FS, "e1")),
                         (store.increment_and_sum, velocity("b"))])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert isinstance(got[0], sqlite3.OperationalError)
    assert got[1] == {"v": 1}
    assert isinstance(got[2], sqlite3.OperationalError)
    assert store.counts(FS, ["a|10", "b|10"]) == {}  # nothing half-written
