"""PostgreSQL audit store and digest store (psycopg 3, core/postgres.py's bounded pool).

As on SQLite, each store instance is one writer with its own hash chain, so any number of
API processes and hosts append to one log without a global lock, and `append_many` writes a
group commit's batch in one transaction (one WAL flush). The database keeps the promises
across instances: the primary key (chain_id, seq) never takes a seq twice, the UNIQUE
application_id makes a second decision for one application impossible whichever instance
tries, and the service's role may only SELECT and INSERT, with triggers refusing UPDATE,
DELETE and TRUNCATE to everyone else (audit/migrations/). ADR 0120.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import psycopg

from audit.digest import Digest, Head
from audit.record import GENESIS, Entry, canonical, country_of, entry_hash, now_stamp
from audit.search import DecisionQuery, summary
from audit.sqlite import AppendItem, new_chain_id
from audit.store import AuditUnavailable, DuplicateApplication
from core.postgres import PgPool, PostgresConfig, scan
from core.schema import Branch

MIGRATIONS = Branch("audit", Path(__file__).parent / "migrations")
log = logging.getLogger(__name__)

_COLUMNS = "chain_id, seq, prev_hash, hash, body, appended_at, country, application_id, decision_id"
# The columns a reader checks against the body (decision_id, application_id) are plain
# columns beside these; select them with the same `_select`.
_INSERT = """
INSERT INTO audit_entries (chain_id, seq, prev_hash, hash, decision_id, application_id, body,
                           appended_at, country)
SELECT %s, u.* FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                           %s::bytea[], %s::text[], %s::text[]) AS u
ON CONFLICT (application_id) DO NOTHING
RETURNING seq
"""
# Every chain's last entry: skip along the primary key from one chain id to the next (one
# index seek per chain, however long the chains).
_HEADS = """
WITH RECURSIVE chains(id) AS (
    (SELECT chain_id FROM audit_entries ORDER BY chain_id LIMIT 1)
    UNION ALL
    SELECT (SELECT chain_id FROM audit_entries WHERE chain_id > chains.id
            ORDER BY chain_id LIMIT 1)
    FROM chains WHERE chains.id IS NOT NULL)
SELECT c.id, last.seq, last.hash FROM chains c CROSS JOIN LATERAL (
    SELECT seq, hash FROM audit_entries WHERE chain_id = c.id ORDER BY seq DESC LIMIT 1) last
