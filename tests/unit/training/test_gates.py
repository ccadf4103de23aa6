"""training.gates: thresholds from TOML, pass/fail per gate."""

import math

import pytest

from training.gates import Gate, Thresholds, check

FAIR = {"age_band": {"demographic_parity_ratio": 0.8, "equalized_odds_difference": 0.1}}


def test_defaults_load_and_a_file_overrides_some(tmp_path):
    assert Thresholds.load().min_test_roc_auc == 0.80
    f = tmp_path / "g.toml"
    f.write_text("min_test_roc_auc = 0.9\n")
    t = Thresholds.load(f)
    assert t.min_test_roc_auc == 0.9 and t.max_test_brier == Thresholds().max_test_brier
    f.write_text("min_auc = 0.9\n")
    with pytest.raises(ValueError, match="min_auc"):
        Thresholds.load(f)


def test_each_gate_passes_or_fails_on_its_threshold():
    gates = check(Thresholds(), test_auc=0.85, test_brier=0.25, reduction=0.31,
                  bad_fraction=0.0, fairness=FAIR)
    result = {g.name: g.passed for g in gates}
    assert result == {"test_roc_auc": True, "test_brier": False, "bad_rate_reduction": True,
                      "bad_row_fraction": True, "demographic_parity_ratio_age_band": True,
                      "equalized_odds_difference_age_band": True}


def test_nan_never_passes():
    assert not Gate("x", math.nan, 0.5, "min").passed
    assert not Gate("x", math.nan, 0.5, "max").passed
