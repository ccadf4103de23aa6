"""Embedded backend: one SQLite file under the data directory (the default; no server)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel

from core.sqlite import WalCheckpointer, begin_immediate
from feature_store.protocol import BucketRange, FeatureSet, alone, sum_ranges, ttl_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS features (
    feature_set TEXT NOT NULL,
    entity TEXT NOT NULL,
    value BLOB,
    count INTEGER,
    expires_at REAL,
    PRIMARY KEY (feature_set, entity)
) WITHOUT ROWID;
"""
T = TypeVar("T")
_CHUNK = 500  # SQLite's host-parameter limit is far above this; keeps statements small


class SQLiteConfig(BaseModel):
    type: Literal["sqlite"] = "sqlite"
    path: Path
    busy_timeout_s: float = 0.5


_SPAN_SUM = ("SELECT ? AS name, count FROM features WHERE feature_set = ? "
             "AND entity BETWEEN ? AND ? AND length(entity) = ? "
             "AND substr(entity, ?) NOT GLOB '*[^0-9]*' AND count IS NOT NULL "
             "AND (expires_at IS NULL OR expires_at > ?)")


def _expiry(ttl_s: float | None, now: float) -> float | None:
    return None if ttl_s is None else now + ttl_s


def _same_digit_count(first: int, last: int) -> list[tuple[int, int]]:
    """[first, last] (both >= 0) cut where the numbers gain a digit: 8..123 ->
    (8, 9), (10, 99), (100, 123)."""
    spans = []
    while first <= last:
        top = min(last, 10 ** len(str(first)) - 1)
        spans.append((first, top))
        first = top + 1
    return spans


