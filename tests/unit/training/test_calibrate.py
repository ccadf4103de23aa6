"""training.calibrate: Platt scaling on log-odds."""

import numpy as np

from training.calibrate import fit_platt, report, sigmoid


def test_platt_recovers_a_known_miscalibration():
    """Outcomes drawn from sigmoid(0.5 * raw - 1) give back a ~ 0.5, b ~ -1, and a lower Brier."""
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 3, 40_000)
    y = (rng.random(len(raw)) < sigmoid(0.5 * raw - 1.0)).astype(int)
    cal = fit_platt(raw, y)
    assert abs(cal.a - 0.5) < 0.03 and abs(cal.b + 1.0) < 0.05
    rep = report(y, raw, cal)
    assert rep["brier_after"] < rep["brier_before"]
    assert len(rep["curve_after"]) == 10
    worst = max(abs(p["predicted"] - p["observed"]) for p in rep["curve_after"])
    assert worst < 0.03


def test_apply_is_linear_in_log_odds():
    cal = fit_platt(np.array([-2.0, -1.0, 0.0, 1.0, 2.0] * 20),
                    np.array([0, 0, 1, 0, 1] * 20))
    raw = np.array([-1.5, 0.25])
    logit = np.log(cal.apply(raw) / (1 - cal.apply(raw)))
    np.testing.assert_allclose(logit, cal.a * raw + cal.b, atol=1e-12)
