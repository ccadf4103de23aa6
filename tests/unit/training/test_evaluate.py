"""training.evaluate: metrics and segments."""

import numpy as np

from models.features import feature_matrix
from training.data import load_credit_data, raw_columns
from training.evaluate import age_band, category, metrics, per_segment


def test_metrics_of_a_perfect_and_a_useless_score():
    y = np.array([0, 0, 1, 1])
    perfect = metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["gini"] == 1.0 and perfect["ks"] == 1.0
    assert perfect["pr_auc"] == 1.0 and abs(perfect["brier"] - 0.025) < 1e-12
    useless = metrics(y, np.full(4, 0.5))
    assert useless["roc_auc"] == 0.5 and useless["gini"] == 0.0 and useless["ks"] == 0.0


def test_single_class_segment_gives_nan_not_an_error():
    m = metrics(np.array([0, 0]), np.array([0.1, 0.3]))
    assert np.isnan(m["roc_auc"]) and m["rows"] == 2


def test_segments_from_the_feature_matrix():
    df = load_credit_data().iloc[:200]
    x = feature_matrix(raw_columns(df))
    bands = age_band(x)
    assert set(bands) <= {"18-25", "26-35", "36-50", "51+"}
    assert bands[list(df["age"]).index(30)] == "26-35"
    assert list(category(x, "marital")[:5]) == [v or "unknown" for v in df["marital"][:5]]
    rows = per_segment(x, df["bad"].to_numpy(), np.linspace(0, 1, 200))
    assert sum(r["rows"] for r in rows if r["segment"] == "age_band") == 200