class SQLiteFeatureStore:
    def __init__(self, config: SQLiteConfig) -> None:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads that asyncio.to_thread uses; the lock
        # serializes them (SQLite would anyway).
        self._db = sqlite3.connect(config.path, check_same_thread=False, isolation_level=None,
                                   timeout=config.busy_timeout_s)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # An erased customer's cached answers are overwritten, not left in free pages.
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._timeout_s = config.busy_timeout_s
        self._checkpointer = WalCheckpointer(self._db, config.path)

    def get(self, fs: FeatureSet, entity: str) -> dict[str, Any] | None:
        return self.get_many(fs, [entity]).get(entity)

    def get_many(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._get_many_locked(fs, entities, time.time())

    def _get_locked(self, fs: FeatureSet, entity: str, now: float) -> dict[str, Any] | None:
        return self._get_many_locked(fs, [entity], now).get(entity)

    def _get_many_locked(self, fs: FeatureSet, entities: Sequence[str], now: float
                         ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(entities), _CHUNK):
            chunk = list(entities[i:i + _CHUNK])
            marks = ",".join("?" * len(chunk))
            out.update((e, orjson.loads(v)) for e, v in self._db.execute(
                "SELECT entity, value FROM features WHERE feature_set = ? "  # noqa: S608  # nosec B608
                f"AND entity IN ({marks}) AND value IS NOT NULL "
                "AND (expires_at IS NULL OR expires_at > ?)", [fs.key, *chunk, now]))
        return out

    def put(self, fs: FeatureSet, entity: str, values: Mapping[str, Any],
            ttl_s: float | None = None) -> None:
        self.put_many(fs, {entity: values}, ttl_s)

    def put_many(self, fs: FeatureSet, rows: Mapping[str, Mapping[str, Any]],
                 ttl_s: float | None = None) -> None:
        exp = _expiry(ttl_of(fs, ttl_s), time.time())
        params = [(fs.key, e, orjson.dumps(dict(v)), exp) for e, v in rows.items()]
        with self._lock:
            begin_immediate(self._db, self._timeout_s)
            try:
                self._db.executemany(
                    "INSERT INTO features (feature_set, entity, value, expires_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (feature_set, entity) DO UPDATE SET "
                    "value = excluded.value, expires_at = excluded.expires_at", params)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def increment(self, fs: FeatureSet, amounts: Mapping[str, int],
                  ttl_s: float | None = None) -> dict[str, int]:
        ttl = ttl_of(fs, ttl_s)
        with self._lock:
            return self._increment(fs, {e: (n, ttl) for e, n in amounts.items()}, time.time())

    def increment_and_sum(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                          ranges: Mapping[str, BucketRange]) -> dict[str, int]:
        if any(r.first < 0 for r in ranges.values()):  # "-5" does not sort as a number
            return sum_ranges(self, fs, amounts, ranges)
        now = time.time()
        with self._lock:  # one lock turn; the sums see this write
            self._increment(fs, amounts, now, returning=False)
            return self._sums_locked(fs, ranges, now)

    def _sums_locked(self, fs: FeatureSet, ranges: Mapping[str, BucketRange], now: float
                     ) -> dict[str, int]:
        """Each range summed by SQLite as index range scans, one statement for all: the
        velocity's 132 bucket names built, bound and looked up one by one cost twice the
        CPU, and 12% of a decision's in the server (ADR 0154). Within one digit count,
        names sort as their numbers do; a range crossing one (9 -> 10) is split there, and
        only names whose suffix is all digits count, so the sums are exactly those of the
        named buckets."""
        parts: list[str] = []
        params: list[Any] = []
        for name, r in ranges.items():
            for lo, hi in _same_digit_count(r.first, r.last):
                parts.append(_SPAN_SUM)
                params += [name, fs.key, f"{r.prefix}{lo}", f"{r.prefix}{hi}",
                           len(r.prefix) + len(str(lo)), len(r.prefix) + 1, now]
        found: dict[str, int] = {}
        if parts:
            found = dict(self._db.execute(
                f"SELECT name, SUM(count) FROM ({' UNION ALL '.join(parts)}) GROUP BY name",  # noqa: S608  # nosec B608
                params))
        return {name: found.get(name, 0) for name in ranges}

    def increment_and_count(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                            entities: Sequence[str]) -> dict[str, int]:
        now = time.time()
        with self._lock:  # one lock turn; the read sees this write
            self._increment(fs, amounts, now, returning=False)
            return self._counts_locked(fs, entities, now)

    def call_many(self, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]
                  ) -> list[tuple[Any, BaseException | None]]:
        """The calls of one turn of the feature lane (core/blocking.py): the velocity calls
        of several decisions in one write transaction, one BEGIN and one COMMIT instead of
        one each. Each call's sums see the increments of the calls before it, as when made
        one after another. A failed write fails the velocity calls of the turn (each
        caller's degradation); the cached reads are answered each on its own. Any other
        call in the batch: each made alone."""
        velocity: list[tuple[int, tuple[Any, ...]]] = []
        reads: list[tuple[int, tuple[Any, ...]]] = []
        for i, (fn, args) in enumerate(calls):
            method = getattr(fn, "__func__", None)
            if method is SQLiteFeatureStore.get:
                reads.append((i, args))
            elif method is SQLiteFeatureStore.increment_and_sum and all(
                    r.first >= 0 for r in args[2].values()):
                velocity.append((i, args))
            else:
                return [alone(fn, args) for fn, args in calls]
        now = time.time()

        def write() -> list[dict[str, int]]:
            sums = []
            for _, (fs, amounts, ranges) in velocity:
                self._upsert(fs, amounts, now, returning=False)
                sums.append(self._sums_locked(fs, ranges, now))
            return sums

        out: list[tuple[Any, BaseException | None]] = [(None, None)] * len(calls)
        with self._lock:
            if velocity:
                sums, error = alone(self._in_transaction, (write,))
                for n, (i, _) in enumerate(velocity):
                    out[i] = (None, error) if error else (sums[n], None)
            for i, (fs, entity) in reads:
                out[i] = alone(self._get_locked, (fs, entity, now))
        return out

    def _in_transaction(self, work: Callable[[], T]) -> T:
        begin_immediate(self._db, self._timeout_s)
        try:
            result = work()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return result

    def _increment(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                   now: float, returning: bool = True) -> dict[str, int]:
        if not amounts:
            return {}
        return self._in_transaction(lambda: self._upsert(fs, amounts, now, returning))

    def _upsert(self, fs: FeatureSet, amounts: Mapping[str, tuple[int, float | None]],
                now: float, returning: bool = True) -> dict[str, int]:
        rows = [(e, n, _expiry(ttl_s, now)) for e, (n, ttl_s) in amounts.items()]
        tail = " RETURNING entity, count" if returning else ""
        out: dict[str, int] = {}
        # One statement per chunk of counters (a decision's six: one), not one each:
        # fewer SQLite steps, and each step hands the GIL over.
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i:i + _CHUNK]
            values = ",".join(["(?, ?, ?)"] * len(chunk))
            out.update(self._db.execute(
                f"INSERT INTO features (feature_set, entity, count, expires_at) "  # noqa: S608  # nosec B608
                f"SELECT ?, column1, column2, column3 FROM (VALUES {values}) WHERE true "
                "ON CONFLICT (feature_set, entity) DO UPDATE SET "
                # An expired counter starts again from zero.
                "count = CASE WHEN features.expires_at IS NOT NULL "
                "AND features.expires_at <= ? OR features.count IS NULL "
                "THEN excluded.count ELSE features.count + excluded.count END, "
                f"expires_at = excluded.expires_at{tail}",
                [fs.key, *(v for r in chunk for v in r), now]))
        return out

    def _counts_locked(self, fs: FeatureSet, entities: Sequence[str], now: float
                       ) -> dict[str, int]:
        # One row (a JSON object) instead of a row per counter: one step, one GIL turn.
        out: dict[str, int] = {}
        for i in range(0, len(entities), _CHUNK):
            chunk = list(entities[i:i + _CHUNK])
            marks = ",".join("?" * len(chunk))
            (found,) = self._db.execute(
                "SELECT json_group_object(entity, count) FROM features "  # noqa: S608  # nosec B608
                f"WHERE feature_set = ? AND entity IN ({marks}) AND count IS NOT NULL "
                "AND (expires_at IS NULL OR expires_at > ?)", [fs.key, *chunk, now]).fetchone()
            out.update(orjson.loads(found))
        return out

    def counts(self, fs: FeatureSet, entities: Sequence[str]) -> dict[str, int]:
        with self._lock:
            return self._counts_locked(fs, entities, time.time())

    def delete(self, fs: FeatureSet, entities: Sequence[str]) -> int:
        gone = 0
        with self._lock:
            for i in range(0, len(entities), _CHUNK):
                chunk = list(entities[i:i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                gone += self._db.execute(
                    f"DELETE FROM features WHERE feature_set = ? AND entity IN ({marks})",  # noqa: S608  # nosec B608
                    [fs.key, *chunk]).rowcount
            if gone:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy left in the WAL
        return gone

    def ping(self) -> None:
        with self._lock:
            self._db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._checkpointer.close()
        self._db.close()
