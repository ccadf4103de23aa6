"""Performance of the decisions that have outcomes: per country, deciding arm and model
version (None for the legacy scorecard), from the read model's aggregates (ADR 0103).

For each group: approvals; the realized bad rate of approved loans with an outcome (a loan
the applicant did not take has none), with a Wilson 95% interval; beside it the mean PD of
the same loans and, before outcomes arrive, the expected bad rate of all approved loans
(mean calibrated PD) per cohort of decision; calibration per PD band; AUC and KS of the
arm's own score where there are enough defaults and repayments; and the shadow arm's
counterfactual: of the loans the live arm approved, how those the other arm would also have
approved performed, and those it would not have.

PDs of legacy decisions are the model's, run in shadow beside them (when it ran). The store
keeps the counts as decisions are projected and outcomes change; only AUC and KS read one
row per loan.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from monitoring.stats import wilson
from monitoring.store import DEFAULTED, NOT_TAKEN, REPAID, OutcomeStore, Period

# Changing the bands needs the read model projected again (they are counted as decisions are
# projected): delete the outcome store's facts, perf_cells and checkpoints tables.
PD_BANDS = (0.0, 0.02, 0.05, 0.10, 0.20, 0.30, 0.50, 1.0)
MIN_PER_CLASS = 10  # defaults and repayments needed for AUC and KS
COHORTS = {"month": 7, "day": 10}  # characters of the decision day (YYYY-MM-DD)
OBSERVED = (REPAID, DEFAULTED)  # an outcome of a loan that was taken

Group = tuple[str, str, str]  # country, decided_by, version ("" for legacy)


class _Tally:
    """Counts of some decisions: how many, and their PDs (n, n with a PD, sums)."""

    __slots__ = ("n", "n_pd", "sum_pd", "sum_pd2", "y_pd")

    def __init__(self) -> None:
        self.n = self.n_pd = 0
        self.sum_pd = self.sum_pd2 = self.y_pd = 0.0

    def add(self, n: int, n_pd: int, sum_pd: float, sum_pd2: float = 0.0,
            defaulted: bool = False) -> None:
        self.n += n
        self.n_pd += n_pd
        self.sum_pd += sum_pd
        self.sum_pd2 += sum_pd2
        if defaulted:  # for the Brier score: sum of (pd - 1)^2 = sum pd^2 - 2 sum pd + n
            self.y_pd += n_pd - 2 * sum_pd

    @property
    def mean_pd(self) -> float | None:
        return self.sum_pd / self.n_pd if self.n_pd else None


def pd_band(pd: float | None) -> int:
    """The band of PD_BANDS a PD falls in (the last one includes 1), -1 without a PD."""
    if pd is None:
        return -1
    return min(bisect_right(PD_BANDS, pd) - 1, len(PD_BANDS) - 2)


def _rate(k: int, n: int) -> tuple[float | None, list[float] | None]:
    if n == 0:
        return None, None
    return k / n, list(wilson(k, n))


def _bad_rate(loans: _Tally, bad: _Tally) -> dict[str, Any]:
    rate, ci = _rate(bad.n, loans.n)
    return {"loans": loans.n, "defaults": bad.n, "bad_rate": rate, "bad_rate_ci": ci}


class _Summary:
    """One group's tallies, filled from the store's cells."""

    def __init__(self) -> None:
        self.t: dict[str, _Tally] = defaultdict(_Tally)
        self.bands: dict[int, tuple[_Tally, _Tally]] = defaultdict(lambda: (_Tally(), _Tally()))
        self.cohorts: dict[str, dict[str, _Tally]] = defaultdict(lambda: defaultdict(_Tally))

    def cell(self, cohort: str, approved: bool, state: int, shadow: int, band: int, n: int,
             n_pd: int, sum_pd: float, sum_pd2: float) -> None:
        observed, bad = state in OBSERVED, state == DEFAULTED
        pds = (n, n_pd, sum_pd, sum_pd2, bad)
        self.cohort(cohort, approved, state, n, n_pd, sum_pd)
        self.t["all"].add(n, 0, 0.0)
        if shadow >= 0:
            self.t["compared"].add(n, 0, 0.0)
        if not approved:
            if observed:
                self.t["outcome_not_approved"].add(n, 0, 0.0)
            if shadow == 1:
                self.t["only_shadow_approved"].add(n, 0, 0.0)
            return
        self.t["approved"].add(*pds)
        if state == NOT_TAKEN:
            self.t["not_taken"].add(n, 0, 0.0)
        if not observed:
            return
        keys = ["mature"] + ([] if shadow < 0 else ["both" if shadow == 1 else "only_live"])
        for key in keys:
            self.t[key].add(*pds)
            if bad:
                self.t[key + "_bad"].add(*pds)
        if band >= 0:
            loans, defaults = self.bands[band]
            loans.add(*pds)
            if bad:
                defaults.add(*pds)

    def cohort(self, cohort: str, approved: bool, state: int, n: int, n_pd: int,
               sum_pd: float) -> None:
        c = self.cohorts[cohort]
        c["all"].add(n, 0, 0.0)
        if approved:
            c["approved"].add(n, n_pd, sum_pd)
            if state in OBSERVED:
                c["mature"].add(n, 0, 0.0)
                if state == DEFAULTED:
                    c["bad"].add(n, 0, 0.0)

    def calibration(self) -> list[dict[str, Any]]:
        out = []
        for band, (loans, bad) in sorted(self.bands.items()):
            rate, ci = _rate(bad.n, loans.n)
            mean_pd = loans.mean_pd
            out.append({"pd_band": [PD_BANDS[band], PD_BANDS[band + 1]], "loans": loans.n,
                        "mean_pd": mean_pd, "observed": rate, "observed_ci": ci,
                        "within_interval": ci[0] <= mean_pd <= ci[1]})
        return out

    def cohort_rows(self) -> list[dict[str, Any]]:
        out = []
        for key, c in sorted(self.cohorts.items()):
            rate, ci = _rate(c["bad"].n, c["mature"].n)
            out.append({"cohort": key, "decisions": c["all"].n, "approved": c["approved"].n,
                        "approved_with_outcome": c["mature"].n,
                        "expected_bad_rate": c["approved"].mean_pd,
                        "realized_bad_rate": rate, "realized_bad_rate_ci": ci})
        return out

    def to_json(self, decided_by: str, scores: tuple[list[float], list[int]] | None
                ) -> dict[str, Any]:
        t = self.t
        n, approved, mature = t["all"].n, t["approved"].n, t["mature"].n
        rate, ci = _rate(t["mature_bad"].n, mature)
        m = t["mature"]
        brier = (m.sum_pd2 + t["mature_bad"].y_pd) / m.n_pd if m.n_pd else None
        shadow = None
        if t["compared"].n:
            shadow = {"arm": "legacy" if decided_by == "model" else "model",
                      "compared": t["compared"].n,
                      "both_approved": _bad_rate(t["both"], t["both_bad"]),
                      "only_live_approved": _bad_rate(t["only_live"], t["only_live_bad"]),
                      # Loans the other arm would have made instead: no outcome can show.
                      "only_shadow_approved": t["only_shadow_approved"].n}
        return {
            "decisions": n, "approved": approved, "approval_rate": approved / n if n else None,
            "approved_with_outcome": mature, "approved_not_taken": t["not_taken"].n,
            "outcome_coverage": mature / approved if approved else None,
            "defaults": t["mature_bad"].n, "bad_rate_approved": rate, "bad_rate_approved_ci": ci,
            "mean_pd_approved": m.mean_pd, "expected_bad_rate_approved": t["approved"].mean_pd,
            "pd_source": "live" if decided_by == "model" else "model in shadow",
            "brier": brier, **_discrimination(scores),
            "outcomes_not_approved": t["outcome_not_approved"].n,
            "calibration": self.calibration(), "cohorts": self.cohort_rows(), "shadow": shadow}


def _discrimination(scores: tuple[list[float], list[int]] | None) -> dict[str, Any]:
    if scores is None:
        return {"auc": None, "ks": None}
    s, y = np.asarray(scores[0]), np.asarray(scores[1])
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
        return {"auc": None, "ks": None}
    fpr, tpr, _ = roc_curve(y, s)
    return {"auc": float(roc_auc_score(y, s)), "ks": float(np.max(tpr - fpr))}


def performance(store: OutcomeStore, period: Period, cohort: str = "month"
                ) -> list[dict[str, Any]]:
    """One summary per (country, deciding arm, model version), sorted by those."""
    groups: dict[Group, _Summary] = defaultdict(_Summary)
    for country, arm, version, key, approved, *rest in store.performance_cells(
            period, COHORTS[cohort]):
        groups[(country, arm, version)].cell(key, bool(approved), *rest)
    # The arm's own score, riskier = higher: the PD, or minus the scorecard's points.
    scores: dict[Group, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    for country, arm, version, pd, points, defaulted in store.scored_loans(period):
        score = pd if arm == "model" else (None if points is None else -points)
        if score is not None:
            scores[(country, arm, version)][0].append(score)
            scores[(country, arm, version)][1].append(int(defaulted))
    return [{"country": c, "decided_by": arm, "model_version": v or None,
             **groups[(c, arm, v)].to_json(arm, scores.get((c, arm, v)))}
            for c, arm, v in sorted(groups)]
