"""Embedded outcome store: one SQLite file under the data directory (WAL). Outcomes are
only ever inserted (triggers refuse UPDATE and DELETE); the current one per decision and the
performance cells are kept in step in the same transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from monitoring.store import (
    NO_OUTCOME,
    AddResult,
    Batch,
    BatchTotals,
    BinCount,
    BinTotal,
    Fact,
    Observation,
    OutcomeStoreUnavailable,
    Period,
    StoredBatch,
    StoredObservation,
    cell_counts,
    fact_cell,
    outcome_state,
    period_clause,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, received_at TEXT NOT NULL, source TEXT NOT NULL,
    source_name TEXT, content_sha256 TEXT NOT NULL, count INTEGER NOT NULL,
    rejected INTEGER NOT NULL, accepted INTEGER NOT NULL, duplicates INTEGER NOT NULL,
    audit_ref TEXT);
CREATE TABLE IF NOT EXISTS outcomes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    decision_id TEXT NOT NULL, observed_at TEXT NOT NULL, defaulted INTEGER NOT NULL,
    loan_taken INTEGER, months_on_book INTEGER, batch_id TEXT NOT NULL,
    received_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_decision ON outcomes (decision_id);
CREATE TRIGGER IF NOT EXISTS outcomes_no_update BEFORE UPDATE ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS outcomes_no_delete BEFORE DELETE ON outcomes
BEGIN SELECT RAISE(ABORT, 'outcomes are append-only'); END;
CREATE TABLE IF NOT EXISTS current_outcome (
    decision_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, observed_at TEXT NOT NULL,
    defaulted INTEGER NOT NULL, loan_taken INTEGER, months_on_book INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facts (
    decision_id TEXT PRIMARY KEY, decided_at TEXT NOT NULL, country TEXT NOT NULL,
    decided_by TEXT NOT NULL, model_version TEXT NOT NULL, outcome TEXT NOT NULL,
    pd REAL, legacy_points REAL, shadow_outcome TEXT, degraded INTEGER NOT NULL,
    pd_band INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS facts_decided_at ON facts (decided_at);
CREATE TABLE IF NOT EXISTS perf_cells (
    day TEXT NOT NULL, country TEXT NOT NULL, decided_by TEXT NOT NULL, version TEXT NOT NULL,
    approved INTEGER NOT NULL, state INTEGER NOT NULL, shadow INTEGER NOT NULL,
    pd_band INTEGER NOT NULL, n INTEGER NOT NULL, n_pd INTEGER NOT NULL, sum_pd REAL NOT NULL,
    sum_pd2 REAL NOT NULL,
    PRIMARY KEY (day, country, decided_by, version, approved, state, shadow, pd_band)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bin_counts (
    day TEXT NOT NULL, country TEXT NOT NULL, model_version TEXT NOT NULL,
    feature TEXT NOT NULL, bin INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (day, country, model_version, feature, bin)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (chain_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""
# A new observation becomes current if it was observed later, or on the same day but
# arrived later (a correction).
_UPSERT_CURRENT = """
INSERT INTO current_outcome VALUES (?,?,?,?,?,?) ON CONFLICT (decision_id) DO UPDATE SET
    seq = excluded.seq, observed_at = excluded.observed_at, defaulted = excluded.defaulted,
    loan_taken = excluded.loan_taken, months_on_book = excluded.months_on_book
WHERE excluded.observed_at > current_outcome.observed_at
   OR (excluded.observed_at = current_outcome.observed_at AND excluded.seq > current_outcome.seq)
RETURNING decision_id
"""


# Performance cells (monitoring/store.py): a decision's cell is its fact's, plus its current
# outcome state; projecting a fact and changing a current outcome move counts between cells.
# _FACT_CELL reads a stored fact's cell as store.fact_cell computes it from a Fact.
_FACT_CELL = ("SELECT substr(decided_at, 1, 10), country, decided_by, "
              "CASE WHEN decided_by = 'model' THEN model_version ELSE '' END, "
              "outcome = 'approve', CASE WHEN shadow_outcome IS NULL THEN -1 "
              "WHEN shadow_outcome = 'approve' THEN 1 ELSE 0 END, pd_band, pd "
              "FROM facts WHERE decision_id = ?")
_BUMP = """
INSERT INTO perf_cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET
    n = n + excluded.n, n_pd = n_pd + excluded.n_pd, sum_pd = sum_pd + excluded.sum_pd,
    sum_pd2 = sum_pd2 + excluded.sum_pd2
