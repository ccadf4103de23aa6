"""Training data: credit_data (models.dataset) or any CSV/Parquet file with the same columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.dataset import LABEL, DataError, load_credit_data, normalize, raw_columns

__all__ = ["LABEL", "DataError", "features_of", "load_credit_data", "load_dataset", "raw_columns"]


def load_dataset(path: Path | None = None) -> pd.DataFrame:
    """credit_data when `path` is None, else a CSV or Parquet file with the same columns."""
    if path is None:
        return load_credit_data()
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if suffix in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    elif suffix in (".csv", ".gz"):
        df = pd.read_csv(path)
    else:
        raise DataError(f"unsupported file type {suffix!r}: use .csv or .parquet")
    return normalize(df)


def features_of(df: pd.DataFrame, chunk: int = 200_000) -> np.ndarray:
    """models.features.feature_matrix over a data set, in chunks to bound memory."""
    from models.features import feature_matrix

    parts = [feature_matrix(raw_columns(df.iloc[i:i + chunk])) for i in range(0, len(df), chunk)]
    return np.vstack(parts) if parts else np.empty((0, 0))
