"""What only the SQLite backend promises (the shared behaviour is in test_store_contract.py
and test_tamper.py, run against every backend)."""

import sqlite3

import pytest

from audit.sqlite import SQLiteAuditStore


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
