"""Score and explain one application in one native LightGBM call.

`pred_contrib=True` returns exact TreeSHAP contributions (the same values as
shap.TreeExplainer) plus the base value; their sum is the raw log-odds score. An optional
Platt-style calibration p = sigmoid(a * raw + b) is linear in log-odds, so scaling the
contributions by `a` and the base value to `a * base + b` keeps the explanation exact:
base_value + sum(contributions) = logit(probability_of_default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.registry import LoadedModel


@dataclass(frozen=True)
class Score:
    probability: float
    log_odds: float
    base_value: float
    contributions: np.ndarray  # one per feature, calibrated log-odds scale


class Scorer:
    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.booster = model.booster
        cal = model.meta.get("calibration") or {}
        self.a = float(cal.get("a", 1.0))
        self.b = float(cal.get("b", 0.0))
        self.feature_names: tuple[str, ...] = tuple(self.booster.feature_name())

    @property
    def version(self) -> str:
        return self.model.version

    def score(self, x: np.ndarray) -> Score:
        # num_threads=1: OpenMP start-up costs more than it saves on a single row.
        contrib = self.booster.predict(x, pred_contrib=True, num_threads=1)[0]
        phi = contrib[:-1] * self.a
        base = float(contrib[-1] * self.a + self.b)
        log_odds = base + float(phi.sum())
        return Score(1.0 / (1.0 + math.exp(-log_odds)), log_odds, base, phi)