"""


def _bump(cur: sqlite3.Cursor, changes: Iterable[tuple[tuple, int, int]]) -> None:
    """Count (+1) or uncount (-1) decisions, given each one's fact cell, in a state."""
    cur.executemany(_BUMP, cell_counts(changes))


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


class SQLiteOutcomeConfig(BaseModel):
    type: Literal["sqlite"] = "sqlite"
    path: Path
    timeout_s: float = 10.0  # waiting for another writer (another process) before failing


class SQLiteOutcomeStore:
    def __init__(self, config: SQLiteOutcomeConfig) -> None:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        self._path, self._timeout = config.path, config.timeout_s
        self._db = sqlite3.connect(config.path, check_same_thread=False, isolation_level=None,
                                   timeout=config.timeout_s)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._readers = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked past the timeout
                raise OutcomeStoreUnavailable(f"outcome store busy: {exc}") from exc
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def _reader(self) -> sqlite3.Connection:
        # One connection per reading thread: reads never wait for the writer (WAL).
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = self._readers.conn = sqlite3.connect(self._path, timeout=self._timeout)
        return conn

    # -- outcomes ---------------------------------------------------------------------------

    def add(self, batch: Batch, observations: Sequence[Observation],
            record: Callable[[AddResult], str | None]) -> AddResult:
        duplicates: list[int] = []
        with self._write() as cur:
            for i, o in enumerate(observations):
                cur.execute(
                    "INSERT INTO outcomes (key, decision_id, observed_at, defaulted, loan_taken, "
                    "months_on_book, batch_id, received_at) VALUES (?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (key) DO NOTHING RETURNING seq",
                    (o.key, o.decision_id, o.observed_at, o.defaulted, o.loan_taken,
                     o.months_on_book, batch.batch_id, batch.received_at))
                row = cur.fetchone()
                if row is None:
                    duplicates.append(i)
                    continue
                before = cur.execute("SELECT defaulted, loan_taken FROM current_outcome "
                                     "WHERE decision_id = ?", (o.decision_id,)).fetchone()
                if cur.execute(_UPSERT_CURRENT, (o.decision_id, row[0], o.observed_at,
                                                 o.defaulted, o.loan_taken,
                                                 o.months_on_book)).fetchone():
                    self._move(cur, o.decision_id,
                               outcome_state(*before) if before else NO_OUTCOME,
                               outcome_state(o.defaulted, o.loan_taken))
            result = AddResult(len(observations) - len(duplicates), tuple(duplicates))
            audit_ref = record(result)
            cur.execute("INSERT INTO batches VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (batch.batch_id, batch.received_at, batch.source, batch.source_name,
                         batch.content_sha256, batch.count, batch.rejected, result.accepted,
                         len(duplicates), audit_ref))
        return result

    @staticmethod
    def _move(cur: sqlite3.Cursor, decision_id: str, old: int, new: int) -> None:
        """A projected decision's current outcome changed state: move it between cells."""
        cell = cur.execute(_FACT_CELL, (decision_id,)).fetchone()
        if cell is not None and old != new:
            _bump(cur, [(cell, old, -1), (cell, new, 1)])

    def history(self, decision_id: str) -> list[StoredObservation]:
        conn = self._reader()
        current = conn.execute("SELECT seq FROM current_outcome WHERE decision_id = ?",
                               (decision_id,)).fetchone()
        rows = conn.execute(
            "SELECT seq, decision_id, defaulted, observed_at, loan_taken, months_on_book, "
            "batch_id, received_at FROM outcomes WHERE decision_id = ? ORDER BY seq",
            (decision_id,)).fetchall()
        return [StoredObservation(Observation(d, bool(dft), obs, _flag(taken), mob), batch,
                                  received, current is not None and seq == current[0])
                for seq, d, dft, obs, taken, mob, batch, received in rows]

    def batches(self, limit: int | None = None) -> list[StoredBatch]:
        rows = self._reader().execute(
            "SELECT batch_id, received_at, source, source_name, content_sha256, count, "
            "rejected, accepted, duplicates, audit_ref FROM batches "
            "ORDER BY received_at DESC, rowid DESC LIMIT ?", (limit or -1,)).fetchall()
        return [StoredBatch(Batch(*r[:7]), r[7], r[8], r[9]) for r in rows]

    def batch_totals(self) -> BatchTotals:
        row = self._reader().execute(
            "SELECT COUNT(*), TOTAL(count), TOTAL(accepted), TOTAL(duplicates), TOTAL(rejected), "
            "MAX(received_at) FROM batches").fetchone()
        return BatchTotals(int(row[0]), *(int(x) for x in row[1:5]), row[5])

    # -- the read model ---------------------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        return dict(self._reader().execute("SELECT chain_id, seq FROM checkpoints").fetchall())

    def project(self, chain_id: str, after_seq: int, to_seq: int, facts: Sequence[Fact],
                counts: Sequence[BinCount]) -> bool:
        with self._write() as cur:
            row = cur.execute("SELECT seq FROM checkpoints WHERE chain_id = ?",
                              (chain_id,)).fetchone()
            if (row[0] if row else 0) != after_seq:
                return False
            counted = []
            for f in facts:
                if cur.execute("INSERT INTO facts VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                               "ON CONFLICT DO NOTHING RETURNING decision_id",
                               (f.decision_id, f.decided_at, f.country, f.decided_by,
                                f.model_version, f.outcome, f.pd, f.legacy_points,
                                f.shadow_outcome, f.degraded, f.pd_band)).fetchone():
                    # Its outcome may have been reported before it was projected.
                    now = cur.execute("SELECT defaulted, loan_taken FROM current_outcome "
                                      "WHERE decision_id = ?", (f.decision_id,)).fetchone()
                    counted.append((fact_cell(f), outcome_state(*now) if now else NO_OUTCOME, 1))
            _bump(cur, counted)
            cur.executemany(
                "INSERT INTO bin_counts VALUES (?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "count = count + excluded.count",
                [(c.day, c.country, c.model_version, c.feature, c.bin, c.count)
                 for c in counts])
            cur.execute("INSERT INTO checkpoints VALUES (?, ?) ON CONFLICT DO UPDATE SET "
                        "seq = excluded.seq", (chain_id, to_seq))
        return True

    def decision_rows(self, period: Period) -> list[tuple]:
        where, params = period_clause(period, "f.decided_at", day=False)
        sql = ("SELECT f.decision_id, f.decided_at, f.country, f.decided_by, "  # noqa: S608  # nosec B608
               "f.model_version, f.outcome, f.pd, f.legacy_points, f.shadow_outcome, "
               "c.seq IS NOT NULL, c.defaulted, c.loan_taken, c.months_on_book FROM facts f "
               f"LEFT JOIN current_outcome c USING (decision_id) WHERE {where}")
        return self._reader().execute(sql, params).fetchall()

    def performance_cells(self, period: Period, cohort_chars: int) -> list[tuple]:
        where, params = period_clause(period, "day", day=True, country="country")
        sql = ("SELECT country, decided_by, version, substr(day, 1, ?), approved, state, "  # noqa: S608  # nosec B608
               "shadow, pd_band, SUM(n), SUM(n_pd), TOTAL(sum_pd), TOTAL(sum_pd2) "
               f"FROM perf_cells WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 "
               "HAVING SUM(n) != 0")
        return self._reader().execute(sql, [cohort_chars, *params]).fetchall()

    def scored_loans(self, period: Period) -> list[tuple]:
        where, params = period_clause(period, "f.decided_at", day=False)
        sql = ("SELECT f.country, f.decided_by, "  # noqa: S608  # nosec B608
               "CASE WHEN f.decided_by = 'model' THEN f.model_version ELSE '' END, "
               "f.pd, f.legacy_points, c.defaulted "
               "FROM current_outcome c JOIN facts f USING (decision_id) "
               f"WHERE {where} AND f.outcome = 'approve' "
               "AND (c.loan_taken IS NULL OR c.loan_taken != 0)")
        return self._reader().execute(sql, params).fetchall()

    def bin_counts(self, period: Period) -> list[BinTotal]:
        where, params = period_clause(period, "day", day=True, country="country")
        sql = ("SELECT model_version, feature, bin, SUM(count) FROM bin_counts "  # noqa: S608  # nosec B608
               f"WHERE {where} GROUP BY model_version, feature, bin")
        return self._reader().execute(sql, params).fetchall()

    def ping(self) -> None:
        self._reader().execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._db.close()
