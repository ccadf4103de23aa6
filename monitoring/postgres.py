"""The outcome store in PostgreSQL (tables outcome_* and monitoring_*; the layout of
monitoring/sqlite.py), shared by every instance. Writers take one transaction-level advisory
lock, so they run one at a time as SQLite's do: a batch of outcomes and a projection step
both read a decision's fact and current outcome and then move its performance count, and
two of them interleaved would count it in the wrong cell. Reads never wait for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import psycopg

from core.postgres import PgPool, PostgresConfig
from core.schema import Branch
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

MIGRATIONS = Branch("monitoring", Path(__file__).parent / "migrations")
_WRITERS_LOCK = 0x6D6F6E69  # pg_advisory_xact_lock key of the outcome store's writers

_UPSERT_CURRENT = """
INSERT INTO outcome_current VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (decision_id) DO UPDATE SET
    seq = excluded.seq, observed_at = excluded.observed_at, defaulted = excluded.defaulted,
    loan_taken = excluded.loan_taken, months_on_book = excluded.months_on_book
WHERE excluded.observed_at > outcome_current.observed_at
   OR (excluded.observed_at = outcome_current.observed_at AND excluded.seq > outcome_current.seq)
RETURNING decision_id
"""
# A stored fact's cell, as store.fact_cell computes it from a Fact (the same for SQLite).
_FACT_CELL = ("SELECT substr(decided_at, 1, 10), country, decided_by, "
              "CASE WHEN decided_by = 'model' THEN model_version ELSE '' END, "
              "(outcome = 'approve')::int, CASE WHEN shadow_outcome IS NULL THEN -1 "
              "WHEN shadow_outcome = 'approve' THEN 1 ELSE 0 END, pd_band, pd "
              "FROM monitoring_facts WHERE decision_id = %s")
_BUMP = """
INSERT INTO monitoring_perf_cells VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
ON CONFLICT (day, country, decided_by, version, approved, state, shadow, pd_band) DO UPDATE SET
    n = monitoring_perf_cells.n + excluded.n, n_pd = monitoring_perf_cells.n_pd + excluded.n_pd,
    sum_pd = monitoring_perf_cells.sum_pd + excluded.sum_pd,
    sum_pd2 = monitoring_perf_cells.sum_pd2 + excluded.sum_pd2
"""


def _int(flag: bool | None) -> int | None:
    return None if flag is None else int(flag)


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _bump(conn: psycopg.Connection, changes: Iterable[tuple[tuple, int, int]]) -> None:
    """Count (+1) or uncount (-1) decisions, given each one's fact cell, in a state."""
    conn.cursor().executemany(_BUMP, cell_counts(changes))


def _move(conn: psycopg.Connection, decision_id: str, old: int, new: int) -> None:
    cell = conn.execute(_FACT_CELL, (decision_id,)).fetchone()
    if cell is not None and old != new:
        _bump(conn, [(cell, old, -1), (cell, new, 1)])


def _insert_facts(conn: psycopg.Connection, facts: Sequence[Fact]) -> set[str]:
    """The decision ids of the facts not projected before (all inserted in one pipeline)."""
    if not facts:
        return set()
    cur = conn.cursor()
    cur.executemany("INSERT INTO monitoring_facts VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT DO NOTHING RETURNING decision_id",
                    [(f.decision_id, f.decided_at, f.country, f.decided_by, f.model_version,
                      f.outcome, f.pd, f.legacy_points, f.shadow_outcome, int(f.degraded),
                      f.pd_band) for f in facts], returning=True)
    new = set()
    while True:  # one result per statement: the id, or nothing when it was there already
        new.update(row[0] for row in cur.fetchall())
        if not cur.nextset():
            return new


def _current_state(conn: psycopg.Connection, decision_id: str) -> int:
    row = conn.execute("SELECT defaulted, loan_taken FROM outcome_current "
                       "WHERE decision_id = %s", (decision_id,)).fetchone()
    return outcome_state(*row) if row else NO_OUTCOME


