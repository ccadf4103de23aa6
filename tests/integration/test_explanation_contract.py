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
