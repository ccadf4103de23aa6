"""The training set from recorded history: outcomes only, this feature set only, counted."""

import numpy as np
import pandas as pd

from models.dataset import LABEL
from models.features import FEATURE_SET_VERSION, RAW_FIELDS
from strategy.history import COLUMNS
from strategy.retrain import training_set


def history(n=6) -> pd.DataFrame:
    df = pd.DataFrame({c: [None] * n for c in COLUMNS})
    for f in RAW_FIELDS:
        df[f] = 1.0
    df["country"] = ["ES", "PT", "ES", "DE", "ES", "ES"][:n]
    df["feature_set_version"] = FEATURE_SET_VERSION
    df["defaulted"] = [1.0, 0.0, np.nan, 0.0, np.nan, 1.0][:n]
    df.loc[5, "feature_set_version"] = "0-old"
    df.loc[0, "amount"] = 777.0
    return df


def test_declined_and_other_feature_sets_are_excluded_and_counted():
    out, stats = training_set(history())
    assert list(out[LABEL]) == [1, 0, 0]
    assert out.loc[0, "amount"] == 777.0  # the recorded raw value, as it was
    assert list(out["country"]) == ["ES", "PT", "DE"]
    assert set(out.columns) == {*RAW_FIELDS, LABEL, "country"}
    assert (stats.decisions, stats.with_outcome, stats.without_outcome,
            stats.other_feature_set, stats.rows) == (6, 4, 2, 1, 3)
    assert stats.bad_rate == 1 / 3
