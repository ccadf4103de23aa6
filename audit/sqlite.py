"""Embedded audit store: one SQLite file, WAL, synchronous=FULL, UPDATE/DELETE refused by triggers.

Each store instance is one writer with its own hash chain, so several processes can append
to the same file without coordinating chain heads. `append_many` writes a batch in one
transaction (one fsync): the group committer feeds it all concurrently pending records.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from audit.digest import Head
from audit.record import GENESIS, Entry, canonical, country_of, entry_hash, now_stamp
from audit.search import DecisionQuery, search_sqlite
from audit.store import DuplicateApplication
from core.sqlite import WalCheckpointer, begin_immediate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    chain_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    decision_id TEXT UNIQUE,
    application_id TEXT UNIQUE,
    body BLOB NOT NULL,
    appended_at TEXT NOT NULL,
    country TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""
_COLUMNS = "chain_id, seq, prev_hash, hash, body, appended_at, country, application_id, decision_id"
# Distinct chain ids by skipping along the (chain_id, seq) index: one seek per chain.
_CHAIN_IDS = """
WITH RECURSIVE chains(id) AS (
    SELECT MIN(chain_id) FROM entries
    UNION ALL
    SELECT (SELECT MIN(chain_id) FROM entries WHERE chain_id > id) FROM chains
    WHERE id IS NOT NULL)
SELECT id FROM chains WHERE id IS NOT NULL
"""

AppendItem = tuple[dict[str, Any], str | None, str | None]  # record, application_id, decision_id


def new_chain_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class SQLiteEntries:
    """Reads entries on a connection of its own, so a long read never holds the writer's
    lock; picklable, so `verify_store` can read seq ranges in worker processes."""

    path: Path

    def __call__(self, chain_id: str | None = None, from_seq: int | None = None,
                 to_seq: int | None = None) -> Iterator[Entry]:
        conds = [(c, v) for c, v in (("chain_id = ?", chain_id), ("seq >= ?", from_seq),
                                     ("seq <= ?", to_seq)) if v is not None]
        where = " AND ".join(c for c, _ in conds) or "1"
        conn = sqlite3.connect(self.path)
        try:
            yield from map(Entry._make, conn.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE {where} ORDER BY chain_id, seq",  # noqa: S608  # nosec B608
                [v for _, v in conds]))
        finally:
            conn.close()


class SQLiteAuditStore:
    def __init__(self, path: Path, chain_id: str | None = None,
                 busy_timeout_s: float = 1.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        # A write lock held elsewhere is waited for this long, then the append fails (503):
        # callers run in threads with a deadline of about this length (core/blocking.py).
        self._timeout = busy_timeout_s
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     timeout=busy_timeout_s)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._checkpointer = WalCheckpointer(self._conn, path)
        self._readers = threading.local()
        self.reader = SQLiteEntries(path)
        self.chain_id = chain_id or new_chain_id()
        row = self._conn.execute("SELECT seq, hash, appended_at FROM entries WHERE chain_id=? "
                                 "ORDER BY seq DESC LIMIT 1", (self.chain_id,)).fetchone()
        self._seq, self._head, self._at = tuple(row) if row else (0, GENESIS, "")

    def append(self, record: dict[str, Any], *, application_id: str | None = None,
               decision_id: str | None = None) -> Entry:
        result = self.append_many([(record, application_id, decision_id)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_many(self, items: Sequence[AppendItem]) -> list[Entry | Exception]:
        """Append a batch in one transaction; a duplicate application fails only its own item."""
        out: list[Entry | Exception] = []
        # Encoded before taking any lock: the other workers wait only for the inserts.
        bodies = [(canonical(record), country_of(record), application_id, decision_id)
                  for record, application_id, decision_id in items]
        with self._lock:
            seq, head, at = self._seq, self._head, self._at
            begin_immediate(self._conn, self._timeout)
            cur = self._conn.cursor()
            try:
                for body, country, application_id, decision_id in bodies:
                    at = max(now_stamp(), at)  # never backwards within a chain
                    h = entry_hash(self.chain_id, seq + 1, head, at, country, body,
                                   application_id, decision_id)
                    cur.execute("INSERT INTO entries (chain_id, seq, prev_hash, hash, "
                                "decision_id, application_id, body, appended_at, country) "
                                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                (self.chain_id, seq + 1, head, h, decision_id, application_id,
                                 body, at, country))
                    if cur.rowcount == 0:  # that application (or decision) is logged already
                        out.append(DuplicateApplication(application_id or ""))
                        continue
                    out.append(Entry(self.chain_id, seq + 1, head, h, body, at, country,
                                     application_id, decision_id))
                    seq, head = seq + 1, h
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            self._seq, self._head, self._at = seq, head, at
        return out

    def _reader(self) -> sqlite3.Connection:
        # Reads use their own connection per thread: on the writer's connection they could
        # see a batch that is not committed yet.
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = self._readers.conn = sqlite3.connect(self._path, timeout=self._timeout)
        return conn

    def _one(self, where: str, value: str) -> Entry | None:
        row = self._reader().execute(f"SELECT {_COLUMNS} FROM entries WHERE {where}=?",  # noqa: S608  # nosec B608
                                 (value,)).fetchone()
        return Entry(*row) if row else None

    def get_decision(self, decision_id: str) -> Entry | None:
        return self._one("decision_id", decision_id)

    def get_by_application(self, application_id: str) -> Entry | None:
        return self._one("application_id", application_id)

    def entries(self, chain_id: str | None = None, from_seq: int | None = None,
                to_seq: int | None = None) -> Iterator[Entry]:
        return self.reader(chain_id, from_seq, to_seq)

    def search_decisions(self, query: DecisionQuery) -> list[dict[str, Any]]:
        """Decision summaries matching `query` (audit/search.py), in one SQL query."""
        return search_sqlite(self._path, query)

    def heads(self) -> list[Head]:
        # One index seek per chain (a GROUP BY would read every entry: 0.2 s per 200,000,
        # and the digest writer asks periodically).
        conn = self._reader()
        return [Head(c, *conn.execute("SELECT seq, hash FROM entries WHERE chain_id = ? "
                                      "ORDER BY seq DESC LIMIT 1", (c,)).fetchone())
                for (c,) in conn.execute(_CHAIN_IDS)]

    def ping(self) -> None:
        self._conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._checkpointer.close()
        self._conn.close()


class SQLiteAuditConfig(BaseModel):
    """The embedded audit backend: the log, its signed digests and the customers' data keys
    in three SQLite files (digests and keys apart from the log, see ADR 0030 and 0034)."""

    type: Literal["sqlite"] = "sqlite"
    path: Path
    digests_path: Path
    keys_path: Path
    busy_timeout_s: float = 1.0
