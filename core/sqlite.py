"""One SQLite file shared by a process's threads: WAL, one lock, write transactions that roll
back on any error, and SQLite's own errors (locked past the timeout, disk full, closed)
raised as the owning store's "unavailable" error."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

_SYNCHRONOUS = {"NORMAL": "PRAGMA synchronous=NORMAL", "FULL": "PRAGMA synchronous=FULL"}


class LockedSQLite:
    def __init__(self, path: Path, schema: str, unavailable: type[Exception], label: str,
                 synchronous: Literal["NORMAL", "FULL"], timeout_s: float = 5.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._unavailable, self._label = unavailable, label
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                    timeout=timeout_s)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(_SYNCHRONOUS[synchronous])
        self.conn.executescript(schema)
        self._lock = threading.Lock()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._unavailable(f"{self._label}: {type(exc).__name__}") from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock, self._errors():
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
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
        self.conn.close()
