"""The training reference travels with the model version and reads back through the
registry, matching the development data it was made from."""

import numpy as np

from models.features import FEATURE_NAMES
from models.registry import ModelRegistry
from monitoring.reference import Reference
from training.data import features_of, load_credit_data
from training.split import stratified_split


def test_reference_is_stored_with_the_version_and_matches_the_data(trained):
    """Every model feature binned over all of credit_data's valid rows; the score over the
    held-out validation and test rows, in deciles."""
    settings, result = trained
    reg = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)
    ref = Reference.from_json(reg.reference(result.version))
    assert list(ref.features) == list(FEATURE_NAMES)
    x = features_of(load_credit_data())
    assert ref.rows == len(x) == 4454
    for i, name in enumerate(FEATURE_NAMES):
        assert list(ref.features[name].counts) == ref.features[name].count(x[:, i]).tolist()
    y = load_credit_data()["bad"].to_numpy()
    split = stratified_split(y, seed=7)
    assert ref.score_rows == len(split.validation) + len(split.test)
    shares = np.array(ref.score.counts[:-1]) / ref.score_rows
    assert len(shares) == 10 and np.allclose(shares, 0.1, atol=0.01)


def test_unknown_versions_have_no_reference(trained):
    """A version the registry does not know has no reference (None, not an error)."""
    settings, _ = trained
    reg = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)
    assert reg.reference("999") is None
