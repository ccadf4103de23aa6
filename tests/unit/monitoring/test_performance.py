"""Performance figures from the read model (a real SQLite outcome store), against
independent counts."""

import uuid

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitoring import performance as perf
from monitoring.performance import MIN_PER_CLASS
from monitoring.stats import wilson
from monitoring.store import Batch, Fact, Observation, Period


@pytest.fixture
def performance(outcome_store):
    """performance(rows, cohort): the rows projected as facts, their outcomes reported."""
    def run(rows, cohort="month"):
        facts = [Fact(*r[:9], False, perf.pd_band(r[6])) for r in rows]
        outcome_store.project(f"chain-{len(outcome_store.checkpoints())}", 0, 1, facts, [])
        observed = [Observation(r[0], bool(r[10]), "2026-12-01",
                                None if r[11] is None else bool(r[11]), r[12])
                    for r in rows if r[9]]
        outcome_store.add(Batch(uuid.uuid4().hex, "2026-12-01T00:00:00Z", "api", None, "0" * 64,
                                len(observed), 0), observed, lambda _: None)
        return perf.performance(outcome_store, Period(), cohort)
    return run


def row(i, *, country="ES", arm="model", version="1", outcome="approve", pd=0.1, points=None,
        shadow=None, at="2026-11-30T10:00:00+00:00", outcome_known=True, defaulted=False,
        taken=None):
    return (f"D{i}", at, country, arm, version, outcome, pd, points, shadow,
            int(outcome_known), int(defaulted) if outcome_known else None,
            None if taken is None else int(taken), None)


def test_groups_by_country_arm_and_version_with_null_version_for_legacy(performance):
    """One group per country, arm and model version; the legacy arm's version is null."""
    rows = [row(1), row(2, version="2"), row(3, arm="legacy", points=120, pd=None),
            row(4, arm="legacy", version="2", points=90, pd=None), row(5, country="PT")]
    keys = [(g["country"], g["decided_by"], g["model_version"]) for g in performance(rows)]
    assert keys == [("ES", "legacy", None), ("ES", "model", "1"), ("ES", "model", "2"),
                    ("PT", "model", "1")]


def test_bad_rate_counts_approved_loans_taken_with_an_outcome(performance):
    """Declined and referred decisions, loans not taken and loans without an outcome yet are
    outside the bad rate; the interval is Wilson's."""
    rows = ([row(i, defaulted=i < 3) for i in range(10)]            # 10 loans, 3 defaults
            + [row(10 + i, outcome_known=False) for i in range(5)]  # no outcome yet
            + [row(20, taken=False)]                                # not taken
            + [row(30, outcome="decline", defaulted=True),          # no loan: not counted
               row(31, outcome="refer", outcome_known=False)])
    [g] = performance(rows)
    assert (g["decisions"], g["approved"], g["approved_with_outcome"], g["defaults"]) == (18, 16, 10, 3)
    assert g["bad_rate_approved"] == 0.3
    assert g["bad_rate_approved_ci"] == pytest.approx(list(wilson(3, 10)))
    assert g["approved_not_taken"] == 1 and g["outcomes_not_approved"] == 1
    assert g["outcome_coverage"] == pytest.approx(10 / 16)


def test_mean_pd_beside_the_bad_rate_and_the_expected_rate_of_every_approval(performance):
    """Mean PD of the loans with an outcome; expected rate over every approved loan; Brier."""
    rows = [row(1, pd=0.1, defaulted=True), row(2, pd=0.3), row(3, pd=0.5, outcome_known=False)]
    [g] = performance(rows)
    assert g["mean_pd_approved"] == pytest.approx(0.2)        # loans with an outcome
    assert g["expected_bad_rate_approved"] == pytest.approx(0.3)  # every approved loan
    assert g["brier"] == pytest.approx(((0.1 - 1) ** 2 + 0.3 ** 2) / 2)


