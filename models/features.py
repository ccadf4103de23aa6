"""What the model sees: the ONE feature function, used by training and serving alike.

Input is a mapping of raw columns (names in RAW_FIELDS) to equal-length sequences: a whole
data set offline, a single application online (sequences of length one). The same numpy
operations run in both cases, so a decision's features recomputed offline are identical.

Categories become fixed integer codes (their order is part of the feature set version);
unknown or missing values become NaN, which LightGBM routes as missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FEATURE_SET_VERSION = "1"

CATEGORIES: dict[str, tuple[str, ...]] = {
    "home": ("rent", "owner", "parents", "priv", "other", "ignore"),
    "marital": ("single", "married", "widow", "separated", "divorced"),
    "job": ("fixed", "freelance", "partime", "others"),
}

NUMERIC_FIELDS = (
    "age", "seniority", "time", "amount", "price",  # application form
    "records", "debt",                              # bureau (records: 1.0 = bad records)
    "income", "expenses", "assets",                 # open banking
)
RAW_FIELDS = NUMERIC_FIELDS + tuple(CATEGORIES)

DERIVED_FEATURES = (
    "loan_to_price",      # amount / price
    "monthly_payment",    # amount / time
    "payment_to_income",  # monthly_payment / income
    "free_income",        # income - expenses
    "debt_to_income",     # debt / income
    "net_assets",         # assets - debt
)
FEATURE_NAMES: tuple[str, ...] = NUMERIC_FIELDS + tuple(CATEGORIES) + DERIVED_FEATURES

_CODES = {field: {v: float(i) for i, v in enumerate(values)} for field, values in CATEGORIES.items()}


def _numeric(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _coded(field: str, values: Sequence[Any]) -> np.ndarray:
    codes = _CODES[field]
    return np.array([codes.get(v, np.nan) if isinstance(v, str) else np.nan for v in values],
                    dtype=np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full_like(num, np.nan)
    np.divide(num, den, out=out, where=(den != 0) & ~np.isnan(den))
    return out


def feature_matrix(raw: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """Raw columns -> float64 matrix of shape (n, len(FEATURE_NAMES)), columns in that order."""
    cols = {f: _numeric(raw[f]) for f in NUMERIC_FIELDS}
    cols.update({f: _coded(f, raw[f]) for f in CATEGORIES})
    payment = _ratio(cols["amount"], cols["time"])
    cols["loan_to_price"] = _ratio(cols["amount"], cols["price"])
    cols["monthly_payment"] = payment
    cols["payment_to_income"] = _ratio(payment, cols["income"])
    cols["free_income"] = cols["income"] - cols["expenses"]
    cols["debt_to_income"] = _ratio(cols["debt"], cols["income"])
    cols["net_assets"] = cols["assets"] - cols["debt"]
    out = np.column_stack([cols[name] for name in FEATURE_NAMES])
    # An overflowing ratio is as good as unknown: inf would also break the audit's JSON.
    out[np.isinf(out)] = np.nan
    return out


def feature_row(raw: Mapping[str, Any]) -> np.ndarray:
    """One application's raw values -> a (1, n_features) matrix, through feature_matrix."""
    return feature_matrix({f: (raw.get(f),) for f in RAW_FIELDS})


def as_dict(row: np.ndarray) -> dict[str, float | None]:
    """A feature row as {name: value}, NaN as None (JSON has no NaN)."""
    return {n: (None if np.isnan(v) else float(v)) for n, v in zip(FEATURE_NAMES, row.ravel(), strict=True)}
