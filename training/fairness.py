"""Fairness of the model's approvals by age band and marital status (fairlearn MetricFrame).

Convention (credit): the favourable outcome is approval (y_pred = 1) and the deserving label
is a good loan (y_true = 1). So the false positive rate is the share of bad loans approved
and the false negative rate the share of good applicants declined. The operating point is the
one of the legacy comparison: the model approves the legacy scorecard's approval rate.

Point estimates come from fairlearn. Intervals are 95% percentile bootstrap intervals over
the test split; each resample's rates are counted with numpy (the same definitions, checked
against fairlearn by a test), because a MetricFrame per resample costs ~100x more.
"""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)

METRICS = {"selection_rate": selection_rate, "false_positive_rate": false_positive_rate,
           "false_negative_rate": false_negative_rate}
QUANTILES = (0.025, 0.975)


def group_rates(y: np.ndarray, yp: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """(k groups, 3) selection rate, FPR, FNR; NaN where a group has no such rows."""
    def ratio(num, den):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.maximum(den, 1), np.nan)

    n = np.bincount(codes, minlength=k)
    neg = np.bincount(codes, weights=(y == 0), minlength=k)
    pos = n - neg
    sel = np.bincount(codes, weights=yp, minlength=k)
    fp = np.bincount(codes, weights=(yp == 1) & (y == 0), minlength=k)
    fn = np.bincount(codes, weights=(yp == 0) & (y == 1), minlength=k)
    return np.column_stack([ratio(sel, n), ratio(fp, neg), ratio(fn, pos)])


def summaries(rates: np.ndarray) -> tuple[float, float]:
    """(demographic parity ratio, equalized odds difference) from group rates."""
    sel, fpr, fnr = rates[:, 0], rates[:, 1], rates[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        dpr = float(np.nanmin(sel) / np.nanmax(sel)) if np.nanmax(sel) > 0 else float("nan")
    eod = float(max(np.nanmax(fpr) - np.nanmin(fpr), np.nanmax(fnr) - np.nanmin(fnr)))
    return dpr, eod


def _interval(values: np.ndarray) -> list[float]:
    values = values[~np.isnan(values)]
    return [float(q) for q in np.quantile(values, QUANTILES)] if len(values) else [float("nan")] * 2


def assess(good: np.ndarray, approved: np.ndarray, groups: np.ndarray, *, n_boot: int = 200,
           seed: int = 7) -> dict:
    """Per-group rates with intervals, and the two summary figures with intervals."""
    y, yp = good.astype(int), approved.astype(int)
    mf = MetricFrame(metrics=METRICS, y_true=y, y_pred=yp, sensitive_features=groups)
    names, codes = np.unique(groups.astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    boot_rates = np.empty((n_boot, len(names), 3))
    boot_summary = np.empty((n_boot, 2))
    for b in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        boot_rates[b] = group_rates(y[i], yp[i], codes[i], len(names))
        boot_summary[b] = summaries(boot_rates[b])
    by_group = []
    for gi, group in enumerate(names):
        row = mf.by_group.loc[group]
        entry: dict = {"group": str(group), "rows": int((codes == gi).sum())}
        for mi, m in enumerate(METRICS):
            entry[m] = float(row[m])
            entry[f"{m}_ci"] = _interval(boot_rates[:, gi, mi])
        by_group.append(entry)
    return {
        "by_group": by_group,
        "demographic_parity_ratio": float(demographic_parity_ratio(y, yp, sensitive_features=groups)),
        "demographic_parity_ratio_ci": _interval(boot_summary[:, 0]),
        "equalized_odds_difference": float(equalized_odds_difference(y, yp,
                                                                     sensitive_features=groups)),
        "equalized_odds_difference_ci": _interval(boot_summary[:, 1]),
    }
