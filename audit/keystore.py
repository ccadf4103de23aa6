"""Customer data keys, kept apart from the log (their own SQLite file), so that erasing one
customer's key (crypto-shredding) changes nothing in the hash-chained log."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol


class CustomerKeyStore(Protocol):
    def get(self, customer_ref: str) -> bytes | None:
        """The wrapped data key, or None (never created, or erased)."""

    def put_if_absent(self, customer_ref: str, wrapped: bytes) -> bytes:
        """Store a wrapped key unless one exists; return the one stored (a concurrent first
        decision for the same customer must not end up with two keys)."""

    def is_erased(self, customer_ref: str) -> bool: ...

    def erase(self, customer_ref: str) -> bool:
        """Destroy the key for good; True if there was one. Records sealed with it stay
        sealed; a later decision for the same customer starts a new key."""

    def all_refs(self) -> list[str]: ...

    def replace(self, customer_ref: str, wrapped: bytes) -> None:
        """Swap in a re-wrapped key (master key rotation)."""

    def close(self) -> None: ...


class KeyErased(Exception):
    """This customer's data key was destroyed (erasure); their records stay sealed."""


class SQLiteCustomerKeyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        # Deleted key bytes are overwritten in the file, not left in free pages.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS customer_keys (customer_ref TEXT PRIMARY KEY, "
            "wrapped BLOB NOT NULL);"
            "CREATE TABLE IF NOT EXISTS erased (customer_ref TEXT PRIMARY KEY, "
            "erased_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);")

    def get(self, customer_ref: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT wrapped FROM customer_keys WHERE customer_ref=?",
                                     (customer_ref,)).fetchone()
        return row[0] if row else None

    def put_if_absent(self, customer_ref: str, wrapped: bytes) -> bytes:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO customer_keys VALUES (?, ?)",
                               (customer_ref, wrapped))
            return self._conn.execute("SELECT wrapped FROM customer_keys WHERE customer_ref=?",
                                      (customer_ref,)).fetchone()[0]

    def is_erased(self, customer_ref: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM erased WHERE customer_ref=?",
                                      (customer_ref,)).fetchone() is not None

    def erase(self, customer_ref: str) -> bool:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            gone = self._conn.execute("DELETE FROM customer_keys WHERE customer_ref=?",
                                      (customer_ref,)).rowcount
            self._conn.execute("INSERT OR IGNORE INTO erased (customer_ref) VALUES (?)",
                               (customer_ref,))
            self._conn.execute("COMMIT")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy left in the WAL
        return gone > 0

    def all_refs(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT customer_ref FROM customer_keys")]

    def replace(self, customer_ref: str, wrapped: bytes) -> None:
        with self._lock:
            self._conn.execute("UPDATE customer_keys SET wrapped=? WHERE customer_ref=?",
                               (wrapped, customer_ref))

    def close(self) -> None:
        self._conn.close()
