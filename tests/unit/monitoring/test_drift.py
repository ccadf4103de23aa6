"""PSI and its status."""

import math

import numpy as np
import pytest

from monitoring.drift import Thresholds, psi, report
from monitoring.reference import Reference


def test_psi_is_the_textbook_formula():
    """sum((a - e) * ln(a / e)) over the bins' shares."""
    e, a = np.array([50, 30, 20]), np.array([40, 30, 30])
    expected = sum((x / 100 - y / 100) * math.log((x / 100) / (y / 100)) for x, y in zip(a, e))
    assert psi(e, a) == pytest.approx(expected)


def test_identical_distributions_have_zero_psi_and_empty_ones_none():
    """The same shares give 0 whatever the sizes; nothing to compare gives None."""
    assert psi(np.array([5, 5]), np.array([50, 50])) == pytest.approx(0.0)
    assert psi(np.array([5, 5]), np.array([0, 0])) is None


def test_a_bin_the_reference_never_saw_counts_heavily():
    """An empty reference bin is floored, not divided by: a new category is drift."""
    assert psi(np.array([100, 0]), np.array([80, 20])) > 1.0


def test_a_shifted_normal_alerts_and_a_resample_does_not():
    """0.6 standard deviations of shift: above the alert threshold; a new sample of the
    same distribution: near zero."""
    rng = np.random.default_rng(3)
    ref = Reference.fit(rng.normal(size=(20_000, 1)), ["age"], rng.random(100), "1")
    bins = ref.features["age"]
    same = psi(np.array(bins.counts), bins.count(rng.normal(size=5_000)))
    shifted = psi(np.array(bins.counts), bins.count(rng.normal(0.6, 1, size=5_000)))
    assert same < 0.01 and shifted > 0.25


@pytest.mark.parametrize(("value", "n", "status"), [
    (0.05, 500, "ok"), (0.1, 500, "warn"), (0.24, 500, "warn"), (0.25, 500, "alert"),
    (0.9, 99, "insufficient"), (None, 500, "insufficient")])
def test_status_from_thresholds(value, n, status):
    """Thresholds are inclusive; too few decisions or no PSI is insufficient."""
    assert Thresholds(0.1, 0.25, 100).status(value, n) == status


def test_report_covers_every_feature_and_the_score():
    """A feature with no live counts is reported as insufficient, not left out."""
    rng = np.random.default_rng(4)
    ref = Reference.fit(rng.normal(size=(1000, 2)), ["age", "amount"], rng.random(1000), "1")
    counts = {"age": ref.features["age"].count(rng.normal(size=300)),
              "score": ref.score.count(rng.random(300))}
    out = report(ref, counts, Thresholds())
    by_name = {f["name"]: f for f in out["features"]}
    assert by_name["age"]["status"] == "ok" and by_name["age"]["decisions"] == 300
    assert by_name["amount"]["status"] == "insufficient" and by_name["amount"]["psi"] is None
    assert out["score"]["status"] == "ok" and out["status"] == "insufficient"
    assert sum(b["actual"] for b in by_name["age"]["bins"]) == pytest.approx(1.0)
