"""The outcome store port: loan outcomes as they were reported, the batches they came in,
and the monitoring read model (a projection of the audit log: the non-personal numbers of
each decision and binned feature counts). Backends, one per file: sqlite (embedded); the
PostgreSQL backend joins through monitoring/factory.py and passes the same contract suite
(tests/contract/test_outcome_store.py).

Outcomes: an observation is identified by its content (decision, date, defaulted, loan
taken, months on book). The same observation twice is a duplicate and changes nothing; a
different observation of the same decision is kept beside the earlier ones, and the one
with the latest `observed_at` is current (on the same date, the later arrival: a
correction). So late and out-of-order files give the same current state in any order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

import orjson


class OutcomeStoreUnavailable(Exception):
    """The outcome store could not be read or written (nothing of the batch was stored)."""


@dataclass(frozen=True)
class Observation:
    decision_id: str
    defaulted: bool
    observed_at: str  # YYYY-MM-DD
    loan_taken: bool | None = None
    months_on_book: int | None = None

    @property
    def key(self) -> str:
        """Its identity: SHA-256 of its canonical content."""
        return hashlib.sha256(orjson.dumps(
            [self.decision_id, self.observed_at, self.defaulted, self.loan_taken,
             self.months_on_book])).hexdigest()


@dataclass(frozen=True)
class StoredObservation:
    observation: Observation
    batch_id: str
    received_at: str
    current: bool


@dataclass(frozen=True)
class Batch:
    """A received batch; the store fills in what it accepted."""

    batch_id: str
    received_at: str
    source: str                # api | file
    source_name: str | None    # API key or file name
    content_sha256: str
    count: int
    rejected: int


@dataclass(frozen=True)
class AddResult:
    accepted: int
    duplicates: tuple[int, ...]  # positions (in the list given) already on record


@dataclass(frozen=True)
class StoredBatch:
    batch: Batch
    accepted: int
    duplicates: int
    audit_ref: str | None  # "<chain id>/<seq>" of its audit record


@dataclass(frozen=True)
class BatchTotals:
    batches: int
    items: int
    accepted: int
    duplicates: int
    rejected: int
    latest_at: str | None


@dataclass(frozen=True)
class Fact:
    """The non-personal numbers of one decision, for monitoring."""

    decision_id: str
    decided_at: str          # ISO 8601, UTC
    country: str
    decided_by: str          # model | legacy
    model_version: str       # the version pinned for the decision (scored live or in shadow)
    outcome: str             # approve | refer | decline
    pd: float | None         # the model's PD for the application (live or shadow)
    legacy_points: float | None
    shadow_outcome: str | None  # the other arm's outcome, when it was compared
    degraded: bool
    pd_band: int = -1        # its PD band (monitoring.performance.PD_BANDS), -1 without a PD


@dataclass(frozen=True)
class BinCount:
    day: str  # YYYY-MM-DD (UTC) of the decisions
    country: str
    model_version: str
    feature: str
    bin: int
    count: int


# What `decision_rows` returns, one tuple per decision, in this order.
ROW_COLUMNS = ("decision_id", "decided_at", "country", "decided_by", "model_version",
               "outcome", "pd", "legacy_points", "shadow_outcome", "has_outcome",
               "defaulted", "loan_taken", "months_on_book")
# What `bin_counts` returns: (model_version, feature, bin, count), summed over the period.
BinTotal = tuple[str, str, int, int]

# The counts performance is computed from (monitoring/performance.py), kept by the store as
# decisions are projected and outcomes change (so reading them costs the same for any number
# of decisions). A group is (country, decided_by, version), version "" for the legacy arm; a
# decision's outcome state is one of
NO_OUTCOME, NOT_TAKEN, REPAID, DEFAULTED = 0, 1, 2, 3
# and its shadow arm -1 (none compared), 0 (would not approve) or 1 (would approve).
# performance_cells: (country, decided_by, version, cohort, approved (0/1), state, shadow,
# pd_band, n, n with a PD, sum of PD, sum of PD squared).
# scored_loans, one per approved loan taken with an outcome: (country, decided_by, version,
# pd, legacy_points, defaulted).
Cell = tuple


def fact_cell(f: Fact) -> tuple:
    """A fact's cell without its outcome state: (day, country, decided_by, version, approved,
    shadow, pd_band, pd), as each store's _FACT_CELL reads it back from the stored fact."""
    shadow = -1 if f.shadow_outcome is None else int(f.shadow_outcome == "approve")
    return (f.decided_at[:10], f.country, f.decided_by,
            f.model_version if f.decided_by == "model" else "", int(f.outcome == "approve"),
            shadow, f.pd_band, f.pd)


