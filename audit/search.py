"""Decision search for the console: by period, country, outcome and deciding arm, newest
first, paginated. SQLite answers with one query over the entries table (json_extract on the
body); other backends scan `entries()` with the same filters, which is fine for a demo or a
small log but not for a large DynamoDB table (ADR 0081)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.record import Entry
from audit.records import DecisionRecord, parse_record


@dataclass(frozen=True)
class DecisionQuery:
    since: str | None = None     # appended_at lower bound, inclusive (ISO, UTC)
    until: str | None = None     # appended_at upper bound, exclusive
    country: str | None = None
    outcome: str | None = None
    decided_by: str | None = None  # model | legacy
    offset: int = 0
    limit: int = 25


def summary(body: bytes | str, appended_at: str) -> dict[str, Any]:
    rec = parse_record(body)
    if not isinstance(rec, DecisionRecord):
        raise ValueError(f"not a decision record: {rec.type}")
    resp = rec.response
    return {"decision_id": rec.decision_id, "at": appended_at, "country": rec.country,
            "outcome": resp.outcome, "decided_by": resp.decided_by,
            "probability_of_default": resp.probability_of_default,
            "grade": resp.grade, "model_version": resp.model_version}


def search_sqlite(path: Path, q: DecisionQuery) -> list[dict[str, Any]]:
    where, params = ["decision_id IS NOT NULL"], []
    for clause, value in (("appended_at >= ?", q.since), ("appended_at < ?", q.until),
                          ("country = ?", q.country),
                          ("json_extract(CAST(body AS TEXT), '$.response.outcome') = ?", q.outcome),
                          ("json_extract(CAST(body AS TEXT), '$.response.decided_by') = ?",
                           q.decided_by)):
        if value:
            where.append(clause)
            params.append(value)
    sql = (f"SELECT body, appended_at FROM entries WHERE {' AND '.join(where)} "  # noqa: S608  # nosec B608
           "ORDER BY appended_at DESC, chain_id, seq DESC LIMIT ? OFFSET ?")
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(sql, [*params, q.limit, q.offset]).fetchall()
    finally:
        conn.close()
    return [summary(body, at) for body, at in rows]


def search_scan(entries: Iterable[Entry], q: DecisionQuery) -> list[dict[str, Any]]:
    found = []
    for e in entries:
        if (q.since and e.appended_at < q.since) or (q.until and e.appended_at >= q.until):
            continue
        if q.country and e.country != q.country:
            continue
        if b'"type":"decision"' not in e.body:
            continue
        row = summary(e.body, e.appended_at)
        if (q.outcome and row["outcome"] != q.outcome) or (
                q.decided_by and row["decided_by"] != q.decided_by):
            continue
        found.append(row)
    found.sort(key=lambda r: r["at"], reverse=True)
    return found[q.offset:q.offset + q.limit]


def search(store: Any, q: DecisionQuery) -> list[dict[str, Any]]:
    """The store's own query when it has one (SQLite), else a filtered scan."""
    own = getattr(store, "search_decisions", None)
    return own(q) if own is not None else search_scan(store.entries(), q)
