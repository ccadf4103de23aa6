"""training.fairness: MetricFrame per group with bootstrap intervals."""

import numpy as np

from training.fairness import assess


def test_known_group_rates_and_summaries():
    """Group a is approved 80% of the time, group b 40%: DPR 0.5; intervals bracket the point."""
    rng = np.random.default_rng(3)
    n = 4000
    groups = np.where(np.arange(n) % 2 == 0, "a", "b").astype(object)
    good = (rng.random(n) < 0.7).astype(int)
    approved = np.where(groups == "a", rng.random(n) < 0.8, rng.random(n) < 0.4).astype(int)
    f = assess(good, approved, groups, n_boot=50, seed=1)
    rates = {g["group"]: g["selection_rate"] for g in f["by_group"]}
    assert abs(rates["a"] - 0.8) < 0.03 and abs(rates["b"] - 0.4) < 0.03
    assert abs(f["demographic_parity_ratio"] - 0.5) < 0.05
    lo, hi = f["demographic_parity_ratio_ci"]
    assert lo <= f["demographic_parity_ratio"] <= hi and hi - lo < 0.1
    lo, hi = f["equalized_odds_difference_ci"]
    assert lo <= f["equalized_odds_difference"] <= hi
    for g in f["by_group"]:
        assert g["selection_rate_ci"][0] <= g["selection_rate"] <= g["selection_rate_ci"][1]
        assert set(g) >= {"false_positive_rate", "false_negative_rate", "false_positive_rate_ci"}


def test_equal_treatment_gives_parity():
    groups = np.array(["a", "b"] * 500, dtype=object)
    good = np.array([1, 1, 0, 0] * 250)
    approved = good.copy()
    f = assess(good, approved, groups, n_boot=10)
    assert f["demographic_parity_ratio"] == 1.0 and f["equalized_odds_difference"] == 0.0


def test_bootstrap_counting_matches_fairlearn_on_the_full_sample():
    """The numpy rates used for intervals equal fairlearn's on the same rows."""
    from training.fairness import group_rates, summaries

    rng = np.random.default_rng(5)
    n = 3000
    groups = rng.choice(np.array(["x", "y", "z"], dtype=object), n)
    good = (rng.random(n) < 0.7).astype(int)
    approved = (rng.random(n) < np.where(groups == "x", 0.7, 0.5)).astype(int)
    f = assess(good, approved, groups, n_boot=10)
    names, codes = np.unique(groups.astype(str), return_inverse=True)
    rates = group_rates(good, approved, codes, len(names))
    for gi, g in enumerate(f["by_group"]):
        np.testing.assert_allclose(rates[gi], [g["selection_rate"], g["false_positive_rate"],
                                               g["false_negative_rate"]], atol=1e-12)
    dpr, eod = summaries(rates)
    assert abs(dpr - f["demographic_parity_ratio"]) < 1e-12
    assert abs(eod - f["equalized_odds_difference"]) < 1e-12
