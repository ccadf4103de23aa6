"""What only the SQLite backend promises (the shared behaviour is in test_store_contract.py
and test_tamper.py, run against every backend)."""

import sqlite3

import pytest

from audit.sqlite import SQLiteAuditStore
from core.blocking import WouldWait, no_wait


def test_update_and_delete_are_refused(tmp_path):
    """Triggers make the table append-only, even for a writer with the file at hand."""
    store = SQLiteAuditStore(tmp_path / "audit.db")
    for i in range(2):
        store.append({"n": i}, application_id=f"A{i}", decision_id=f"D{i}")
    conn = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE entries SET body = x'00' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE seq = 1")
    store.close()


def test_durability_settings(tmp_path):
    """WAL with synchronous=FULL: a committed record survives a crash of the machine."""
    store = SQLiteAuditStore(tmp_path / "audit.db")
    conn = store._conn  # the writer's own connection carries the per-connection setting
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_where_waiting_is_forbidden_lookups_read_behind_a_writer_and_appends_refuse(tmp_path):
    """The decision path's idempotency lookup runs on the event loop (core/blocking.py): a
    WAL reader is not kept waiting by another process's write transaction. An append, which
    waits for the disk, never runs there."""
    store = SQLiteAuditStore(tmp_path / "audit.db")
    store.append({"n": 1}, application_id="A1", decision_id="D1")
    other = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with no_wait():
            assert store.get_by_application("A1").decision_id == "D1"
            assert store.get_by_application("A2") is None
            store.ping()
            with pytest.raises(WouldWait):
                store.append({"n": 2}, application_id="A2", decision_id="D2")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with no_wait(), pytest.raises(WouldWait):  # nor with the file free
        store.append({"n": 2}, application_id="A2", decision_id="D2")
    assert store.get_by_application("A2") is None  # the refused appends wrote nothing
    store.close()
