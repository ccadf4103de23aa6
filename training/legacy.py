"""Comparison with the legacy scorecard at the same approval rate.

The legacy scorecard approves a share r of the test split; the model approves the same share
(the r applicants with the lowest probability of default). The figure of merit is the bad rate
among approved applicants, and its relative reduction 1 - model / legacy.
"""

from __future__ import annotations

import numpy as np

from shadow.scorecard import Scorecard


def model_approvals(p: np.ndarray, rate: float) -> tuple[np.ndarray, float]:
    """Approve the `rate` share with the lowest PD; returns (mask, PD threshold)."""
    n = int(round(rate * len(p)))
    if n <= 0:
        return np.zeros(len(p), bool), 0.0
    order = np.argsort(p, kind="stable")
    mask = np.zeros(len(p), bool)
    mask[order[:n]] = True
    return mask, float(p[order[n - 1]])


def compare(x: np.ndarray, y: np.ndarray, p: np.ndarray,
            scorecard: Scorecard | None = None) -> dict[str, float]:
    card = scorecard or Scorecard.load()
    outcomes, _ = card.outcomes(x)
    legacy = outcomes == "approve"
    rate = float(legacy.mean())
    model, threshold = model_approvals(p, rate)
    legacy_bad = float(y[legacy].mean()) if legacy.any() else float("nan")
    model_bad = float(y[model].mean()) if model.any() else float("nan")
    return {
        "legacy_version": card.version,
        "approval_rate": rate,
        "pd_threshold": threshold,
        "legacy_bad_rate_approved": legacy_bad,
        "model_bad_rate_approved": model_bad,
        "relative_reduction": (1 - model_bad / legacy_bad) if legacy_bad > 0 else float("nan"),
        "legacy_refer_rate": float((outcomes == "refer").mean()),
        "legacy_decline_rate": float((outcomes == "decline").mean()),
    }
