import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.features import (
    CATEGORIES,
    FEATURE_NAMES,
    NUMERIC_FIELDS,
    RAW_FIELDS,
    as_dict,
    feature_matrix,
    feature_row,
)
from training.data import load_credit_data, raw_columns

RAW = {"age": 30, "seniority": 9, "time": 60, "amount": 800.0, "price": 846.0, "records": 0.0,
       "debt": 100.0, "income": 129.0, "expenses": 73.0, "assets": 500.0, "home": "rent",
       "marital": "married", "job": "fixed"}


def test_row_has_every_feature_in_order():
    """One application gives one row with a value for each named feature."""
    x = feature_row(RAW)
    assert x.shape == (1, len(FEATURE_NAMES))
    d = as_dict(x)
    assert list(d) == list(FEATURE_NAMES)
    assert d["age"] == 30 and d["home"] == CATEGORIES["home"].index("rent")


def test_derived_features():
    """Ratios and differences are computed from the raw values."""
    d = as_dict(feature_row(RAW))
    assert math.isclose(d["loan_to_price"], 800 / 846)
    assert math.isclose(d["monthly_payment"], 800 / 60)
    assert math.isclose(d["payment_to_income"], 800 / 60 / 129)
    assert d["free_income"] == 129 - 73
    assert math.isclose(d["debt_to_income"], 100 / 129)
    assert d["net_assets"] == 400


def test_missing_and_unknown_values_become_missing():
    """Missing income, unknown category and zero income give NaN, never an error or inf."""
    d = as_dict(feature_row({**RAW, "income": None, "home": "castle", "job": None}))
    assert d["income"] is None and d["home"] is None and d["job"] is None
    assert d["payment_to_income"] is None and d["debt_to_income"] is None
    assert d["free_income"] is None
    zero = as_dict(feature_row({**RAW, "income": 0.0}))
    assert zero["payment_to_income"] is None


def test_serving_row_equals_training_matrix_row():
    """Training (whole data set) and serving (one row) give bit-identical features."""
    df = load_credit_data()
    matrix = feature_matrix(raw_columns(df))
    cols = raw_columns(df)
    for i in range(0, len(df), 37):
        row = feature_row({f: cols[f][i] for f in RAW_FIELDS})
        np.testing.assert_array_equal(row[0], matrix[i])


_number = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-10**6, 10**6), st.sampled_from([0.0, -0.0, 1e-308, 1e308]))
_category = st.one_of(st.none(), st.text(max_size=3), *(st.sampled_from(v) for v in CATEGORIES.values()))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({**{f: _number for f in NUMERIC_FIELDS},
                              **{f: _category for f in CATEGORIES}}))
def test_one_row_is_bit_identical_to_the_matrix(raw):
    """The serving path (plain floats) gives the training path's (numpy) bits for any input:
    zeros, NaN, infinities, overflowing ratios, unknown categories."""
    row = feature_row(raw)
    matrix = feature_matrix({f: [raw[f]] for f in RAW_FIELDS})
    np.testing.assert_array_equal(row, matrix)
    assert not np.isinf(row).any()
