import numpy as np
import pytest

from models.features import feature_matrix, feature_row
from shadow.scorecard import Scorecard
from training.data import load_credit_data, raw_columns

RAW = {"age": 45, "seniority": 12, "time": 36, "amount": 600.0, "price": 1200.0, "records": 0.0,
       "debt": 0.0, "income": 200.0, "expenses": 60.0, "assets": 9000.0, "home": "owner",
       "marital": "married", "job": "fixed"}


@pytest.fixture(scope="module")
def card():
    return Scorecard.load()


def test_points_add_up_per_band(card):
    """A strong applicant gets the best band of every attribute but age."""
    result = card.decide(feature_row(RAW))
    assert result.points == 12 + 45 + 28 + 25 + 25 + 20 + 30 + 30 + 10  # age 45: 41-50 band
    assert result.outcome == "approve" and result.knock_outs == []


def test_missing_values_get_missing_points(card):
    full = card.decide(feature_row(RAW)).points
    missing = card.decide(feature_row({**RAW, "income": None, "marital": None})).points
    # income (28) and payment_to_income (25) drop to 0; marital 10 -> 5
    assert full - missing == 28 + 25 + 5


def test_knock_outs_decline(card):
    bad = card.decide(feature_row({**RAW, "records": 1.0}))
    assert bad.outcome == "decline" and bad.knock_outs == ["bad_records"]
    over = card.decide(feature_row({**RAW, "amount": 1300.0}))
    assert over.outcome == "decline" and "loan_exceeds_price" in over.knock_outs
    unknown_bureau = card.decide(feature_row({**RAW, "records": None}))
    assert unknown_bureau.knock_outs == []


def test_cutoffs(card):
    weak = {**RAW, "seniority": 0, "home": "rent", "job": "partime", "assets": 0.0,
            "income": 70.0, "age": 22}
    assert card.decide(feature_row(weak)).outcome == "decline"


def test_row_and_matrix_agree(card):
    """The one-row path (plain Python) and the matrix path (numpy) agree on every row."""
    x = feature_matrix(raw_columns(load_credit_data()))
    outcomes, points = card.outcomes(x)
    for i in range(len(x)):
        one = card.decide(x[i : i + 1])
        assert (one.outcome, one.points) == (outcomes[i], points[i])


def test_legacy_ranks_risk_on_credit_data(card):
    """Approved applicants default far less often than declined ones."""
    df = load_credit_data()
    outcomes, _ = card.outcomes(feature_matrix(raw_columns(df)))
    bad = df["bad"].to_numpy()
    assert bad[outcomes == "approve"].mean() < 0.5 * bad[outcomes == "decline"].mean()
    assert 0.3 < np.mean(outcomes == "approve") < 0.7


def test_unknown_knock_out_is_refused():
    with pytest.raises(ValueError, match="unknown knock-out"):
        Scorecard({"version": "x", "approve_at": 1, "decline_below": 0, "knock_outs": ["nope"]})


def test_reason_weights_knock_outs_first_then_points_lost(card):
    """The classic scorecard reasons: a strong applicant lost points on age only; a
    knock-out leads with the whole approval cut-off, its attribute not listed twice."""
    strong = card.decide(feature_row(RAW))
    assert strong.shortfalls["age"] == 20 - 12 and sum(strong.shortfalls.values()) == 8
    assert card.reason_weights(strong.knock_outs, strong.shortfalls) == [("age", 8)]
    over = card.decide(feature_row({**RAW, "amount": 1300.0, "records": 1.0, "job": "partime"}))
    weights = card.reason_weights(over.knock_outs, over.shortfalls)
    assert weights[:2] == [("records", card.approve_at), ("loan_to_price", card.approve_at)]
    assert weights[2] == ("job", 30) and [f for f, _ in weights].count("loan_to_price") == 1