WHERE c.id IS NOT NULL
"""


class PostgresAuditConfig(PostgresConfig):
    """The PostgreSQL backend: the log, its signed digests and the customers' data keys in
    one database (tables audit_*), shared by every instance. Pool sizes and timeouts: see
    core.postgres.PostgresConfig."""

    type: Literal["postgres"] = "postgres"


def _select(columns: str, chain_id: str | None, from_seq: int | None,
            to_seq: int | None) -> tuple[str, list[Any]]:
    conds = [(c, v) for c, v in (("chain_id = %s", chain_id), ("seq >= %s", from_seq),
                                 ("seq <= %s", to_seq)) if v is not None]
    where = " AND ".join(c for c, _ in conds) or "true"
    return (f"SELECT {columns} FROM audit_entries WHERE {where} ORDER BY chain_id, seq",  # noqa: S608  # nosec B608
            [v for _, v in conds])


def _entry(row: tuple) -> Entry:
    chain_id, seq, prev, h, body, at, country, application_id, decision_id = row
    return Entry(chain_id, seq, prev, h, bytes(body), at, country, application_id, decision_id)


@dataclass(frozen=True)
class PostgresEntries:
    """Reads entries with `core.postgres.scan` (a server-side cursor on a connection of its
    own). The store does not offer it as `reader`: the database is remote, so `verify_store`
    reads seq ranges in threads, each on its own connection."""

    config: PostgresAuditConfig

    def __call__(self, chain_id: str | None = None, from_seq: int | None = None,
                 to_seq: int | None = None) -> Iterator[Entry]:
        sql, params = _select(_COLUMNS, chain_id, from_seq, to_seq)
        rows = scan(self.config, "audit-entries", sql, params, unavailable=AuditUnavailable)
        try:  # a generator: closing it early (verify stops at a bad range) ends the read
            yield from map(_entry, rows)
        finally:
            rows.close()


class PostgresAuditStore:
    def __init__(self, config: PostgresAuditConfig, chain_id: str | None = None) -> None:
        self._pool = PgPool(config, "audit-log", AuditUnavailable, MIGRATIONS)
        self._lock = threading.Lock()
        self._read = PostgresEntries(config)
        self.chain_id = chain_id or new_chain_id()
        self._seq, self._head, self._at = 0, GENESIS, ""
        self._load_head()

    def _load_head(self) -> None:
        """The chain's head as the database has it: at start, and after a failed batch (its
        commit may have happened even though its answer was lost: then the database is
        ahead). A database *behind* what this writer committed lost acknowledged entries (a
        failover to a replica that had not received them): the head is kept, so the next
        entry leaves a gap that `verify` names, instead of a chain that hides the loss."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT seq, hash, appended_at FROM audit_entries "
                               "WHERE chain_id = %s ORDER BY seq DESC LIMIT 1",
                               (self.chain_id,)).fetchone()
        seq, head, at = tuple(row) if row else (0, GENESIS, "")
        if seq >= self._seq:
            self._seq, self._head, self._at = seq, head, at
        else:
            log.error("audit chain %s: the database ends at seq %d but this writer committed "
                      "up to %d: entries lost (failover without synchronous replication?)",
                      self.chain_id, seq, self._seq)
        self._stale = False

    def append(self, record: dict[str, Any], *, application_id: str | None = None,
               decision_id: str | None = None) -> Entry:
        result = self.append_many([(record, application_id, decision_id)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_many(self, items: Sequence[AppendItem]) -> list[Entry | Exception]:
        """Append a batch in one transaction; a duplicate application fails only its own
        item. Items are chained in application-id order, so two instances inserting
        overlapping batches take the unique index's locks in one order (no deadlock)."""
        order = sorted(range(len(items)), key=lambda i: (items[i][1] is None, items[i][1] or ""))
        prepared = [(i, canonical(items[i][0]), country_of(items[i][0])) for i in order]
        duplicate: set[int] = set()
        with self._lock:
            if self._stale:
                self._load_head()
            try:
                with self._pool.connection() as conn:
                    while True:
                        written = self._try_insert(conn, items, prepared, duplicate)
                        if written is not None:
                            break
            except BaseException:
                self._stale = True
                raise
            out: list[Entry | Exception] = [DuplicateApplication(items[i][1] or "")
                                             for i in range(len(items))]
            for i, entry in written.items():
                out[i] = entry
            if written:
                last = max(written.values(), key=lambda e: e.seq)
                self._seq, self._head, self._at = last.seq, last.hash, last.appended_at
        return out

    def _try_insert(self, conn: Any, items: Sequence[AppendItem],
                    prepared: list[tuple[int, bytes, str]], duplicate: set[int]
                    ) -> dict[int, Entry] | None:
        """One attempt in one transaction: the entries written by position, or None when an
        application id turned out taken (its item joins `duplicate`, nothing is written, and
        the caller tries again without it)."""
        seq, head, at = self._seq, self._head, self._at
        chain: dict[int, Entry] = {}
        for i, body, country in prepared:
            if i in duplicate:
                continue
            at = max(now_stamp(), at)  # never backwards within a chain
            _, application_id, decision_id = items[i]
            h = entry_hash(self.chain_id, seq + 1, head, at, country, body, application_id,
                           decision_id)
            chain[i] = Entry(self.chain_id, seq + 1, head, h, body, at, country, application_id,
                             decision_id)
            seq, head = seq + 1, h
        if not chain:
            return {}
        es = list(chain.values())
        with conn.transaction():
            got = {r[0] for r in conn.execute(_INSERT, (
                self.chain_id, [e.seq for e in es], [e.prev_hash for e in es],
                [e.hash for e in es], [items[i][2] for i in chain],
                [items[i][1] for i in chain], [e.body for e in es],
                [e.appended_at for e in es], [e.country for e in es]))}
            if len(got) == len(es):
                return chain
            duplicate.update(i for i, e in chain.items() if e.seq not in got)
            raise psycopg.Rollback  # undo this attempt: the seqs after a duplicate moved
        return None

    def _one(self, where: str, value: str) -> Entry | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM audit_entries WHERE {where} = %s",  # noqa: S608  # nosec B608
                               (value,)).fetchone()
        return _entry(row) if row else None

    def get_decision(self, decision_id: str) -> Entry | None:
        return self._one("decision_id", decision_id)

    def get_by_application(self, application_id: str) -> Entry | None:
        return self._one("application_id", application_id)

    def entries(self, chain_id: str | None = None, from_seq: int | None = None,
                to_seq: int | None = None) -> Iterator[Entry]:
        return self._read(chain_id, from_seq, to_seq)

    def heads(self) -> list[Head]:
        with self._pool.connection() as conn:
            return [Head(c, seq, h) for c, seq, h in conn.execute(_HEADS)]

    def search_decisions(self, q: DecisionQuery) -> list[dict[str, Any]]:
        """Decision summaries matching `q` (audit/search.py), in one query."""
        where, params = ["decision_id IS NOT NULL"], []
        doc = "convert_from(body, 'UTF8')::jsonb"
        for clause, value in (("appended_at >= %s", q.since), ("appended_at < %s", q.until),
                              ("country = %s", q.country),
                              (f"{doc} #>> '{{response,outcome}}' = %s", q.outcome),
                              (f"{doc} #>> '{{response,decided_by}}' = %s", q.decided_by)):
            if value:
                where.append(clause)
                params.append(value)
        sql = (f"SELECT body, appended_at FROM audit_entries WHERE {' AND '.join(where)} "  # noqa: S608  # nosec B608
               "ORDER BY appended_at DESC, chain_id, seq DESC LIMIT %s OFFSET %s")
        with self._pool.connection() as conn:
            rows = conn.execute(sql, [*params, q.limit, q.offset]).fetchall()
        return [summary(bytes(body), at) for body, at in rows]

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()


class PostgresDigestStore:
    """Signed digests in their own append-only table (audit_digests)."""

    def __init__(self, config: PostgresAuditConfig) -> None:
        self._pool = PgPool(config, "audit-digests", AuditUnavailable, MIGRATIONS)

    def put(self, digest: Digest) -> None:
        with self._pool.connection() as conn:
            conn.execute("INSERT INTO audit_digests (issued_at, doc) VALUES (%s, %s)",
                         (digest.issued_at, canonical(digest.to_json())))

    def latest(self) -> Digest | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT doc FROM audit_digests ORDER BY id DESC LIMIT 1").fetchone()
        return Digest.from_json(orjson.loads(bytes(row[0]))) if row else None

    def close(self) -> None:
        self._pool.close()
