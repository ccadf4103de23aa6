"""The review store in PostgreSQL (tables review_*; the layout of review/sqlite.py), shared by
every instance: the unique indexes and the compare-and-set on a case's version hold across
instances as they do across the workers of one. Every call bounded (core/postgres.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import psycopg

from core.postgres import PgPool, PostgresConfig
from core.schema import Branch
from review.errors import CaseConflict, ReviewStoreUnavailable
from review.model import Action, Case, CaseQuery, Notice, rank

MIGRATIONS = Branch("review", Path(__file__).parent / "migrations")


class PostgresReviewConfig(PostgresConfig):
    type: Literal["postgres"] = "postgres"


class PostgresReviewStore:
    def __init__(self, config: PostgresReviewConfig) -> None:
        self._pool = PgPool(config, "review", ReviewStoreUnavailable, MIGRATIONS)

    def _read(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()

    # -- cases ---------------------------------------------------------------------------

    def open_case(self, case: Case, action: Action | None = None) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM review_cases WHERE review_id = %s",
                            (case.review_id,)).fetchone():
                return False
            try:
                with conn.transaction():  # a savepoint: the conflict leaves the rest usable
                    conn.execute("INSERT INTO review_cases VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                                 _case_row(case))
            except psycopg.errors.UniqueViolation:
                if conn.execute("SELECT 1 FROM review_cases WHERE review_id = %s",
                                (case.review_id,)).fetchone():
                    return False  # the same event, projected by another instance meanwhile
                raise CaseConflict(f"decision {case.decision_id} already has a {case.kind} "
                                   "case or an open case") from None
            if action is not None:
                _insert_action(conn, action)
        return True

    def open_referrals(self, cases: Sequence[Case], notices: Sequence[Notice]) -> int:
        new = 0
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if cases:
                cur.executemany("INSERT INTO review_cases VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                                "ON CONFLICT DO NOTHING", [_case_row(c) for c in cases])
                new += cur.rowcount
            if notices:
                cur.executemany("INSERT INTO review_notices VALUES (%s,%s,%s,%s,%s) "
                                "ON CONFLICT DO NOTHING", [_notice_row(n) for n in notices])
                new += cur.rowcount
        return new

    def save_case(self, case: Case, expected_version: int, action: Action) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM review_actions WHERE action_id = %s",
                            (action.action_id,)).fetchone():
                return False
            updated = conn.execute(
                "UPDATE review_cases SET version = %s, is_open = %s, doc = %s "
                "WHERE review_id = %s AND version = %s",
                (case.version, case.outcome is None, case.to_json(), case.review_id,
                 expected_version)).rowcount
            if updated != 1:
                if conn.execute("SELECT 1 FROM review_actions WHERE action_id = %s",
                                (action.action_id,)).fetchone():
                    return False  # this very action, applied by another instance meanwhile
                raise CaseConflict(f"case {case.review_id} changed meanwhile (it is no longer "
                                   f"at version {expected_version}); reload it")
            _insert_action(conn, action)
        return True

    def get_case(self, review_id: str) -> Case | None:
        rows = self._read("SELECT doc FROM review_cases WHERE review_id = %s", (review_id,))
        return Case.from_json(bytes(rows[0][0])) if rows else None

    def cases_present(self, review_ids: Sequence[str]) -> set[str]:
        return {k for (k,) in self._read("SELECT review_id FROM review_cases "
                                         "WHERE review_id = ANY(%s)", (list(review_ids),))}

    def cases_for(self, decision_id: str) -> list[Case]:
        rows = self._read("SELECT doc FROM review_cases WHERE decision_id = %s "
                          "ORDER BY opened_at, review_id", (decision_id,))
        return [Case.from_json(bytes(d)) for (d,) in rows]

    def list_cases(self, query: CaseQuery) -> list[Case]:
        where, params = [], []
        if query.status is not None:
            where.append("is_open = %s")
            params.append(query.status == "open")
        for column, value in (("country", query.country), ("kind", query.kind)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if query.after is not None:
            where.append("(rank, opened_at, review_id) > (%s, %s, %s)")
            params.extend(query.after)
        sql = (f"SELECT doc FROM review_cases WHERE {' AND '.join(where) or 'true'} "  # noqa: S608  # nosec B608
               "ORDER BY rank, opened_at, review_id LIMIT %s")
        return [Case.from_json(bytes(d)) for (d,) in self._read(sql, [*params, query.limit])]

    # -- actions -------------------------------------------------------------------------

    def add_action(self, action: Action) -> bool:
        with self._pool.connection() as conn:
            return _insert_action(conn, action)

    def has_action(self, action_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM review_actions WHERE action_id = %s",
                               (action_id,)))

    def actions_for(self, decision_id: str) -> list[Action]:
        rows = self._read("SELECT doc FROM review_actions WHERE decision_id = %s "
                          "ORDER BY at, action_id", (decision_id,))
        return [Action.from_json(bytes(d)) for (d,) in rows]

    def action_counts(self) -> list[tuple[str, str, str, int]]:
        return [tuple(r) for r in self._read(  # type: ignore[misc]
            "SELECT actor, country, type, COUNT(*) FROM review_actions "
            "GROUP BY actor, country, type")]

    def queue_stats(self, at: str) -> list[tuple[str, str, int, str, int]]:
        return [tuple(r) for r in self._read(  # type: ignore[misc]
            "SELECT country, kind, COUNT(*), MIN(opened_at), "
            "COUNT(*) FILTER (WHERE convert_from(doc, 'UTF8')::jsonb ->> 'due_at' < %s) "
            "FROM review_cases WHERE is_open GROUP BY country, kind", (at,))]

    # -- notices -------------------------------------------------------------------------

    def put_notice(self, notice: Notice) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(
                "INSERT INTO review_notices VALUES (%s,%s,%s,%s,%s) "
                "ON CONFLICT (decision_id) DO NOTHING",
                _notice_row(notice)).rowcount == 1

    def set_notice(self, notice: Notice) -> None:
        with self._pool.connection() as conn:
            conn.execute("INSERT INTO review_notices VALUES (%s,%s,%s,%s,%s) "
                         "ON CONFLICT (decision_id) DO UPDATE SET country = excluded.country, "
                         "status = excluded.status, due_at = excluded.due_at, "
                         "doc = excluded.doc", _notice_row(notice))

    def notices_present(self, decision_ids: Sequence[str]) -> set[str]:
        return {k for (k,) in self._read("SELECT decision_id FROM review_notices "
                                         "WHERE decision_id = ANY(%s)", (list(decision_ids),))}

    def get_notice(self, decision_id: str) -> Notice | None:
        rows = self._read("SELECT doc FROM review_notices WHERE decision_id = %s",
                          (decision_id,))
        return Notice.from_json(bytes(rows[0][0])) if rows else None

    def notices(self, status: str, country: str | None = None,
                limit: int = 1000) -> list[Notice]:
        rows = self._read("SELECT doc FROM review_notices WHERE status = %s "
                          "AND %s IN (country, '') ORDER BY due_at, decision_id LIMIT %s",
                          (status, country or "", limit))
        return [Notice.from_json(bytes(d)) for (d,) in rows]

    # -- projector checkpoints -----------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        return dict(self._read("SELECT chain_id, seq FROM review_checkpoints"))  # type: ignore[arg-type]

    def advance(self, positions: dict[str, int]) -> None:
        if not positions:
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO review_checkpoints VALUES (%s, %s) ON CONFLICT (chain_id) "
                "DO UPDATE SET seq = GREATEST(review_checkpoints.seq, excluded.seq)",
                list(positions.items()))

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._pool.close()


def _case_row(c: Case) -> tuple:
    return (c.review_id, c.decision_id, c.kind, c.country, rank(c), c.opened_at,
            c.outcome is None, c.version, c.to_json())


def _notice_row(n: Notice) -> tuple:
    return n.decision_id, n.country, n.status, n.due_at, n.to_json()


def _insert_action(conn: psycopg.Connection, a: Action) -> bool:
    return conn.execute("INSERT INTO review_actions VALUES (%s,%s,%s,%s,%s,%s,%s) "
                        "ON CONFLICT (action_id) DO NOTHING",
                        (a.action_id, a.decision_id, a.at, a.actor, a.country, a.type,
                         a.to_json())).rowcount == 1
