"""The embedded store's `call_many`: a feature-lane turn's velocity calls in one write
transaction, on a real SQLite file. Its reads run on the event loop (core/blocking.py); its
writes reach the lane, and `call_many`, together."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

from core import blocking
from feature_store.protocol import BucketRange, FeatureSet
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from tests.contract.test_feature_store import lane_turn

FS = FeatureSet("application_velocity", "2")


def velocity(subject):
    return (FS, {f"{subject}|10": (1, 60.0)}, {"n": BucketRange(f"{subject}|", 9, 10)})


def test_a_turn_s_velocity_calls_share_one_transaction_in_a_thread(tmp_path):
    """Writes never run on the event loop (a commit may sync the WAL's header): a turn's
    velocity calls reach the lane together, one transaction; a cached read stays on the
    loop."""
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    store.put(FS, "e1", {"v": 1})
    statements = []
    store._db.set_trace_callback(lambda sql: statements.append((threading.get_ident(), sql)))

    async def turn():
        got = await asyncio.gather(
            *(blocking.call(store.increment_and_sum, *velocity(s), timeout_s=5.0,
                            lane="features") for s in "abc"),
            blocking.call(store.get, FS, "e1", timeout_s=5.0, lane="features"))
        return threading.get_ident(), got

    loop_thread, got = asyncio.run(turn())
    assert got == [{"n": 1}] * 3 + [{"v": 1}]
    assert [sql for _, sql in statements].count("COMMIT") == 1
    writes = {ident for ident, sql in statements if sql.startswith(("INSERT", "COMMIT"))}
    assert writes and loop_thread not in writes
    assert any(ident == loop_thread and sql.startswith("SELECT entity, value")
               for ident, sql in statements)


def test_a_velocity_call_behind_another_writer_waits_in_its_thread(tmp_path):
    """The thread waits for the other process's write lock, then writes."""
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db", busy_timeout_s=2.0))
    other = sqlite3.connect(tmp_path / "f.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.2, lambda: (other.execute("ROLLBACK"), other.close())).start()
    start = time.perf_counter()
    assert lane_turn([(store.increment_and_sum, velocity("a"))]) == [{"n": 1}]
    assert 0.15 < time.perf_counter() - start < 1.5


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
