"""The audit store backends (sqlite, dynamodb on moto's server, postgres on a private server),
as a parametrized fixture, and raw access for tamper tests (what an attacker with write access
to the storage could do, bypassing the store's API)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.digest import SQLiteDigestStore
from audit.record import Entry
from tests.conftest import PostgresDB


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


def postgres_backend(db: PostgresDB, opened: list) -> Backend:
    """Stores connect as the service's role; tampering is done as the owner (a superuser
    here), with the append-only triggers switched off for its session."""
    import psycopg

    from audit.postgres import PostgresAuditConfig, PostgresAuditStore, PostgresDigestStore

    config = PostgresAuditConfig(url=db.url, min_size=0, max_size=2)

    def rewrite(chain_id: str, entries: list[Entry]) -> None:
        with psycopg.connect(db.admin_url) as conn:
            conn.execute("SET session_replication_role = replica")  # triggers off
            conn.execute("DELETE FROM audit_entries WHERE chain_id = %s", (chain_id,))
            for e in entries:
                conn.execute("INSERT INTO audit_entries (chain_id, seq, prev_hash, hash, body, "
                             "appended_at, country, application_id, decision_id) "
                             "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)", tuple(e))

    def keep(store):
        opened.append(store)
        return store

    return Backend("postgres",
                   lambda chain_id=None: keep(PostgresAuditStore(config, chain_id)),
                   lambda: keep(PostgresDigestStore(config)), rewrite)


@pytest.fixture(params=["sqlite", "dynamodb", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path)
    elif request.param == "dynamodb":
        yield dynamodb_backend(request.getfixturevalue("dynamodb_endpoint"))
    else:
        opened: list = []
        yield postgres_backend(request.getfixturevalue("postgres_db"), opened)
        for store in opened:  # their pools, before the test's database is dropped
            store.close()
