"""The monitoring read model, projected incrementally from the audit log.

For each chain of the log the outcome store keeps a checkpoint (the last seq projected).
`catch_up` reads each chain's entries after it, in batches, and writes per decision only
non-personal numbers (a `Fact`: country, arms, model version, PD, outcome, time) and, per
day, country and model version, how many decisions fell in each bin of that version's
training reference, per feature and for the score. Counts are aggregates: erasing a
customer never needs to touch them. A batch's facts, counts and new checkpoint are written
in one transaction, so a crash or a second process never counts a decision twice.

A decision's features are personal data: they are read only through the RecordReader
seam (None once the customer was erased; then only the score is counted), or handed over
live: the orchestrator calls `on_decision` once a decision is durable, with its inputs in
clear, and the catch-up that reaches its entry takes the fact and features from there
instead of parsing the record and opening its sealed inputs again (~250 -> ~15 µs of CPU
per decision, and ~17 µs in the listener; ADR 0150). They stay in this worker's memory until
then: at most two passes of the background refresh. A record that is parsed is read through
its view (record_view.py) and only its features are opened (ADR 0161).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from audit.pii import RecordReader
from audit.record import Entry
from audit.records import DecisionInputs, DecisionRecord, parse_record
from audit.store import AuditStore
from core.pacing import UNPACED, Pacer
from monitoring.performance import pd_band
from monitoring.record_view import DecisionView, decision_view
from monitoring.reference import SCORE, Reference
from monitoring.store import BinCount, Fact, OutcomeStore

BATCH = 2000  # audit entries per transaction
LIVE = 30_000  # decisions handed over live and not yet projected (~1.5 KB each), at most
_log = structlog.get_logger("credit.monitoring")


class ReferenceCache:
    """Each model version's reference, loaded once. A version without one is remembered as
    such; a failed load is not (it is tried again on the next catch-up)."""

    def __init__(self, load: Callable[[str], dict[str, Any] | None]) -> None:
        self._load = load
        self._refs: dict[str, Reference | None] = {}
        self._lock = threading.Lock()

    def __call__(self, version: str) -> Reference | None:
        with self._lock:
            if version not in self._refs:
                doc = self._load(version)
                self._refs[version] = None if doc is None else Reference.from_json(doc)
            return self._refs[version]


@dataclass(frozen=True)
class Freshness:
    projected: int       # audit entries projected by this call
    pending: int | None  # entries still to project (None: unknown, the log was unreachable)
    seconds: float
    error: str | None = None  # why the catch-up stopped early (the answer is older)

    @property
    def caught_up(self) -> bool:
        return self.pending == 0

    def to_json(self) -> dict[str, Any]:
        return {"caught_up": self.caught_up, "pending_records": self.pending,
                "projected_records": self.projected, "seconds": round(self.seconds, 3),
                "error": self.error}


def fact_of(rec: DecisionRecord | DecisionView) -> Fact:
    live = rec.response.decided_by
    pd = rec.score.probability_of_default if rec.score is not None else None
    points = rec.legacy.points if rec.legacy is not None else None
    other = None
    cmp = rec.shadow.comparison if rec.shadow is not None else None
    if cmp is not None:  # the other arm's verdict on the same case
        if live == "model":
            other, points = cmp.legacy_outcome, cmp.legacy_points
        else:
            other, pd = cmp.model_outcome, cmp.model_probability
    return Fact(rec.decision_id, rec.decided_at, rec.country, live, rec.model.version,
                rec.response.outcome, pd, points, other, bool(rec.response.degraded),
                pd_band(pd))


def _view(body: bytes) -> DecisionView | None:
    """The view of a decision record's body; None for any other record. Only a decision has
    the marker unescaped (no other record type holds a free-form object), and a malformed
    decision raises, which stops the pass (the read model is then older, never wrong)."""
    return decision_view(body) if b'"type":"decision"' in body else None  # no spaces: canonical


Key = tuple[str, str, str]  # day, country, model version
Features = dict[str, float | None]


class _Counts:
    """Feature rows and scores of one batch, per (day, country, version), binned at the end."""

    def __init__(self) -> None:
        self.refs: dict[Key, Reference] = {}
        self.rows: dict[Key, list[list[float]]] = defaultdict(list)
        self.scores: dict[Key, list[float]] = defaultdict(list)

    def add(self, key: Key, ref: Reference, features: Features | None,
            pd: float | None) -> None:
        self.refs[key] = ref
        if features is not None:
            self.rows[key].append([np.nan if (v := features.get(n)) is None else v
                                   for n in ref.features])
        if pd is not None:
            self.scores[key].append(pd)

    def binned(self) -> list[BinCount]:
        out: list[BinCount] = []

        def emit(key: Key, feature: str, counts: np.ndarray) -> None:
            out.extend(BinCount(*key, feature, int(b), int(c))
                       for b, c in enumerate(counts) if c)

        for key, rows in self.rows.items():
            x = np.array(rows, dtype=np.float64)
            for i, (name, bins) in enumerate(self.refs[key].features.items()):
                emit(key, name, bins.count(x[:, i]))
        for key, scores in self.scores.items():
            emit(key, SCORE, self.refs[key].score.count(np.array(scores)))
        return out


class Projector:
    def __init__(self, audit: AuditStore, store: OutcomeStore, reader: RecordReader,
                 references: Callable[[str], Reference | None], batch: int = BATCH,
                 live: int = LIVE) -> None:
        self.audit = audit
        self.store = store
        self.reader = reader
        self.references = references
        self.batch = batch
        self._lock = threading.Lock()  # one catch-up at a time in this process
        # Decisions handed over live, by decision id, in two generations (each background
        # pass starts a new one and drops the one before: see _catch_up).
        self._live_max = live
        self._live: dict[str, tuple[Fact, Features | None]] = {}
        self._older: dict[str, tuple[Fact, Features | None]] = {}

    def on_decision(self, record: DecisionRecord, inputs: DecisionInputs | None = None) -> None:
        """A decision listener (after its record is durable): keeps what its projection
        needs. Never blocks; past `live` kept decisions it keeps nothing (they are parsed)."""
        live = self._live
        if len(live) < self._live_max:
            live[record.decision_id] = (fact_of(record),
                                        None if inputs is None else inputs.features)

    def _handed_over(self, decision_id: str | None) -> tuple[Fact, Features | None] | None:
        # Only a decision record's entry carries a decision id (the log's unique key).
        if decision_id is None:
            return None
        return self._live.pop(decision_id, None) or self._older.pop(decision_id, None)

    def pending(self) -> int:
        done = self.store.checkpoints()
        return sum(max(0, h.seq - done.get(h.chain_id, 0)) for h in self.audit.heads())

    def catch_up(self, budget_s: float | None = None, *, share: bool = False,
                 pace: Pacer = UNPACED) -> Freshness:
        """Project what the log holds beyond the checkpoints; with a budget, stop after the
        batch that spends it. A failing part (log, store, registry) stops it too: the read
        model is then older, never wrong, and the answer says so. While another thread of
        this process catches up (the background refresh), a budgeted call waits for it at
        most its budget, then answers with what is projected so far.

        `share` is for the background refresh, which runs in every worker: it starts on the
        chain this process writes (workers refreshing at once work on different chains), and
        leaves a chain another process is projecting to it for this pass, instead of
        projecting the same batches again only to lose the race for each. `pace` keeps a
        background pass to its share of the GIL (core/pacing.py)."""
        t0 = time.monotonic()
        projected = [0]
        if not self._lock.acquire(timeout=-1 if budget_s is None else budget_s):
            return self._pending(t0, 0, "another catch-up is running")
        try:
            pending = self._catch_up(t0, budget_s, projected, share, pace)
            return Freshness(projected[0], pending, time.monotonic() - t0)
        except Exception as exc:  # noqa: BLE001 - reported, retried on the next call
            _log.warning("projection_failed", error_type=type(exc).__name__)
            return Freshness(projected[0], None, time.monotonic() - t0,
                             f"projection stopped: {type(exc).__name__}")
        finally:
            self._lock.release()

    def status(self) -> Freshness:
        """How far behind the read model is, projecting nothing (another process does)."""
        return self._pending(time.monotonic(), 0, "left to the background process")

    def _pending(self, t0: float, projected: int, note: str) -> Freshness:
        try:
            pending = self.pending()
        except Exception as exc:  # noqa: BLE001 - the log or the store is unreachable
            return Freshness(projected, None, time.monotonic() - t0,
                             f"{note}; {type(exc).__name__}")
        return Freshness(projected, pending, time.monotonic() - t0, note if pending else None)

    def _catch_up(self, t0: float, budget_s: float | None, projected: list[int],
                  share: bool, pace: Pacer) -> int:
        heads = self.audit.heads()
        if share:
            # What was handed over before the last pass started is below the heads that
            # pass read, so it is projected (here or by another process) or gets parsed:
            # dropping it changes what projecting costs, never the read model.
            self._older, self._live = self._live, {}
            heads.sort(key=lambda h: h.chain_id != self.audit.chain_id)
        for head in heads:
            while budget_s is None or time.monotonic() - t0 < budget_s:
                start = self.store.checkpoints().get(head.chain_id, 0)
                if start >= head.seq:
                    break
                end = min(head.seq, start + self.batch)
                entries = list(self.audit.entries(head.chain_id, start + 1, end))
                facts, counts = self._project(entries, pace)
                # False: another process projected this range meanwhile.
                if self.store.project(head.chain_id, start, end, facts, counts):
                    projected[0] += len(entries)
                elif share:
                    break
        done = self.store.checkpoints()
        return sum(max(0, h.seq - done.get(h.chain_id, 0)) for h in heads)

    def _project(self, entries: Iterable[Entry], pace: Pacer
                 ) -> tuple[list[Fact], list[BinCount]]:
        facts: list[Fact] = []
        counts = _Counts()
        for entry in entries:
            pace.tick()
            view: DecisionView | None = None
            if (live := self._handed_over(entry.decision_id)) is not None:
                fact, features = live
            elif (view := _view(entry.body)) is None:
                continue
            else:
                fact, features = fact_of(view), None
            facts.append(fact)
            ref = self.references(fact.model_version)
            if ref is None:
                continue  # a version trained before references were kept: no drift counts
            if view is not None:
                features = self._features(view, entry.body)
            counts.add((fact.decided_at[:10], fact.country, fact.model_version), ref,
                       features, fact.pd)
        return facts, counts.binned()

    def _features(self, view: DecisionView, body: bytes) -> Features | None:
        if view.personal is not None:
            return self.reader.sealed_features(view.personal, view.application_id)
        rec = parse_record(body)  # schema 1: the inputs in clear, read as the record has them
        inputs = self.reader.inputs(rec) if isinstance(rec, DecisionRecord) else None
        return inputs.features if inputs is not None else None
