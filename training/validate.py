"""Validate a training set: schema and ranges. Bad rows are reported and counted, and kept
out of training only through this report (never silently dropped)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.features import CATEGORIES, NUMERIC_FIELDS
from training.data import LABEL, DataError

# Inclusive ranges; NaN (missing) is allowed where the field may be missing at decision time.
RANGES: dict[str, tuple[float, float]] = {
    "age": (18, 100), "seniority": (0, 70), "time": (1, 120), "amount": (1, 1e6),
    "price": (1, 1e7), "records": (0, 1), "debt": (0, 1e7), "income": (0, 1e6),
    "expenses": (0, 1e6), "assets": (0, 1e8),
}
REQUIRED = ("age", "time", "amount", "price", "expenses", "seniority")


@dataclass(frozen=True)
class Validation:
    rows: int
    bad_mask: np.ndarray          # True for a row that fails at least one rule
    counts: dict[str, int]        # rule -> rows failing it
    bad_rows: pd.DataFrame        # row number and the rules each bad row failed

    @property
    def bad(self) -> int:
        return int(self.bad_mask.sum())

    @property
    def bad_fraction(self) -> float:
        return self.bad / self.rows if self.rows else 0.0


MIN_ROWS = 50  # fewer good rows than this cannot train and test a model


def _rules(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """rule name -> the rows failing it; a rule is named `<column>_<what>`."""
    rules: dict[str, np.ndarray] = {}
    rules["label_not_0_or_1"] = ~df[LABEL].isin([0, 1]).to_numpy()
    for field in NUMERIC_FIELDS:
        values = pd.to_numeric(df[field], errors="coerce")
        non_numeric = values.isna().to_numpy() & df[field].notna().to_numpy()
        rules[f"{field}_not_numeric"] = non_numeric
        lo, hi = RANGES[field]
        v = values.to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            rules[f"{field}_out_of_range"] = ~np.isnan(v) & ((v < lo) | (v > hi))
        if field in REQUIRED:
            rules[f"{field}_missing"] = df[field].isna().to_numpy()
    for field, allowed in CATEGORIES.items():
        col = df[field]
        rules[f"{field}_unknown_category"] = (col.notna() & ~col.isin(allowed)).to_numpy()
    return rules


def validate(df: pd.DataFrame) -> Validation:
    rules = _rules(df)
    names = list(rules)
    matrix = np.column_stack([rules[n] for n in names]) if names else np.zeros((len(df), 0), bool)
    bad_mask = matrix.any(axis=1)
    idx = np.flatnonzero(bad_mask)
    failed = ["; ".join(n for n, hit in zip(names, matrix[i], strict=True) if hit) for i in idx]
    bad_rows = pd.DataFrame({"row": df.index.to_numpy()[idx], "rules": failed})
    counts = {n: int(rules[n].sum()) for n in names if rules[n].any()}
    return Validation(len(df), bad_mask, counts, bad_rows)


def require_enough(df: pd.DataFrame, v: Validation) -> None:
    """Stop before training on (almost) nothing, naming the column and a value behind it."""
    if v.rows - v.bad < MIN_ROWS:
        raise DataError(_too_few(df, _rules(df), v))


def _too_few(df: pd.DataFrame, rules: dict[str, np.ndarray], v: Validation) -> str:
    rule = max(v.counts, key=v.counts.__getitem__) if v.counts else None
    if rule is None:
        return f"only {v.rows} rows; at least {MIN_ROWS} are needed"
    column = LABEL if rule.startswith("label_") else next(
        c for c in (*NUMERIC_FIELDS, *CATEGORIES) if rule.startswith(c + "_"))
    sample = df[column].tolist()[np.flatnonzero(rules[rule])[0]]  # a plain Python value
    return (f"{v.bad} of {v.rows} rows fail validation, leaving fewer than {MIN_ROWS}; most "
            f"often {rule} ({v.counts[rule]} rows): column {column!r}, e.g. {sample!r}")
