"""training.validate: schema and range rules, bad rows reported and counted."""

import numpy as np

from training.data import load_credit_data
from training.validate import validate


def test_bad_rows_are_counted_and_named_per_rule():
    """Out-of-range, unknown-category and bad-label rows are flagged with every rule they fail."""
    df = load_credit_data().iloc[:100].copy()
    df.loc[3, "age"] = 7
    df.loc[5, "marital"] = "astronaut"
    df.loc[5, "amount"] = -10
    df.loc[9, "bad"] = 3
    result = validate(df)
    assert result.bad == 3 and result.rows == 100
    assert result.counts == {"age_out_of_range": 1, "marital_unknown_category": 1,
                             "amount_out_of_range": 1, "label_not_0_or_1": 1}
    rules = dict(zip(result.bad_rows["row"], result.bad_rows["rules"]))
    assert rules[5] == "amount_out_of_range; marital_unknown_category"
    assert list(np.flatnonzero(result.bad_mask) + 1) == [3, 5, 9]


def test_missing_values_where_allowed_are_not_bad():
    """Missing income/assets/debt/categories are legitimate (a source may not answer)."""
    df = load_credit_data().iloc[:20].copy()
    df.loc[1, ["income", "assets", "debt", "home"]] = None
    assert validate(df).bad == 0
    df.loc[2, "age"] = None
    assert validate(df).counts == {"age_missing": 1}


def test_credit_data_is_reported_not_silently_dropped():
    """On the real data the report accounts for every row: good + bad = loaded."""
    df = load_credit_data()
    result = validate(df)
    assert result.rows == len(df) == 4454
    assert len(result.bad_rows) == result.bad == sum(result.bad_mask)
    assert result.bad_fraction < 0.05
