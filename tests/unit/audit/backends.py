"""The audit store backends, as a parametrized fixture, and raw access for tamper tests (what
an attacker with write access to the storage could do, bypassing the store's API)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.digest import SQLiteDigestStore
from audit.record import Entry


@dataclass
class Backend:
    name: str
    open: Callable[..., object]          # open(chain_id=None) -> AuditStore
    digests: Callable[[], object]        # a DigestStore apart from the log
    rewrite_chain: Callable[[str, list[Entry]], None]


def sqlite_backend(tmp_path: Path) -> Backend:
    from audit.sqlite import SQLiteAuditStore

    db = tmp_path / "audit.db"

    def rewrite(chain_id: str, entries: list[Entry]) -> None:
        conn = sqlite3.connect(db)
        conn.executescript("DROP TRIGGER IF EXISTS entries_no_update; "
                           "DROP TRIGGER IF EXISTS entries_no_delete;")
        conn.execute("DELETE FROM entries WHERE chain_id = ?", (chain_id,))
        conn.executemany("INSERT INTO entries (chain_id, seq, prev_hash, hash, body, "
                         "appended_at, country, application_id, decision_id) "
                         "VALUES (?,?,?,?,?,?,?,?,?)",
                         [(e.chain_id, e.seq, e.prev_hash, e.hash, e.body, e.appended_at,
                           e.country, e.application_id, e.decision_id) for e in entries])
        conn.commit()
        conn.close()

    return Backend("sqlite", lambda chain_id=None: SQLiteAuditStore(db, chain_id),
                   lambda: SQLiteDigestStore(tmp_path / "digests.db"), rewrite)


def dynamodb_backend(endpoint: str) -> Backend:
    from audit.dynamodb import DynamoDBAuditStore, DynamoDBDigestStore, _tables

    def rewrite(chain_id: str, entries: list[Entry]) -> None:
        E = _tables("t", endpoint, "eu-west-1")[0]
        for item in E.query(chain_id):
            item.delete()
        for e in entries:
            E(e.chain_id, e.seq, prev_hash=e.prev_hash, hash=e.hash, body=e.body,
              appended_at=e.appended_at, country=e.country, application_id=e.application_id,
              decision_id=e.decision_id).save()

    return Backend("dynamodb",
                   lambda chain_id=None: DynamoDBAuditStore("t", endpoint=endpoint,
                                                            chain_id=chain_id),
                   lambda: DynamoDBDigestStore("t", endpoint=endpoint), rewrite)


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return dynamodb_backend(request.getfixturevalue("dynamodb_endpoint"))