class PostgresOutcomeConfig(PostgresConfig):
    type: Literal["postgres"] = "postgres"
    # A batch of outcomes or a projection step is one transaction of many statements.
    statement_timeout_s: float = 10.0


class PostgresOutcomeStore:
    def __init__(self, config: PostgresOutcomeConfig) -> None:
        self._pool = PgPool(config, "outcomes", OutcomeStoreUnavailable, MIGRATIONS)

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    # -- outcomes ---------------------------------------------------------------------------

    def add(self, batch: Batch, observations: Sequence[Observation],
            record: Callable[[AddResult], str | None]) -> AddResult:
        duplicates: list[int] = []
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITERS_LOCK,))
            for i, o in enumerate(observations):
                row = conn.execute(
                    "INSERT INTO outcomes (key, decision_id, observed_at, defaulted, loan_taken, "
                    "months_on_book, batch_id, received_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (key) DO NOTHING RETURNING seq",
                    (o.key, o.decision_id, o.observed_at, int(o.defaulted), _int(o.loan_taken),
                     o.months_on_book, batch.batch_id, batch.received_at)).fetchone()
                if row is None:
                    duplicates.append(i)
                    continue
                before = _current_state(conn, o.decision_id)
                if conn.execute(_UPSERT_CURRENT, (o.decision_id, row[0], o.observed_at,
                                                  int(o.defaulted), _int(o.loan_taken),
                                                  o.months_on_book)).fetchone():
                    _move(conn, o.decision_id, before, outcome_state(o.defaulted, o.loan_taken))
            result = AddResult(len(observations) - len(duplicates), tuple(duplicates))
            audit_ref = record(result)
            conn.execute("INSERT INTO outcome_batches (batch_id, received_at, source, "
                         "source_name, content_sha256, count, rejected, accepted, duplicates, "
                         "audit_ref) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (batch.batch_id, batch.received_at, batch.source, batch.source_name,
                          batch.content_sha256, batch.count, batch.rejected, result.accepted,
                          len(duplicates), audit_ref))
        return result

    def history(self, decision_id: str) -> list[StoredObservation]:
        with self._pool.connection() as conn:
            current = conn.execute("SELECT seq FROM outcome_current WHERE decision_id = %s",
                                   (decision_id,)).fetchone()
            rows = conn.execute(
                "SELECT seq, decision_id, defaulted, observed_at, loan_taken, months_on_book, "
                "batch_id, received_at FROM outcomes WHERE decision_id = %s ORDER BY seq",
                (decision_id,)).fetchall()
        return [StoredObservation(Observation(d, bool(dft), obs, _flag(taken), mob), batch,
                                  received, current is not None and seq == current[0])
                for seq, d, dft, obs, taken, mob, batch, received in rows]

    def batches(self, limit: int | None = None) -> list[StoredBatch]:
        rows = self._read(
            "SELECT batch_id, received_at, source, source_name, content_sha256, count, "
            "rejected, accepted, duplicates, audit_ref FROM outcome_batches "
            "ORDER BY received_at DESC, id DESC LIMIT %s", (limit,))
        return [StoredBatch(Batch(*r[:7]), r[7], r[8], r[9]) for r in rows]

    def batch_totals(self) -> BatchTotals:
        row = self._read(
            "SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(accepted), 0), "
            "COALESCE(SUM(duplicates), 0), COALESCE(SUM(rejected), 0), MAX(received_at) "
            "FROM outcome_batches")[0]
        return BatchTotals(int(row[0]), *(int(x) for x in row[1:5]), row[5])

    # -- the read model ---------------------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        return dict(self._read("SELECT chain_id, seq FROM monitoring_checkpoints"))  # type: ignore[arg-type]

    def project(self, chain_id: str, after_seq: int, to_seq: int, facts: Sequence[Fact],
                counts: Sequence[BinCount]) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITERS_LOCK,))
            row = conn.execute("SELECT seq FROM monitoring_checkpoints WHERE chain_id = %s",
                               (chain_id,)).fetchone()
            if (row[0] if row else 0) != after_seq:
                return False
            # Three round trips a step, not four a decision: the new facts, the outcomes
            # reported before they were projected, then their cells.
            new = _insert_facts(conn, facts)
            now = {d: outcome_state(dft, taken) for d, dft, taken in conn.execute(
                "SELECT decision_id, defaulted, loan_taken FROM outcome_current "
                "WHERE decision_id = ANY(%s)", (list(new),))}
            counted = []
            for f in facts:
                if f.decision_id in new:
                    new.discard(f.decision_id)  # counted once, as a repeat inserts nothing
                    counted.append((fact_cell(f), now.get(f.decision_id, NO_OUTCOME), 1))
            _bump(conn, counted)
            conn.cursor().executemany(
                "INSERT INTO monitoring_bin_counts VALUES (%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (day, country, model_version, feature, bin) DO UPDATE SET "
                "count = monitoring_bin_counts.count + excluded.count",
                [(c.day, c.country, c.model_version, c.feature, c.bin, c.count)
                 for c in counts])
            conn.execute("INSERT INTO monitoring_checkpoints VALUES (%s, %s) "
                         "ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq",
                         (chain_id, to_seq))
        return True

    def decision_rows(self, period: Period) -> list[tuple]:
        where, params = period_clause(period, "f.decided_at", day=False, mark="%s")
        sql = ("SELECT f.decision_id, f.decided_at, f.country, f.decided_by, "  # noqa: S608  # nosec B608
               "f.model_version, f.outcome, f.pd, f.legacy_points, f.shadow_outcome, "
               "(c.seq IS NOT NULL)::int, c.defaulted, c.loan_taken, c.months_on_book "
               "FROM monitoring_facts f LEFT JOIN outcome_current c USING (decision_id) "
               f"WHERE {where}")
        return self._read(sql, params)

    def performance_cells(self, period: Period, cohort_chars: int) -> list[tuple]:
        where, params = period_clause(period, "day", day=True, country="country", mark="%s")
        sql = ("SELECT country, decided_by, version, substr(day, 1, %s::int), approved, "  # noqa: S608  # nosec B608
               "state, shadow, pd_band, SUM(n), SUM(n_pd), COALESCE(SUM(sum_pd), 0), "
               "COALESCE(SUM(sum_pd2), 0) "
               f"FROM monitoring_perf_cells WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 "
               "HAVING SUM(n) != 0")
        return [(*r[:8], int(r[8]), int(r[9]), *r[10:])
                for r in self._read(sql, [cohort_chars, *params])]

    def scored_loans(self, period: Period) -> list[tuple]:
        where, params = period_clause(period, "f.decided_at", day=False, mark="%s")
        sql = ("SELECT f.country, f.decided_by, "  # noqa: S608  # nosec B608
               "CASE WHEN f.decided_by = 'model' THEN f.model_version ELSE '' END, "
               "f.pd, f.legacy_points, c.defaulted "
               "FROM outcome_current c JOIN monitoring_facts f USING (decision_id) "
               f"WHERE {where} AND f.outcome = 'approve' "
               "AND (c.loan_taken IS NULL OR c.loan_taken != 0)")
        return self._read(sql, params)

    def bin_counts(self, period: Period) -> list[BinTotal]:
        where, params = period_clause(period, "day", day=True, country="country", mark="%s")
        sql = ("SELECT model_version, feature, bin, SUM(count) FROM monitoring_bin_counts "  # noqa: S608  # nosec B608
               f"WHERE {where} GROUP BY model_version, feature, bin")
        return [(v, f, b, int(n)) for v, f, b, n in self._read(sql, params)]

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._pool.close()
