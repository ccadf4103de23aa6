"""Customer data keys, kept apart from the log, so that erasing one customer (crypto-shredding)
changes nothing in the hash-chained log.

A customer (named here only by `customer_ref`, a keyed HMAC of their id) has one data key
under a random `key_ref`; records name the key_ref and nothing else, so once the customer's
entry is gone nothing links their records to them. The entry also lists the national-id
pseudonyms seen with the customer (so an erasure can clear what the feature store cached
under them) and, when an erasure waits for a legal retention period, when it is due.
Erasing removes the customer's entry and the wrapped key; a tombstone under the key_ref
remembers that the key was erased (a record then reads as erased, not as tampered).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

from audit.record import now_stamp
from core.sqlite import begin_immediate


@dataclass(frozen=True)
class CustomerKey:
    key_ref: str  # random; the only name of the customer that records hold
    wrapped: bytes  # the data key, wrapped by a master key (audit.pii.EnvelopeCipher)
    national_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Erased:
    key_ref: str
    national_refs: list[str] = field(default_factory=list)


class KeyErased(Exception):
    """This customer's data key was destroyed (erasure); their records stay sealed."""

    def __init__(self, key_ref: str) -> None:
        super().__init__(f"data key {key_ref} was erased")
        self.key_ref = key_ref


class CustomerKeyStore(Protocol):
    def get(self, customer_ref: str) -> CustomerKey | None:
        """The customer's key (None: never created, or erased)."""

    def create(self, customer_ref: str, key: CustomerKey) -> CustomerKey:
        """Store a new key unless the customer has one; return the one stored (a concurrent
        first decision for the same customer must not end up with two keys)."""

    def note_national_ref(self, customer_ref: str, national_ref: str) -> None:
        """Remember a national-id pseudonym seen with this customer (idempotent)."""

    def wrapped(self, key_ref: str) -> bytes | None:
        """The wrapped key a record names (None: unknown, or erased)."""

    def is_erased(self, key_ref: str) -> bool: ...

    def schedule_erasure(self, customer_ref: str, due_at: str) -> bool:
        """Mark the customer for erasure at `due_at` (ISO, UTC); False if unknown."""

    def due_erasures(self, now: str) -> list[str]:
        """Customers whose scheduled erasure is due."""

    def erase(self, customer_ref: str) -> Erased | None:
        """Destroy the customer's key and entry for good; None if there was none. Of two
        concurrent erasures only one reports it."""

    def key_refs(self) -> list[str]:
        """Every live key (master-key rotation)."""

    def rewrap(self, key_ref: str, wrapped: bytes) -> None:
        """Swap in a re-wrapped key (master-key rotation); an erased key stays erased."""

    def close(self) -> None: ...


class SQLiteCustomerKeyStore:
    def __init__(self, path: Path, busy_timeout_s: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     timeout=busy_timeout_s)
        self._lock = threading.Lock()
        self._timeout_s = busy_timeout_s
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        # Deleted key bytes are overwritten in the file, not left in free pages.
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS customers (customer_ref TEXT PRIMARY KEY, "
            "key_ref TEXT NOT NULL UNIQUE, national_refs TEXT NOT NULL DEFAULT '[]', "
            "erase_after TEXT);"
            "CREATE TABLE IF NOT EXISTS data_keys (key_ref TEXT PRIMARY KEY, wrapped BLOB, "
            "erased_at TEXT);")
        self._migrate_v1()

    def _migrate_v1(self) -> None:
        """Stores written before random key refs: a customer's key_ref was its customer_ref."""
        with self._lock:
            old = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                                     "name='customer_keys'").fetchone()
            if old is None:
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT OR IGNORE INTO customers (customer_ref, key_ref) "
                               "SELECT customer_ref, customer_ref FROM customer_keys")
            self._conn.execute("INSERT OR IGNORE INTO data_keys (key_ref, wrapped) "
                               "SELECT customer_ref, wrapped FROM customer_keys")
            self._conn.execute("INSERT OR IGNORE INTO data_keys (key_ref, erased_at) "
                               "SELECT customer_ref, erased_at FROM erased")
            self._conn.execute("DROP TABLE customer_keys")
            self._conn.execute("DROP TABLE IF EXISTS erased")
            self._conn.execute("COMMIT")

    def _row(self, customer_ref: str) -> CustomerKey | None:
        row = self._conn.execute(
            "SELECT c.key_ref, k.wrapped, c.national_refs FROM customers c JOIN data_keys k "
            "ON k.key_ref = c.key_ref WHERE c.customer_ref=? AND k.wrapped IS NOT NULL",
            (customer_ref,)).fetchone()
        return CustomerKey(row[0], row[1], tuple(orjson.loads(row[2]))) if row else None

    def get(self, customer_ref: str) -> CustomerKey | None:
        with self._lock:
            return self._row(customer_ref)

    def create(self, customer_ref: str, key: CustomerKey) -> CustomerKey:
        with self._lock:
            begin_immediate(self._conn, self._timeout_s)
            try:
                existing = self._row(customer_ref)
                if existing is None:
                    self._conn.execute("INSERT INTO data_keys (key_ref, wrapped) VALUES (?, ?)",
                                       (key.key_ref, key.wrapped))
                    self._conn.execute(
                        "INSERT INTO customers (customer_ref, key_ref, national_refs) "
                        "VALUES (?, ?, ?)",
                        (customer_ref, key.key_ref, orjson.dumps(list(key.national_refs))))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return existing or key

    def note_national_ref(self, customer_ref: str, national_ref: str) -> None:
        with self._lock:
            # One statement: concurrent notes of different refs never lose one.
            self._conn.execute(
                "UPDATE customers SET national_refs = json_insert(national_refs, '$[#]', ?) "
                "WHERE customer_ref = ? AND NOT EXISTS (SELECT 1 FROM json_each(national_refs) "
                "WHERE value = ?)", (national_ref, customer_ref, national_ref))

    def wrapped(self, key_ref: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT wrapped FROM data_keys WHERE key_ref=?",
                                     (key_ref,)).fetchone()
        return row[0] if row else None

    def is_erased(self, key_ref: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT erased_at FROM data_keys WHERE key_ref=?",
                                     (key_ref,)).fetchone()
        return row is not None and row[0] is not None

    def schedule_erasure(self, customer_ref: str, due_at: str) -> bool:
        with self._lock:
            return self._conn.execute("UPDATE customers SET erase_after=? WHERE customer_ref=?",
                                      (due_at, customer_ref)).rowcount > 0

    def due_erasures(self, now: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT customer_ref FROM customers WHERE erase_after <= ? ORDER BY erase_after",
                (now,))]

    def erase(self, customer_ref: str) -> Erased | None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT key_ref, national_refs FROM customers WHERE "
                                         "customer_ref=?", (customer_ref,)).fetchone()
                if row is not None:
                    self._conn.execute("DELETE FROM customers WHERE customer_ref=?",
                                       (customer_ref,))
                    self._conn.execute("UPDATE data_keys SET wrapped=NULL, erased_at=? "
                                       "WHERE key_ref=?", (now_stamp(), row[0]))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy left in the WAL
        return Erased(row[0], orjson.loads(row[1])) if row is not None else None

    def key_refs(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT key_ref FROM data_keys WHERE wrapped IS NOT NULL ORDER BY key_ref")]

    def rewrap(self, key_ref: str, wrapped: bytes) -> None:
        with self._lock:
            self._conn.execute("UPDATE data_keys SET wrapped=? WHERE key_ref=? AND wrapped IS "
                               "NOT NULL", (wrapped, key_ref))

    def close(self) -> None:
        self._conn.close()
