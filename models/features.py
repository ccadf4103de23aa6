"""What the model sees: the ONE feature function, used by training and serving alike.

Input is a mapping of raw columns (names in RAW_FIELDS) to equal-length sequences: a whole
data set offline (`feature_matrix`, numpy over columns), or one application online
(`feature_row`, plain floats: building numpy arrays for one row cost 59 µs a decision, the
float path 9 µs; ADR 0153). Both read the derivations from one table and apply the same
IEEE-754 operations (a division, a subtraction), so a decision's features recomputed
offline are bit-identical; a property test holds them to it.

Categories become fixed integer codes (their order is part of the feature set version);
unknown or missing values become NaN, which LightGBM routes as missing.
"""

from __future__ import annotations

import math
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

# Each derived feature once: (name, operation, left, right). A later entry may use an earlier.
_DERIVATIONS = (
    ("loan_to_price", "ratio", "amount", "price"),
    ("monthly_payment", "ratio", "amount", "time"),
    ("payment_to_income", "ratio", "monthly_payment", "income"),
    ("free_income", "difference", "income", "expenses"),
    ("debt_to_income", "ratio", "debt", "income"),
    ("net_assets", "difference", "assets", "debt"),
)
DERIVED_FEATURES = tuple(name for name, *_ in _DERIVATIONS)
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
    with np.errstate(over="ignore"):  # an overflowing ratio becomes NaN below
        np.divide(num, den, out=out, where=(den != 0) & ~np.isnan(den))
    return out


def feature_matrix(raw: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """Raw columns -> float64 matrix of shape (n, len(FEATURE_NAMES)), columns in that order."""
    cols = {f: _numeric(raw[f]) for f in NUMERIC_FIELDS}
    cols.update({f: _coded(f, raw[f]) for f in CATEGORIES})
    for name, operation, left, right in _DERIVATIONS:
        a, b = cols[left], cols[right]
        cols[name] = _ratio(a, b) if operation == "ratio" else a - b
    out = np.column_stack([cols[name] for name in FEATURE_NAMES])
    # An overflowing ratio is as good as unknown: inf would also break the audit's JSON.
    out[np.isinf(out)] = np.nan
    return out


def _values(raw: Mapping[str, Any]) -> list[float]:
    """One application's features as floats: feature_matrix's operations, one row."""
    vals = {f: math.nan if (v := raw.get(f)) is None else float(v) for f in NUMERIC_FIELDS}
    for f in CATEGORIES:
        v = raw.get(f)
        vals[f] = _CODES[f].get(v, math.nan) if isinstance(v, str) else math.nan
    for name, operation, left, right in _DERIVATIONS:
        a, b = vals[left], vals[right]
        if operation == "difference":
            vals[name] = a - b
        else:  # numpy's where= leaves NaN where the divisor is 0 or NaN; so does this
            vals[name] = math.nan if b == 0 or math.isnan(b) else a / b
    return [math.nan if math.isinf(v := vals[n]) else v for n in FEATURE_NAMES]


def feature_row(raw: Mapping[str, Any]) -> np.ndarray:
    """One application's raw values -> a (1, n_features) matrix, equal to feature_matrix's."""
    return np.array([_values(raw)], dtype=np.float64)


def as_dict(row: np.ndarray | Sequence[float]) -> dict[str, float | None]:
    """A feature row as {name: value}, NaN as None (JSON has no NaN)."""
    values = row.ravel().tolist() if isinstance(row, np.ndarray) else row
    return {n: (None if math.isnan(v) else v) for n, v in zip(FEATURE_NAMES, values, strict=True)}