def test_calibration_per_pd_band(performance):
    """Per PD band: loans, mean PD, observed rate and whether the PD is inside its interval."""
    rows = [row(i, pd=0.03, defaulted=i < 2) for i in range(40)] + \
           [row(100 + i, pd=0.4, defaulted=i < 10) for i in range(20)]
    [g] = performance(rows)
    bands = {tuple(b["pd_band"]): b for b in g["calibration"]}
    low, high = bands[(0.02, 0.05)], bands[(0.3, 0.5)]
    assert (low["loans"], low["observed"], low["mean_pd"]) == (40, 0.05, pytest.approx(0.03))
    assert low["within_interval"]
    assert (high["loans"], high["observed"]) == (20, 0.5) and high["within_interval"]


def test_auc_and_ks_need_enough_of_both_classes(performance, outcome_store):
    """AUC (as scikit-learn computes it) and KS with enough defaults; none with one too few."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(MIN_PER_CLASS), np.zeros(50)]
    pd = np.clip(0.2 + 0.2 * y + rng.normal(0, 0.1, len(y)), 0.001, 0.999)
    rows = [row(i, pd=float(p), defaulted=bool(d)) for i, (p, d) in enumerate(zip(pd, y))]
    [few] = performance(rows[1:])  # one default short
    assert few["auc"] is None and few["ks"] is None
    [g] = performance(rows[:1])  # now all of them
    assert g["auc"] == pytest.approx(roc_auc_score(y, pd))
    assert 0 < g["ks"] <= 1


def test_legacy_discrimination_uses_its_points_riskier_lower(performance):
    """More scorecard points = lower risk, so AUC is computed on minus the points."""
    y = np.r_[np.ones(MIN_PER_CLASS), np.zeros(MIN_PER_CLASS)]
    points = np.r_[np.arange(MIN_PER_CLASS), 100 + np.arange(MIN_PER_CLASS)]
    rows = [row(i, arm="legacy", pd=None, points=float(p), defaulted=bool(d))
            for i, (p, d) in enumerate(zip(points, y))]
    [g] = performance(rows)
    assert g["auc"] == 1.0 and g["pd_source"] == "model in shadow"


def test_shadow_counterfactual_splits_the_live_approvals(performance):
    """Of the live arm's approved loans: those the shadow arm approved too, and the rest."""
    rows = ([row(i, shadow="approve", defaulted=i == 0) for i in range(4)]
            + [row(10 + i, shadow="decline", defaulted=i < 2) for i in range(3)]
            + [row(20, outcome="decline", shadow="approve", outcome_known=False),
               row(21)])  # no shadow run
    [g] = performance(rows)
    s = g["shadow"]
    assert (s["arm"], s["compared"], s["only_shadow_approved"]) == ("legacy", 8, 1)
    assert (s["both_approved"]["loans"], s["both_approved"]["bad_rate"]) == (4, 0.25)
    assert (s["only_live_approved"]["loans"], s["only_live_approved"]["defaults"]) == (3, 2)


def test_cohorts_show_expected_before_realized(performance, outcome_store):
    """A cohort without outcomes yet has an expected rate and no realized one."""
    rows = [row(1, at="2026-10-05T00:00:00+00:00", pd=0.2, defaulted=True),
            row(2, at="2026-11-05T00:00:00+00:00", pd=0.1, outcome_known=False)]
    [g] = performance(rows)
    oct_, nov = g["cohorts"]
    assert (oct_["cohort"], oct_["realized_bad_rate"], oct_["expected_bad_rate"]) == ("2026-10", 1.0, 0.2)
    assert (nov["cohort"], nov["realized_bad_rate"], nov["expected_bad_rate"]) == ("2026-11", None, 0.1)
    [g] = perf.performance(outcome_store, Period(), cohort="day")
    assert [c["cohort"] for c in g["cohorts"]] == ["2026-10-05", "2026-11-05"]


def test_no_rows_no_groups(outcome_store):
    """An empty read model: no groups, no error."""
    assert perf.performance(outcome_store, Period()) == []


@pytest.mark.parametrize(("pd", "band"), [(None, -1), (0.0, 0), (0.0199, 0), (0.02, 1),
                                          (0.5, 6), (0.99, 6), (1.0, 6)])
def test_pd_bands_close_on_the_left_and_the_last_holds_one(pd, band):
    """A PD on an edge belongs to the band it opens; PD 1 is in the last band."""
    assert perf.pd_band(pd) == band
