"""Real-time application velocity: how many applications a customer and a national id made in
the last hour, day and 30 days, updated on every application.

Sliding windows from bucketed counters (ADR 0024): each application adds one to the current
5-minute, hour and day bucket of each subject; a window's count is the sum of its buckets
(12 x 5 min, 24 x 1 h, 30 x 1 day, the current bucket included). Counters are atomic in every
backend, so concurrent applications are all counted. The national id is stored only as its
keyed pseudonym, the customer as theirs (feature set version 2; version 1 keyed customers by
their id in clear). An erasure forgets every bucket of the customer's subjects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from audit.pii import Pseudonymizer
from feature_store.protocol import BucketRange, FeatureSet, FeatureStore, range_sums

VELOCITY_SET = FeatureSet("application_velocity", "2")


@dataclass(frozen=True)
class Window:
    name: str
    bucket_s: int
    buckets: int


WINDOWS = (Window("1h", 300, 12), Window("24h", 3600, 24), Window("30d", 86400, 30))
# `store.increment_and_sum`'s arguments for one application: its buckets with (amount, TTL),
# and each window's range.
RecordArgs = tuple[FeatureSet, dict[str, tuple[int, float | None]], dict[str, BucketRange]]


class Velocity:
    def __init__(self, store: FeatureStore, pseudonymizer: Pseudonymizer) -> None:
        self._store = store
        self._pseudo = pseudonymizer

    @property
    def store(self) -> FeatureStore:
        return self._store

    def _subjects(self, customer_id: str, national_id: str) -> dict[str, str]:
        return {"customer": f"c:{self._pseudo.customer_ref(customer_id)}",
                "national_id": f"n:{self._pseudo.national_id(national_id)}"}

    def forget(self, customer_ref: str, national_refs: list[str],
               now: float | None = None) -> int:
        """Erasure: delete every bucket a window may still hold for these subjects."""
        now = time.time() if now is None else now
        subjects = [f"c:{customer_ref}", *(f"n:{r}" for r in national_refs)]
        keys = [f"{s}|{w.name}|{b}" for s in subjects for w in WINDOWS
                for b in range(int(now // w.bucket_s) - w.buckets, int(now // w.bucket_s) + 1)]
        return self._store.delete(VELOCITY_SET, keys)

    def record(self, customer_id: str, national_id: str, now: float | None = None
               ) -> dict[str, int]:
        """Count this application, then return the counts (this one included), e.g.
        {"customer_applications_1h": 1, ..., "national_id_applications_30d": 3}."""
        return self._store.increment_and_sum(*self.record_args(customer_id, national_id, now))

    def record_args(self, customer_id: str, national_id: str, now: float | None = None
                    ) -> RecordArgs:
        """`record` as the arguments of its one store call, `store.increment_and_sum` (the
        orchestrator makes that call on the store's lane, beside the cached source reads)."""
        now = time.time() if now is None else now
        subjects = self._subjects(customer_id, national_id)
        # A bucket lives as long as a window can still include it. The increments and the
        # read are one store call (one transaction, one round trip): it runs per decision.
        amounts: dict[str, tuple[int, float | None]] = {
            f"{s}|{w.name}|{int(now // w.bucket_s)}": (1, w.bucket_s * (w.buckets + 1))
            for w in WINDOWS for s in subjects.values()}
        return VELOCITY_SET, amounts, _windows(subjects, now)

    @staticmethod
    def take_back_args(record_args: RecordArgs
                       ) -> tuple[FeatureSet, dict[str, tuple[int, float | None]], list[str]]:
        """`store.increment_and_count`'s arguments (it keeps each bucket's own TTL) that
        undo a counted `record_args`: the same buckets, minus what was added (a duplicate
        that another worker recorded first must count once)."""
        fs, amounts, _ = record_args
        return fs, {key: (-n, ttl) for key, (n, ttl) in amounts.items()}, []

    def counts(self, customer_id: str, national_id: str, now: float | None = None,
               subjects: dict[str, str] | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        subjects = subjects or self._subjects(customer_id, national_id)
        return range_sums(_windows(subjects, now), partial(self._store.counts, VELOCITY_SET))


def _windows(subjects: dict[str, str], now: float) -> dict[str, BucketRange]:
    """Each count's name -> the buckets its window sums (the current one included)."""
    windows: dict[str, BucketRange] = {}
    for label, subject in subjects.items():
        for w in WINDOWS:
            last = int(now // w.bucket_s)
            windows[f"{label}_applications_{w.name}"] = BucketRange(
                f"{subject}|{w.name}|", last - w.buckets + 1, last)
    return windows
