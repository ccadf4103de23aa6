"""Performance of the decisions that have outcomes: per country, deciding arm and model
version (None for the legacy scorecard), from the read model's rows.

For each group: approvals; the realized bad rate of approved loans with an outcome (a loan
the applicant did not take has none), with a Wilson 95% interval; beside it the mean PD of
the same loans and, before outcomes arrive, the expected bad rate of all approved loans
(mean calibrated PD) per cohort of decision; calibration per PD band; AUC and KS of the
arm's own score where there are enough defaults and repayments; and the shadow arm's
counterfactual: of the loans the live arm approved, how those the other arm would also have
approved performed, and those it would not have.

PDs of legacy decisions are the model's, run in shadow beside them (when it ran).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from monitoring.stats import wilson
from monitoring.store import ROW_COLUMNS

PD_BANDS = (0.0, 0.02, 0.05, 0.10, 0.20, 0.30, 0.50, 1.0)
MIN_PER_CLASS = 10  # defaults and repayments needed for AUC and KS
COHORTS = {"month": 7, "day": 10}  # prefix length of the decision time


def _rate(k: int, n: int) -> tuple[float | None, list[float] | None]:
    if n == 0:
        return None, None
    return k / n, list(wilson(k, n))


def _mean(x: np.ndarray) -> float | None:
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else None


class _Group:
    """One group's rows as arrays."""

    def __init__(self, cols: dict[str, np.ndarray], idx: np.ndarray, cohort: str) -> None:
        self.outcome = cols["outcome"][idx]
        self.pd = cols["pd"][idx]
        self.points = cols["legacy_points"][idx]
        self.shadow = cols["shadow_outcome"][idx]
        # The cohort of each decision: the first characters of its ISO time.
        self.cohort = cols["decided_at"][idx].astype(f"U{COHORTS[cohort]}")
        has = cols["has_outcome"][idx]
        taken = cols["loan_taken"][idx]
        self.approved = self.outcome == "approve"
        self.not_taken = has & (taken == 0)
        self.observed = has & (taken != 0)  # an outcome of a loan that was taken
        self.bad = self.observed & (cols["defaulted"][idx] == 1)
        self.mature = self.approved & self.observed


def _bad_rate(bad: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    n, k = int(mask.sum()), int((bad & mask).sum())
    rate, ci = _rate(k, n)
    return {"loans": n, "defaults": k, "bad_rate": rate, "bad_rate_ci": ci}


def _calibration(g: _Group) -> list[dict[str, Any]]:
    has_pd = g.mature & ~np.isnan(g.pd)
    out = []
    for lo, hi in zip(PD_BANDS, PD_BANDS[1:], strict=False):
        m = has_pd & (g.pd >= lo) & ((g.pd < hi) if hi < 1 else (g.pd <= hi))
        n = int(m.sum())
        if not n:
            continue
        rate, ci = _rate(int(g.bad[m].sum()), n)
        mean_pd = float(g.pd[m].mean())
        out.append({"pd_band": [lo, hi], "loans": n, "mean_pd": mean_pd, "observed": rate,
                     "observed_ci": ci, "within_interval": ci[0] <= mean_pd <= ci[1]})
    return out


def _discrimination(g: _Group, decided_by: str) -> dict[str, Any]:
    # The arm's own score, riskier = higher: the PD, or minus the scorecard's points.
    score = g.pd if decided_by == "model" else -g.points
    m = g.mature & ~np.isnan(score)
    y = g.bad[m].astype(int)
    if min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
        return {"auc": None, "ks": None}
    fpr, tpr, _ = roc_curve(y, score[m])
    return {"auc": float(roc_auc_score(y, score[m])), "ks": float(np.max(tpr - fpr))}


def _cohorts(g: _Group) -> list[dict[str, Any]]:
    out = []
    for key in np.unique(g.cohort).tolist():
        m = g.cohort == key
        approved = g.approved & m
        rate, ci = _rate(int((g.bad & approved).sum()), int((g.mature & m).sum()))
        out.append({"cohort": key, "decisions": int(m.sum()), "approved": int(approved.sum()),
                    "approved_with_outcome": int((g.mature & m).sum()),
                    "expected_bad_rate": _mean(g.pd[approved]),
                    "realized_bad_rate": rate, "realized_bad_rate_ci": ci})
    return out


def _shadow(g: _Group, decided_by: str) -> dict[str, Any] | None:
    compared = g.shadow != None  # noqa: E711 - elementwise over an object array
    if not compared.any():
        return None
    other_approves = compared & (g.shadow == "approve")
    return {"arm": "legacy" if decided_by == "model" else "model",
            "compared": int(compared.sum()),
            "both_approved": _bad_rate(g.bad, g.mature & other_approves),
            "only_live_approved": _bad_rate(g.bad, g.mature & compared & ~other_approves),
            # Loans the other arm would have made instead: no outcome can ever show.
            "only_shadow_approved": int((other_approves & ~g.approved).sum())}


def group_summary(g: _Group, decided_by: str) -> dict[str, Any]:
    n, approved, mature = len(g.outcome), int(g.approved.sum()), int(g.mature.sum())
    rate, ci = _rate(int(g.bad[g.mature].sum()), mature)
    brier = g.mature & ~np.isnan(g.pd)
    return {
        "decisions": n, "approved": approved, "approval_rate": approved / n if n else None,
        "approved_with_outcome": mature, "approved_not_taken": int((g.not_taken & g.approved).sum()),
        "outcome_coverage": mature / approved if approved else None,
        "defaults": int(g.bad[g.mature].sum()), "bad_rate_approved": rate,
        "bad_rate_approved_ci": ci, "mean_pd_approved": _mean(g.pd[g.mature]),
        "expected_bad_rate_approved": _mean(g.pd[g.approved]),
        "pd_source": "live" if decided_by == "model" else "model in shadow",
        "brier": float(np.mean((g.pd[brier] - g.bad[brier]) ** 2)) if brier.any() else None,
        **_discrimination(g, decided_by),
        "outcomes_not_approved": int((g.observed & ~g.approved).sum()),
        "calibration": _calibration(g), "cohorts": _cohorts(g),
        "shadow": _shadow(g, decided_by)}


FLOATS = ("pd", "legacy_points", "defaulted", "loan_taken")  # None -> NaN


def _columns(rows: Sequence[tuple]) -> dict[str, np.ndarray]:
    raw = dict(zip(ROW_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else \
        dict.fromkeys(ROW_COLUMNS, ())
    return {k: np.array(v, dtype=np.float64 if k in FLOATS else bool if k == "has_outcome"
                        else object) for k, v in raw.items()}


def performance(rows: Sequence[tuple], cohort: str = "month") -> list[dict[str, Any]]:
    """One summary per (country, deciding arm, model version), sorted by those."""
    cols = _columns(rows)
    version = np.where(cols["decided_by"] == "model", cols["model_version"], "")
    keys = cols["country"].astype(str)
    for part in (cols["decided_by"], version):  # "country|arm|version"
        keys = np.char.add(np.char.add(keys, "|"), part.astype(str))
    names, inverse = np.unique(keys, return_inverse=True)
    out = []
    for i, name in enumerate(names.tolist()):
        country, arm, v = name.split("|")
        g = _Group(cols, np.flatnonzero(inverse == i), cohort)
        out.append({"country": country, "decided_by": arm, "model_version": v or None,
                    **group_summary(g, arm)})
    return out
