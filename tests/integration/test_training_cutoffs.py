"""`credit train`'s cut-offs: on its own test split the proposed default policy dominates the
legacy scorecard, checked independently of the pipeline's own arithmetic (the draft applied
by the decision code's vectorised policy to the registered model's probabilities)."""

import mlflow
import numpy as np

from decision.policy import OUTCOMES, Policy
from models.features import FEATURE_NAMES
from models.registry import ModelRegistry
from models.scorer import Scorer
from shadow.scorecard import Scorecard
from training.data import LABEL, features_of, load_credit_data
from training.split import stratified_split
from training.validate import validate

COL = {n: i for i, n in enumerate(FEATURE_NAMES)}


def test_default_policy_dominates_legacy_on_its_test_split(trained):
    """Approval rate no lower than legacy's, bad rate among approved at least 10% lower, for
    the draft as the API would apply it (every rule of the policy, not only the cut-off)."""
    settings, result = trained
    draft = Policy.from_text(result.policy_draft)
    df = load_credit_data()
    good = df[~validate(df).bad_mask]
    x, y = features_of(good), good[LABEL].to_numpy()
    test = stratified_split(y, seed=7).test
    x, y = x[test], y[test]
    model = ModelRegistry(settings.mlflow_uri, settings.model_name,
                          settings.mlflow_artifacts_dir).load(result.version)
    p = Scorer(model).probabilities(x)
    raw = {k: x[:, COL[k]] for k in ("amount", "price", "age", "time", "income")}
    outcome = draft.decide_batch("ES", p, raw, x[:, COL["payment_to_income"]],
                                 {}, {})
    approved = outcome == OUTCOMES.index("approve")
    legacy = Scorecard.load().outcomes(x)[0] == "approve"
    assert approved.mean() >= legacy.mean()
    assert y[approved].mean() <= 0.9 * y[legacy].mean()
    chosen = result.report["cutoffs"]["scopes"][0]["chosen"]
    assert np.isclose(chosen["approval_rate"], approved.mean())
    assert np.isclose(chosen["bad_rate"], y[approved].mean())


def test_model_card_shows_the_curve_and_both_points(trained):
    settings, result = trained
    mlflow.set_tracking_uri(settings.mlflow_uri)
    md = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card/model_card.md")
    scope = result.report["cutoffs"]["scopes"][0]
    assert "Cut-offs from the trade-off curve" in md and "tradeoff.png" in md
    assert f"{100 * scope['legacy']['approval_rate']:.1f}%" in md
    assert f"{100 * scope['chosen']['approval_rate']:.1f}%" in md
    assert str(scope["chosen"]["threshold"]) in md
    draft = mlflow.artifacts.load_text(f"runs:/{result.run_id}/policy/policy_draft.toml")
    assert draft == result.policy_draft and "A proposal only" in draft