def cell_counts(changes: Iterable[tuple[tuple, int, int]]) -> list[tuple]:
    """Rows to add to the performance cells for (fact_cell, outcome state, +1 or -1) changes,
    summed per cell: a projection step upserts each cell once, not once per decision."""
    sums: dict[tuple, list[float]] = {}
    for (day, country, arm, version, approved, shadow, band, pd), state, sign in changes:
        row = sums.setdefault((day, country, arm, version, approved, state, shadow, band),
                              [0, 0, 0.0, 0.0])
        row[0] += sign
        if pd is not None:
            row[1] += sign
            row[2] += sign * pd
            row[3] += sign * pd ** 2
    return [(*cell, int(n), int(n_pd), s, s2) for cell, (n, n_pd, s, s2) in sums.items()]


def outcome_state(defaulted: bool | int | None, loan_taken: bool | int | None) -> int:
    """The state of a decision whose current outcome is this (loan not taken: no default)."""
    if loan_taken is not None and not loan_taken:
        return NOT_TAKEN
    return DEFAULTED if defaulted else REPAID


@dataclass(frozen=True)
class Period:
    since: str | None = None    # YYYY-MM-DD, inclusive
    until: str | None = None    # YYYY-MM-DD, inclusive
    country: str | None = None


def period_clause(p: Period, column: str, day: bool, country: str = "f.country",
                  mark: str = "?") -> tuple[str, list[Any]]:
    """WHERE clause of a period on an ISO time (or YYYY-MM-DD day) column, for either
    backend (`mark`: its parameter placeholder)."""
    conds: list[str] = []
    params: list[Any] = []
    if p.since:
        conds.append(f"{column} >= {mark}")
        params.append(p.since)
    if p.until:  # inclusive: up to the start of the next day
        conds.append(f"{column} <= {mark}" if day else f"{column} < {mark}")
        params.append(p.until if day else (date.fromisoformat(p.until)
                                           + timedelta(days=1)).isoformat())
    if p.country:
        conds.append(f"{country} = {mark}")
        params.append(p.country)
    return " AND ".join(conds) or "1 = 1", params


class OutcomeStore(Protocol):
    # -- outcomes ---------------------------------------------------------------------------

    def add(self, batch: Batch, observations: Sequence[Observation],
            record: Callable[[AddResult], str | None]) -> AddResult:
        """Store a batch's new observations in one transaction. `record(result)` runs inside
        it before the commit (it writes the batch's audit record and returns its place):
        if it raises, nothing is stored and the error propagates."""

    def history(self, decision_id: str) -> list[StoredObservation]:
        """Every observation of a decision, in arrival order; one is `current`."""

    def batches(self, limit: int | None = None) -> list[StoredBatch]:
        """The batches received, newest first (all, or the latest `limit`)."""

    def batch_totals(self) -> BatchTotals:
        """How many batches and items were received, and what became of them."""

    # -- the read model ---------------------------------------------------------------------

    def checkpoints(self) -> dict[str, int]:
        """chain id -> the last audit seq projected."""

    def project(self, chain_id: str, after_seq: int, to_seq: int, facts: Sequence[Fact],
                counts: Sequence[BinCount]) -> bool:
        """Add the facts and counts of the chain's entries after_seq+1..to_seq and move its
        checkpoint, atomically; False (nothing written) if the checkpoint is no longer
        after_seq (another process projected them)."""

    def decision_rows(self, period: Period) -> list[tuple]:
        """Each projected decision of the period with its current outcome (ROW_COLUMNS), for
        checks and exports."""

    def performance_cells(self, period: Period, cohort_chars: int) -> list[Cell]:
        """The period's decisions counted by group, cohort (the first `cohort_chars`
        characters of the decision day: 7 = month, 10 = day), approval, current outcome
        state, shadow and PD band (see above); cells that count nothing are left out."""

    def scored_loans(self, period: Period) -> list[Cell]:
        """One row per approved loan taken with an outcome: its scores and whether it
        defaulted (AUC and KS need the rows)."""

    def bin_counts(self, period: Period) -> list[BinTotal]:
        """Feature and score bin counts of the period's decisions, summed."""

    def ping(self) -> None: ...

    def close(self) -> None: ...

