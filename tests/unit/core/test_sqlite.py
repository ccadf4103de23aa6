"""The shared SQLite file: a failed write leaves nothing, a held lock is the store's own
"unavailable" error after the timeout."""

import sqlite3

import pytest

from core.sqlite import LockedSQLite


class Down(Exception):
    pass


def db(path, timeout_s=5.0):
    return LockedSQLite(path, "CREATE TABLE IF NOT EXISTS t (v INTEGER);", Down, "test store",
                        "FULL", timeout_s)


def test_an_error_inside_a_write_rolls_it_back(tmp_path):
    store = db(tmp_path / "s.db")
    with pytest.raises(ValueError), store.write() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        raise ValueError("no")
    with store.write() as cur:
        cur.execute("INSERT INTO t VALUES (2)")
    assert store.read("SELECT v FROM t") == [(2,)]


def test_a_held_lock_is_the_stores_unavailable_error(tmp_path):
    store = db(tmp_path / "s.db", timeout_s=0.1)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Down, match="^test store: OperationalError$"), store.write() as cur:
            cur.execute("INSERT INTO t VALUES (1)")
    finally:
        other.execute("ROLLBACK")
    store.close()
    with pytest.raises(Down, match="ProgrammingError"):
        store.read("SELECT 1")
