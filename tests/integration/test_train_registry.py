"""The real train -> register -> load path against a temporary MLflow registry."""

import math

import numpy as np

from models.features import FEATURE_NAMES, feature_matrix
from models.registry import ModelRegistry
from models.scorer import Scorer
from training.data import load_credit_data, raw_columns


def registry_of(settings):
    return ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)


def test_cross_validated_auc_meets_the_bar(trained):
    """`credit train` reports a 5-fold CV ROC AUC of at least 0.83 on credit_data."""
    _, result = trained
    assert len(result.cv_auc_folds) == 5
    assert result.cv_auc >= 0.83
    assert result.rows == 4454


def test_champion_alias_points_at_the_new_version(trained):
    settings, result = trained
    registry = registry_of(settings)
    assert registry.version_for("champion") == result.version
    assert registry.version_for("no-such-alias") is None


def test_loaded_booster_is_native_and_carries_its_metadata(trained):
    """The champion loads as a lightgbm Booster with the feature set it was trained on."""
    settings, result = trained
    model = registry_of(settings).load_alias("champion")
    assert model.version == result.version and model.run_id == result.run_id
    assert tuple(model.booster.feature_name()) == FEATURE_NAMES
    assert model.meta["feature_names"] == list(FEATURE_NAMES)
    assert set(model.meta["calibration"]) == {"a", "b"}


def test_scorer_probability_matches_the_booster(trained):
    settings, _ = trained
    model = registry_of(settings).load_alias("champion")
    x = feature_matrix(raw_columns(load_credit_data().iloc[:50]))
    cal = model.meta["calibration"]
    raw = model.booster.predict(x, raw_score=True)
    expected = 1 / (1 + np.exp(-(cal["a"] * raw + cal["b"])))
    got = [Scorer(model).score(x[i : i + 1]).probability for i in range(50)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert all(0 < p < 1 and not math.isnan(p) for p in got)
