"""The recorded history as a table: one row per audited decision with what a re-decision
needs (its recorded raw inputs, velocity and degraded sources, never today's data), what was
decided (arm, model and policy versions, outcome, probability) and, where one was reported,
the loan's outcome. Written as Parquet parts that Dask reads partition by partition
(strategy/backtest.py) and retraining joins with outcomes (training from the audit log).

Personal data: the table holds raw inputs (not names or national ids) opened from the
customers' sealed records; it lives under the data dir like the stores and is rebuilt,
never kept longer than the job that needs it (an erased customer's records are skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit.pii import RecordReader
from audit.record import Entry
from audit.records import DecisionRecord, parse_record
from audit.store import AuditStore
from models.features import CATEGORIES, NUMERIC_FIELDS, RAW_FIELDS
from monitoring.store import OutcomeStore, Period

OUTCOME_CODE = {"approve": 0, "refer": 1, "decline": 2}  # decision.policy.OUTCOMES order
SOURCES = ("bureau", "open_banking")
VELOCITY = ("customer_applications_24h", "national_id_applications_24h")
COLUMNS = ("decision_id", "decided_at", "country", "decided_by", "model_version",
           "feature_set_version", "policy_version", "recorded", "recorded_pd",
           *(f"{s}_degraded" for s in SOURCES), *VELOCITY, *RAW_FIELDS, "defaulted")


@dataclass(frozen=True)
class Window:
    since: str | None = None    # YYYY-MM-DD, inclusive
    until: str | None = None    # YYYY-MM-DD, inclusive
    country: str | None = None

    def holds(self, record: DecisionRecord) -> bool:
        day = record.decided_at[:10]
        return ((self.since is None or day >= self.since)
                and (self.until is None or day <= self.until)
                and (self.country is None or record.country == self.country))


def rows(entries: Iterable[Entry], reader: RecordReader, window: Window,
         defaulted: Callable[[str], float]) -> Iterator[dict]:
    """One row per decision record of the window whose inputs can still be read."""
    for entry in entries:
        if not entry.decision_id:
            continue  # governance records: flags, policies, reviews, outcomes, ...
        record = parse_record(entry.body)
        if not isinstance(record, DecisionRecord) or not window.holds(record):
            continue
        inputs = reader.inputs(record)
        if inputs is None:
            continue  # erased: nothing of that person is readable any more
        velocity = inputs.velocity or {}
        degraded = set(record.degraded_sources)
        decided_by = "legacy" if record.legacy is not None else "model"
        row = {"decision_id": record.decision_id, "decided_at": record.decided_at,
               "country": record.country, "decided_by": decided_by,
               "model_version": record.model.version,
               "feature_set_version": record.feature_set_version,
               "policy_version": record.policy.version if record.policy else None,
               "recorded": OUTCOME_CODE[record.response.outcome],
               "recorded_pd": (record.score.probability_of_default if record.score
                               else np.nan),
               **{f"{s}_degraded": s in degraded for s in SOURCES},
               **{v: int(velocity.get(v, 0)) for v in VELOCITY},
               "defaulted": defaulted(record.decision_id)}
        raw = inputs.raw_inputs
        row.update({f: raw.get(f) for f in RAW_FIELDS})
        yield row


def frame(batch: list[dict]) -> pd.DataFrame:
    """Rows -> a typed frame (numbers as float64 with NaN, categories as strings or None)."""
    df = pd.DataFrame(batch, columns=list(COLUMNS))
    for f in NUMERIC_FIELDS:
        df[f] = pd.to_numeric(df[f], errors="coerce").astype("float64")
    for f in CATEGORIES:
        df[f] = df[f].astype(object)
    df["recorded"] = df["recorded"].astype("int8")
    df["recorded_pd"] = df["recorded_pd"].astype("float64")
    df["defaulted"] = df["defaulted"].astype("float64")
    for v in VELOCITY:
        df[v] = df[v].astype("int32")
    return df


def write(rows_: Iterable[dict], out: Path, part_rows: int = 100_000) -> int:
    """Parquet parts of at most `part_rows` rows under `out` (emptied first); the row count."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    batch: list[dict] = []
    parts = total = 0

    def flush() -> None:
        nonlocal parts, total
        frame(batch).to_parquet(out / f"part-{parts:05d}.parquet", index=False)
        parts, total = parts + 1, total + len(batch)
        batch.clear()

    for row in rows_:
        batch.append(row)
        if len(batch) >= part_rows:
            flush()
    if batch or parts == 0:
        flush()
    return total


def outcomes_of(store: OutcomeStore, window: Window) -> dict[str, float]:
    """decision id -> 1.0 defaulted / 0.0 repaid, for the window's decisions with a loan
    taken and an outcome (the monitoring read model's current outcome; caught up by the
    caller). A loan reported as not taken has no performance: left out."""
    period = Period(window.since, window.until, window.country)
    return {r[0]: float(bool(r[10])) for r in store.decision_rows(period)
            if r[9] and r[10] is not None and r[11] is not False and r[11] != 0}


def extract(audit: AuditStore, reader: RecordReader, outcomes: dict[str, float],
            window: Window, out: Path) -> int:
    """The window's history as Parquet parts under `out`; the number of decisions."""
    return write(rows(audit.entries(), reader, window,
                      lambda d: outcomes.get(d, np.nan)), out)
