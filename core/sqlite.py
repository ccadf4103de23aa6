"""One SQLite file shared by a process's threads: WAL, one lock, write transactions that roll
back on any error, and SQLite's own errors (locked past the timeout, disk full, closed)
raised as the owning store's "unavailable" error. And WAL checkpoints off the commit path.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

_SYNCHRONOUS = {"NORMAL": "PRAGMA synchronous=NORMAL", "FULL": "PRAGMA synchronous=FULL"}


def begin_immediate(conn: sqlite3.Connection, timeout_s: float) -> None:
    """BEGIN IMMEDIATE, waiting up to `timeout_s` for another process's write transaction by
    retrying every 0.1-1 ms (ADR 0144). SQLite's own busy handler sleeps 1, 2, 5, 10, 15,
    20 ... ms between tries: with two workers writing one file, the wait for a lock held
    ~2 ms was 20 ms at p99. Raises sqlite3.OperationalError ("database is locked") after
    the timeout, as SQLite's handler would."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + timeout_s
        delay = 1e-4
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")


def busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY, extended codes included: Python 3.11 gives the extended code, and
    SQLITE_BUSY_RECOVERY (another connection recovering the WAL) must be waited out too."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class WalCheckpointer:
    """Copies a WAL database's log into the database from a thread of its own (ADR 0144).

    SQLite's automatic checkpoint runs inside whichever commit takes the log past 1,000
    pages: under load, every second or so a decision's commit also copies ~4 MB and fsyncs
    the database, 5-10 ms that were the single-connection latency tail. The writer
    connection turns that off (`PRAGMA wal_autocheckpoint=0`) and this thread checkpoints
    every `interval_s` instead. PASSIVE: it never waits for, nor blocks, readers or writers;
    what it cannot copy now it copies next time. Several processes may each run one on the
    same file: SQLite lets one checkpoint run at a time and the others just skip a turn.

    0.2 s, not 0.5 s: the single-connection p99 follows this interval (a checkpoint's
    writes and fsync hold up the next commit's fsync), and shorter passes copy less each
    time. Four alternating rounds: p99 8.9-9.8 ms against 7.6-105 ms (ADR 0153).
    """

    def __init__(self, writer: sqlite3.Connection, path: Path, interval_s: float = 0.2) -> None:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        self._path = path
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {path.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
        try:
            while not self._stop.wait(self._interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy (another checkpoint), or the file went away
                    continue
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class LockedSQLite:
    def __init__(self, path: Path, schema: str, unavailable: type[Exception], label: str,
                 synchronous: Literal["NORMAL", "FULL"], timeout_s: float = 5.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._unavailable, self._label = unavailable, label
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                    timeout=timeout_s)
        self._timeout_s = timeout_s
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(_SYNCHRONOUS[synchronous])
        self.conn.executescript(schema)
        self._lock = threading.Lock()
        self._checkpointer = WalCheckpointer(self.conn, path)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._unavailable(f"{self._label}: {type(exc).__name__}") from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock, self._errors():
            begin_immediate(self.conn, self._timeout_s)
            cur = self.conn.cursor()
            try:
                yield cur
            except BaseException:
                if self.conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def read(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock, self._errors():
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._checkpointer.close()
        self.conn.close()
