"""What the API, the CLI, the console and the gauges ask: performance and drift of a
period, after catching the read model up with the audit log (within a time budget: an
answer always says how fresh it is)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.pacing import UNPACED, Pacer
from models.errors import ModelUnavailable
from monitoring import drift, performance
from monitoring.projection import Freshness, Projector
from monitoring.reference import SCORE, Reference
from monitoring.store import OutcomeStore, Period


@dataclass(frozen=True)
class MonitorConfig:
    thresholds: drift.Thresholds = drift.Thresholds()
    catch_up_s: float = 1.0  # longest a request spends projecting new audit records


class Monitor:
    def __init__(self, store: OutcomeStore, projector: Projector,
                 references: Callable[[str], Reference | None],
                 config: MonitorConfig = MonitorConfig(), model_name: str = "") -> None:
        self.store = store
        self.projector = projector
        self.references = references
        self.config = config
        self.model_name = model_name

    def refresh(self, budget_s: float | None = None, *, share: bool = False,
                pace: Pacer = UNPACED) -> Freshness:
        return self.projector.catch_up(budget_s, share=share, pace=pace)

    def status(self) -> Freshness:
        """How far behind the read model is, projecting nothing (another process does)."""
        return self.projector.status()

    def performance(self, period: Period, cohort: str = "month",
                    fresh: Freshness | None = None) -> dict[str, Any]:
        """`fresh`: a catch-up the caller just ran (none is run then)."""
        fresh = fresh or self.refresh(self.config.catch_up_s)
        t = time.perf_counter()
        groups = performance.performance(self.store, period, cohort)
        totals = self.store.batch_totals()
        return {"filters": _filters(period), "cohort": cohort, "groups": groups,
                "provenance": {"outcome_batches": totals.batches,
                               "outcomes_received": totals.items,
                               "outcomes_accepted": totals.accepted,
                               "latest_batch_at": totals.latest_at},
                "freshness": fresh.to_json(),
                "query_seconds": round(time.perf_counter() - t, 3)}

    def drift(self, period: Period, model_version: str | None = None,
              fresh: Freshness | None = None) -> dict[str, Any]:
        """Against the reference of `model_version`, by default the version behind most
        of the period's decisions (`fresh`: as for `performance`)."""
        fresh = fresh or self.refresh(self.config.catch_up_s)
        t = time.perf_counter()
        counts = self._counts(period)
        decisions = {v: max(int(a.sum()) for a in by.values()) for v, by in counts.items()}
        # Ties go to the newer version.
        version = model_version or max(decisions, default=None, key=lambda v: (
            decisions[v], int(v) if v.isdigit() else 0))
        t_cfg = self.config.thresholds
        out: dict[str, Any] = {
            "filters": _filters(period), "model_version": version, "versions": decisions,
            "thresholds": {"warn": t_cfg.warn, "alert": t_cfg.alert,
                           "min_decisions": t_cfg.min_decisions},
            "freshness": fresh.to_json()}
        ref = self._reference(version) if version is not None else None
        if ref is None:
            out.update(reference=None, decisions=0, features=[], score=None,
                       status="insufficient" if version is None else "no_reference")
        else:
            out.update(reference=self._describe(version, ref),
                       decisions=decisions.get(version, 0),
                       **drift.report(ref, counts.get(version, {}), t_cfg))
        out["query_seconds"] = round(time.perf_counter() - t, 3)
        return out

    def _counts(self, period: Period) -> dict[str, dict[str, np.ndarray]]:
        """version -> feature (or SCORE) -> the period's count per reference bin."""
        counts: dict[str, dict[str, np.ndarray]] = defaultdict(dict)
        for version, feature, b, n in self.store.bin_counts(period):
            ref = self._reference(version)
            bins = None if ref is None else ref.score if feature == SCORE else \
                ref.features.get(feature)
            if bins is not None:
                counts[version].setdefault(feature, np.zeros(bins.size, dtype=np.int64))[b] += n
        return counts

    def _reference(self, version: str) -> Reference | None:
        try:
            return self.references(version)
        except Exception as exc:
            raise ModelUnavailable("the model registry could not be read for the training "
                                   f"reference of version {version}") from exc

    def _describe(self, version: str, ref: Reference) -> str:
        return (f"{self.model_name} version {version}: training reference of "
                f"{ref.rows:,} development rows (features) and {ref.score_rows:,} held-out "
                f"rows (score), feature set {ref.feature_set_version}")


def _filters(p: Period) -> dict[str, str | None]:
    return {"country": p.country, "since": p.since, "until": p.until}
