"""The shared SQLite file: a failed write leaves nothing, a held lock is the store's own
"unavailable" error after the timeout; WAL checkpoints happen off the commit path."""

import sqlite3
import time

import pytest

from core.sqlite import LockedSQLite, WalCheckpointer, busy


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


def _wal_writes(path, checkpointer: bool):
    """1,500 pages committed one by one: past SQLite's 1,000-page automatic checkpoint."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (v BLOB)")
    background = WalCheckpointer(conn, path, interval_s=0.05) if checkpointer else None
    if background is None:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    for _ in range(1500):
        conn.execute("INSERT INTO t VALUES (randomblob(4000))")
    return conn, background


def test_commits_never_checkpoint_and_the_thread_does(tmp_path):
    """With automatic checkpoints off, the database file stays empty while the log grows;
    with the checkpointer, the pages reach the database file without any commit copying
    them, and closing stops its thread."""
    conn, _ = _wal_writes(tmp_path / "off.db", checkpointer=False)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert (tmp_path / "off.db").stat().st_size < 100_000
    conn, background = _wal_writes(tmp_path / "on.db", checkpointer=True)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    deadline = time.monotonic() + 5
    while (tmp_path / "on.db").stat().st_size < 5_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "on.db").stat().st_size >= 5_000_000
    background.close()
    assert not background._thread.is_alive()


def test_busy_includes_the_extended_codes():
    def error(code):
        exc = sqlite3.OperationalError("database is locked")
        exc.sqlite_errorcode = code
        return exc

    # SQLITE_BUSY, SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT
    assert all(busy(error(code)) for code in (5, 261, 517, 773))
    assert not busy(error(sqlite3.SQLITE_IOERR)) and not busy(sqlite3.OperationalError("x"))
