"""The Wilson interval agrees with scipy's."""

import pytest
from scipy.stats import binomtest

from monitoring.stats import wilson


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (62, 1000), (1, 3)])
def test_wilson_matches_scipy(k, n):
    """The closed form equals scipy's binomtest Wilson interval."""
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
