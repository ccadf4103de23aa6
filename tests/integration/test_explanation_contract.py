"""Exact explanations: our contributions are shap.TreeExplainer's, and they add up to the
score we return."""

import math

import numpy as np
import pytest
import shap

from models.features import feature_matrix
from models.registry import ModelRegistry
from models.scorer import Scorer
from training.data import load_credit_data, raw_columns


@pytest.fixture(scope="module")
def model(trained):
    settings, _ = trained
    return ModelRegistry(settings.mlflow_uri, settings.model_name,
                         settings.mlflow_artifacts_dir).load_alias("champion")


@pytest.fixture(scope="module")
def rows():
    # Every 20th row: includes rows with missing income, assets and categories.
    df = load_credit_data()
    return feature_matrix(raw_columns(df.iloc[::20]))


def _calibration(model):
    cal = model.meta.get("calibration") or {}
    return float(cal.get("a", 1.0)), float(cal.get("b", 0.0))


def test_contributions_equal_tree_explainer(model, rows):
    """TreeExplainer's values, on the stored Platt scale (a * phi, a * base + b)."""
    a, b = _calibration(model)
    explainer = shap.TreeExplainer(model.booster)
    expected = np.asarray(explainer.shap_values(rows))
    base = float(np.ravel(explainer.expected_value)[0])
    scorer = Scorer(model)
    for i in range(len(rows)):
        s = scorer.score(rows[i : i + 1])
        np.testing.assert_allclose(s.contributions, a * expected[i], rtol=0, atol=1e-9)
        assert abs(s.base_value - (a * base + b)) <= 1e-9


def test_base_plus_contributions_is_the_raw_score(model, rows):
    """... the calibrated raw score a * raw + b, which is logit(probability)."""
    a, b = _calibration(model)
    raw = model.booster.predict(rows, raw_score=True)
    scorer = Scorer(model)
    for i in range(len(rows)):
        s = scorer.score(rows[i : i + 1])
        assert abs(s.base_value + s.contributions.sum() - (a * raw[i] + b)) <= 1e-9
        assert abs(s.base_value + s.contributions.sum()
                   - math.log(s.probability / (1 - s.probability))) <= 1e-9


def test_calibration_keeps_the_explanation_exact(model, rows):
    """With Platt scaling p = sigmoid(a*raw + b), scaled contributions still add up."""
    from dataclasses import replace

    calibrated = Scorer(replace(model, meta={**model.meta, "calibration": {"a": 0.8, "b": -0.1}}))
    raw = model.booster.predict(rows[:5], raw_score=True)
    for i in range(5):
        s = calibrated.score(rows[i : i + 1])
        assert abs(s.log_odds - (0.8 * raw[i] - 0.1)) <= 1e-9
        assert abs(s.base_value + s.contributions.sum()
                   - math.log(s.probability / (1 - s.probability))) <= 1e-9


def _live(model, row, policy=None, degraded=()):
    from decision.arms import Case, ModelArm
    from decision.policy import Policy
    from models.features import as_dict

    x = row.reshape(1, -1)
    raw = {"age": 40, "time": 36, "amount": 500.0, "price": 1000.0, "income": 200.0}
    case = Case("ES", x, raw, as_dict(x), list(degraded), None, Scorer(model))
    return ModelArm(policy or Policy.load()).evaluate(case, explain=True)


def test_the_record_names_each_contribution_after_its_feature(model, rows):
    """The record's contribution of feature f is TreeExplainer's value for column f (a
    mix-up of names would still add up, so the sum cannot show it)."""
    from decision.sections import live_sections

    a, _ = _calibration(model)
    scorer = Scorer(model)
    expected = np.asarray(shap.TreeExplainer(model.booster).shap_values(rows[:3]))
    for i in range(3):
        sections = live_sections(_live(model, rows[i]), scorer.feature_names)
        named = sections["explanation"].contributions
        for j, name in enumerate(model.booster.feature_name()):
            assert abs(named[name] - a * expected[i][j]) <= 1e-9, name


def test_a_withheld_score_is_not_shown(model, rows):
    """A degraded source whose policy is to refer: no probability, grade or reasons in the
    response, while the record keeps what the model said."""
    from decision.application import Application
    from decision.enrichment import Enrichment
    from decision.policy import Policy
    from decision.sections import decision_response, live_sections

    policy = Policy({"version": "t", "defaults": {
        "approve_below": 0.25, "decline_at": 0.55, "max_payment_to_income": 0.6,
        "max_age_at_maturity": 80, "grades": [["A", 1.01]], "degraded": {"bureau": "refer"}}})
    live = _live(model, rows[0], policy, degraded=["bureau"])
    app = Application.model_validate({
        "application_id": "W-1", "country": "ES",
        "applicant": {"customer_id": "C", "national_id": "00000001R", "age": 40,
                      "seniority_years": 3},
        "loan": {"amount": 500, "purchase_price": 1000, "term_months": 36},
        "consent": {"bureau": True, "open_banking": True}}, strict=False)
    enrichment = Enrichment()
    enrichment.degrade("bureau", "timeout")
    response = decision_response("D", app, live, enrichment, Scorer(model).feature_names, 4,
                                 "en")
    assert (response.outcome, response.probability_of_default, response.grade,
            response.reasons) == ("refer", None, None, [])
    assert live_sections(live, Scorer(model).feature_names)["score"].probability_of_default > 0
