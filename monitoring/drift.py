"""Drift: the Population Stability Index of each model feature and of the score, between
the training reference of the version that served and the decisions of a period.

    PSI = sum over bins of (a - e) * ln(a / e)

with e and a the reference's and the period's shares per bin (missing values a bin of
their own); it is the symmetrised Kullback-Leibler divergence, computed with scipy's
`rel_entr`. Empty bins are floored at a small share so that a bin the reference never saw
counts heavily instead of dividing by zero. Risk teams read PSI with fixed thresholds:
below 0.1 stable, 0.1-0.25 a shift worth a look, above 0.25 a shift (ADR 0101).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import rel_entr

from monitoring.reference import SCORE, Bins, Reference

FLOOR = 1e-4  # share given to an empty bin


@dataclass(frozen=True)
class Thresholds:
    warn: float = 0.1
    alert: float = 0.25
    min_decisions: int = 100  # fewer: the PSI is mostly sampling noise

    def status(self, psi: float | None, n: int) -> str:
        if psi is None or n < self.min_decisions:
            return "insufficient"
        return "alert" if psi >= self.alert else "warn" if psi >= self.warn else "ok"


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = FLOOR) -> float | None:
    """PSI of two count vectors over the same bins; None when either is empty."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if e.sum() <= 0 or a.sum() <= 0:
        return None
    e, a = np.maximum(e / e.sum(), floor), np.maximum(a / a.sum(), floor)
    return float(np.sum(rel_entr(a, e) + rel_entr(e, a)))


def _one(name: str, bins: Bins, counts: np.ndarray | None, t: Thresholds) -> dict[str, Any]:
    actual = np.zeros(bins.size, dtype=np.int64) if counts is None else counts
    n = int(actual.sum())
    value = psi(np.asarray(bins.counts), actual)
    ref_total, missing = sum(bins.counts), bins.size - 1
    return {"name": name, "psi": None if value is None else round(value, 6),
            "status": t.status(value, n), "decisions": n,
            "missing_share": int(actual[missing]) / n if n else None,
            "reference_missing_share": bins.counts[missing] / ref_total if ref_total else None,
            "bins": [{"label": label, "reference": bins.counts[i] / ref_total if ref_total else 0.0,
                      "actual": int(actual[i]) / n if n else 0.0}
                     for i, label in enumerate(bins.labels)]}


WORST = ("ok", "insufficient", "warn", "alert")


def report(reference: Reference, counts: Mapping[str, np.ndarray], t: Thresholds
           ) -> dict[str, Any]:
    """Every feature of the reference and the score, from the period's bin counts
    (feature name -> counts, SCORE for the score)."""
    features = [_one(name, bins, counts.get(name), t)
                for name, bins in reference.features.items()]
    score = _one(SCORE, reference.score, counts.get(SCORE), t)
    statuses = [f["status"] for f in features] + [score["status"]]
    return {"features": features, "score": score,
            "status": max(statuses, key=WORST.index) if statuses else "insufficient"}
