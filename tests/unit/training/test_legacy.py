"""training.legacy: the model approves the legacy approval rate; bad rates compared."""

import numpy as np

from models.features import feature_matrix
from training.data import load_credit_data, raw_columns
from training.legacy import compare, model_approvals


def test_model_approves_the_lowest_pd_share():
    p = np.array([0.9, 0.1, 0.5, 0.2, 0.3])
    mask, threshold = model_approvals(p, 0.4)
    assert list(mask) == [False, True, False, True, False] and threshold == 0.2


def test_comparison_with_an_oracle_and_with_a_random_score():
    """At the legacy approval rate a perfect score approves no bad loan (100% reduction) and an
    inverted one does worse than the scorecard."""
    df = load_credit_data()
    x, y = feature_matrix(raw_columns(df)), df["bad"].to_numpy()
    oracle = compare(x, y, y + np.linspace(0, 0.5, len(y)))
    assert 0.3 < oracle["approval_rate"] < 0.7
    assert oracle["model_bad_rate_approved"] == 0.0 and oracle["relative_reduction"] == 1.0
    assert oracle["legacy_bad_rate_approved"] == y[oracle_mask(x)].mean()
    worst = compare(x, y, -y + np.linspace(0, 0.5, len(y)))
    assert worst["relative_reduction"] < 0


def oracle_mask(x):
    from shadow.scorecard import Scorecard

    return Scorecard.load().outcomes(x)[0] == "approve"
