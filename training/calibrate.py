"""Platt calibration of the probability of default on the validation split.

p = sigmoid(a * raw + b), with raw the booster's log-odds: linear in log-odds, so the Scorer
can keep explanations exact on the calibrated scale (see models/scorer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * raw + self.b)

    def as_meta(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_platt(raw: np.ndarray, y: np.ndarray) -> Calibration:
    # Large C: a plain maximum-likelihood fit of two parameters, no shrinkage towards 0.
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
    return Calibration(float(lr.coef_[0, 0]), float(lr.intercept_[0]))


def curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Reliability curve by quantile bins: mean predicted vs observed default rate."""
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    return [{"predicted": float(a), "observed": float(b)} for a, b in zip(predicted, observed,
                                                                         strict=True)]


def report(y: np.ndarray, raw: np.ndarray, cal: Calibration) -> dict:
    before, after = sigmoid(raw), cal.apply(raw)
    return {"brier_before": float(brier_score_loss(y, before)),
            "brier_after": float(brier_score_loss(y, after)),
            "curve_before": curve(y, before), "curve_after": curve(y, after)}
