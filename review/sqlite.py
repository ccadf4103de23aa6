"""Embedded review store: one SQLite file (WAL) under the data dir, shared by the API's
workers and the CLI. Documents as JSON, with the columns the queue sorts and filters on."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.sqlite import LockedSQLite
from review.errors import CaseConflict, ReviewStoreUnavailable
from review.model import Action, Case, CaseQuery, Notice, rank

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    review_id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT NOT NULL,
    rank INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    is_open INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc BLOB NOT NULL,
    UNIQUE (decision_id, kind)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_case ON cases (decision_id) WHERE is_open = 1;
CREATE INDEX IF NOT EXISTS queue ON cases (is_open, rank, opened_at, review_id);
CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    country TEXT NOT NULL,
    type TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_of_decision ON actions (decision_id, at);
CREATE TABLE IF NOT EXISTS notices (
    decision_id TEXT PRIMARY KEY,
    country TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS notices_by_status ON notices (status, due_at);
CREATE TABLE IF NOT EXISTS checkpoints (chain_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


_CHUNK = 1000


class SQLiteReviewConfig(BaseModel):
    type: Literal["sqlite"] = "sqlite"
    path: Path
    timeout_s: float = 5.0  # waiting for another process's write transaction


class SQLiteReviewStore:
    def __init__(self, path: Path, timeout_s: float = 5.0) -> None:
        # NORMAL: in WAL mode a crash of the process loses nothing; a power cut may lose the
        # last transactions, which the projector replays from the audit log (the truth).
        self._db = LockedSQLite(path, _SCHEMA, ReviewStoreUnavailable, "review store",
                                "NORMAL", timeout_s)
        self._write, self._read = self._db.write, self._db.read

    # -- cases ---------------------------------------------------------------------------

    def open_case(self, case: Case, action: Action | None = None) -> bool:
        with self._write() as cur:
            if cur.execute("SELECT 1 FROM cases WHERE review_id = ?",
                           (case.review_id,)).fetchone():
                return False
            try:
                cur.execute("INSERT INTO cases VALUES (?,?,?,?,?,?,?,?,?)", _case_row(case))
            except sqlite3.IntegrityError:
                raise CaseConflict(f"decision {case.decision_id} already has a {case.kind} "
                                   "case or an open case") from None
            if action is not None:
                _insert_action(cur, action)
        return True

    def open_referrals(self, cases: Sequence[Case], notices: Sequence[Notice]) -> int:
        new = 0
        with self._write() as cur:
            if cases:
                cur.executemany("INSERT OR IGNORE INTO cases VALUES (?,?,?,?,?,?,?,?,?)",
                                [_case_row(c) for c in cases])
                new += cur.rowcount
            if notices:
                cur.executemany("INSERT OR IGNORE INTO notices VALUES (?,?,?,?,?)",
                                [_notice_row(n) for n in notices])
                new += cur.rowcount
        return new

    def save_case(self, case: Case, expected_version: int, action: Action) -> bool:
        with self._write() as cur:
            if cur.execute("SELECT 1 FROM actions WHERE action_id = ?",
                           (action.action_id,)).fetchone():
                return False
            cur.execute("UPDATE cases SET version = ?, is_open = ?, doc = ? "
                        "WHERE review_id = ? AND version = ?",
                        (case.version, int(case.outcome is None), case.to_json(),
                         case.review_id, expected_version))
            if cur.rowcount != 1:
                raise CaseConflict(f"case {case.review_id} changed meanwhile (it is no longer "
                                   f"at version {expected_version}); reload it")
            _insert_action(cur, action)
        return True

    def get_case(self, review_id: str) -> Case | None:
        rows = self._read("SELECT doc FROM cases WHERE review_id = ?", (review_id,))
        return Case.from_json(rows[0][0]) if rows else None

    def cases_present(self, review_ids: Sequence[str]) -> set[str]:
        return self._present("cases", "review_id", review_ids)

    def cases_for(self, decision_id: str) -> list[Case]:
        rows = self._read("SELECT doc FROM cases WHERE decision_id = ? ORDER BY opened_at, review_id",
                          (decision_id,))
        return [Case.from_json(d) for (d,) in rows]

    def list_cases(self, query: CaseQuery) -> list[Case]:
        where, params = [], []
        if query.status is not None:
            where.append("is_open = ?")
            params.append(int(query.status == "open"))
        for column, value in (("country", query.country), ("kind", query.kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.after is not None:
            where.append("(rank, opened_at, review_id) > (?, ?, ?)")
            params.extend(query.after)
        sql = (f"SELECT doc FROM cases WHERE {' AND '.join(where) or '1'} "  # noqa: S608  # nosec B608
               "ORDER BY rank, opened_at, review_id LIMIT ?")
        return [Case.from_json(d) for (d,) in self._read(sql, [*params, query.limit])]

    # -- actions -------------------------------------------------------------------------

    def add_action(self, action: Action) -> bool:
        with self._write() as cur:
            return _insert_action(cur, action)

    def has_action(self, action_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM actions WHERE action_id = ?", (action_id,)))

    def actions_for(self, decision_id: str) -> list[Action]:
        rows = self._read("SELECT doc FROM actions WHERE decision_id = ? ORDER BY at, action_id",
                          (decision_id,))
        return [Action.from_json(d) for (d,) in rows]

    def action_counts(self) -> list[tuple[str, str, str, int]]:
        return [tuple(r) for r in self._read(  # type: ignore[misc]
            "SELECT actor, country, type, COUNT(*) FROM actions GROUP BY actor, country, type")]

    def queue_stats(self, at: str) -> list[tuple[str, str, int, str, int]]:
        return [tuple(r) for r in self._read(  # type: ignore[misc]
            "SELECT country, kind, COUNT(*), MIN(opened_at), "
            "SUM(json_extract(CAST(doc AS TEXT), '$.due_at') < ?) "
            "FROM cases WHERE is_open = 1 GROUP BY country, kind", (at,))]

    # -- notices -------------------------------------------------------------------------

    def put_notice(self, notice: Notice) -> bool:
        with self._write() as cur:
            cur.execute("INSERT OR IGNORE INTO notices VALUES (?,?,?,?,?)", _notice_row(notice))
            return cur.rowcount == 1

    def set_notice(self, notice: Notice) -> None:
        with self._write() as cur:
            cur.execute("INSERT OR REPLACE INTO notices VALUES (?,?,?,?,?)", _notice_row(notice))

    def get_notice(self, decision_id: str) -> Notice | None:
        rows = self._read("SELECT doc FROM notices WHERE decision_id = ?", (decision_id,))
        return Notice.from_json(rows[0][0]) if rows else None

    def notices_present(self, decision_ids: Sequence[str]) -> set[str]:
        return self._present("notices", "decision_id", decision_ids)

    def _present(self, table: str, key: str, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(ids), _CHUNK):  # SQLite binds at most 32,766 parameters
            chunk = ids[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update(k for (k,) in self._read(
                f"SELECT {key} FROM {table} WHERE {key} IN ({marks})", tuple(chunk)))  # noqa: S608  # nosec B608
        return out

    def notices(self, status: str, country: str | None = None,
                limit: int = 1000) -> list[Notice]:
        # `? IN (country, '')`: the given country, or every country when none is given.
        rows = self._read("SELECT doc FROM notices WHERE status = ? AND ? IN (country, '') "
                          "ORDER BY due_at, decision_id LIMIT ?", (status, country or "", limit))
        return [Notice.from_json(d) for (d,) in rows]

    # -- projector checkpoints -----------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        return dict(self._read("SELECT chain_id, seq FROM checkpoints"))  # type: ignore[arg-type]

    def advance(self, positions: dict[str, int]) -> None:
        if not positions:
            return
        with self._write() as cur:
            cur.executemany("INSERT INTO checkpoints VALUES (?, ?) ON CONFLICT (chain_id) "
                            "DO UPDATE SET seq = MAX(seq, excluded.seq)", positions.items())

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._db.close()


def _case_row(c: Case) -> tuple:
    return (c.review_id, c.decision_id, c.kind, c.country, rank(c), c.opened_at,
            int(c.outcome is None), c.version, c.to_json())


def _notice_row(n: Notice) -> tuple:
    return n.decision_id, n.country, n.status, n.due_at, n.to_json()


def _insert_action(cur: sqlite3.Cursor, a: Action) -> bool:
    cur.execute("INSERT OR IGNORE INTO actions VALUES (?,?,?,?,?,?,?)",
                (a.action_id, a.decision_id, a.at, a.actor, a.country, a.type, a.to_json()))
    return cur.rowcount == 1
