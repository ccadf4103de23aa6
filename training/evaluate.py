"""Discrimination and calibration metrics, overall and per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from models.features import CATEGORIES, FEATURE_NAMES

AGE_BANDS = (0, 25, 35, 50, 200)
AGE_LABELS = ("18-25", "26-35", "36-50", "51+")
_COL = {n: i for i, n in enumerate(FEATURE_NAMES)}


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {"rows": float(len(y)), "bad_rate": float(np.mean(y)) if len(y) else float("nan")}
    if len(set(y.tolist())) < 2:
        return {**out, "roc_auc": float("nan"), "gini": float("nan"), "ks": float("nan"),
                "pr_auc": float("nan"), "brier": float(brier_score_loss(y, p)) if len(y) else float("nan")}
    auc = float(roc_auc_score(y, p))
    fpr, tpr, _ = roc_curve(y, p)
    return {**out, "roc_auc": auc, "gini": 2 * auc - 1, "ks": float(np.max(tpr - fpr)),
            "pr_auc": float(average_precision_score(y, p)), "brier": float(brier_score_loss(y, p))}


def age_band(x: np.ndarray) -> np.ndarray:
    age = x[:, _COL["age"]]
    bands = pd.Series(pd.cut(age, bins=AGE_BANDS, labels=AGE_LABELS, right=True)).astype(object)
    return bands.where(bands.notna(), "unknown").to_numpy(dtype=object)


def category(x: np.ndarray, field: str) -> np.ndarray:
    codes = x[:, _COL[field]]
    names = np.array(CATEGORIES[field], dtype=object)
    out = np.full(len(codes), "unknown", dtype=object)
    ok = ~np.isnan(codes)
    out[ok] = names[codes[ok].astype(int)]
    return out


def segments(x: np.ndarray) -> dict[str, np.ndarray]:
    return {"age_band": age_band(x), "marital": category(x, "marital"),
            "home": category(x, "home"), "job": category(x, "job")}


def per_segment(x: np.ndarray, y: np.ndarray, p: np.ndarray) -> list[dict]:
    rows = []
    for name, values in segments(x).items():
        for value in sorted(set(values.tolist())):
            mask = values == value
            rows.append({"segment": name, "value": value, **metrics(y[mask], p[mask])})
    return rows
