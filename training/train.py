"""`credit train`: credit_data -> features -> 5-fold CV -> LightGBM -> MLflow -> alias."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from app.settings import Settings
from models.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_matrix
from models.registry import ModelRegistry
from training.data import load_credit_data, raw_columns

SEED = 7
PARAMS: dict = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 40,
    "feature_fraction": 0.7,
    "seed": SEED,
    "deterministic": True,
    "num_threads": 2,
    "verbose": -1,
}
NUM_ROUNDS = 200


@dataclass
class TrainResult:
    version: str
    run_id: str
    cv_auc: float
    cv_auc_folds: list[float]
    rows: int
    seconds: dict[str, float] = field(default_factory=dict)


def _fit(x: np.ndarray, y: np.ndarray, params: dict, rounds: int) -> lgb.Booster:
    data = lgb.Dataset(x, label=y, feature_name=list(FEATURE_NAMES), free_raw_data=True)
    return lgb.train(params, data, num_boost_round=rounds)


def cross_validated_auc(x: np.ndarray, y: np.ndarray, params: dict, rounds: int,
                        folds: int = 5) -> list[float]:
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return [float(roc_auc_score(y[te], _fit(x[tr], y[tr], params, rounds).predict(x[te])))
            for tr, te in skf.split(x, y)]


def train(settings: Settings, *, rounds: int = NUM_ROUNDS, alias: str | None = None,
          progress: Callable[[str], None] = lambda _msg: None) -> TrainResult:
    """Train on credit_data, log the run to MLflow, register a version and point `alias` at it."""
    import mlflow
    import mlflow.lightgbm
    import pandas as pd
    from mlflow.models import infer_signature

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    settings.ensure_data_dir()
    alias = alias or settings.model_alias
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    progress("loading credit_data")
    df = load_credit_data()
    x = feature_matrix(raw_columns(df))
    y = df["bad"].to_numpy()
    timings["load_and_features"] = time.perf_counter() - t0

    progress("5-fold cross-validation")
    t = time.perf_counter()
    folds = cross_validated_auc(x, y, PARAMS, rounds)
    cv_auc = float(np.mean(folds))
    timings["cross_validation"] = time.perf_counter() - t

    progress("training on all rows")
    t = time.perf_counter()
    booster = _fit(x, y, PARAMS, rounds)
    timings["training"] = time.perf_counter() - t

    progress("logging to MLflow and registering")
    t = time.perf_counter()
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    mlflow.set_registry_uri(settings.mlflow_uri)
    with mlflow.start_run(experiment_id=registry.experiment_id()) as run:
        mlflow.log_params({**PARAMS, "num_boost_round": rounds, "rows": len(y),
                           "feature_set_version": FEATURE_SET_VERSION})
        mlflow.log_metrics({"cv_roc_auc": cv_auc,
                            **{f"cv_roc_auc_fold_{i}": a for i, a in enumerate(folds)}})
        sample = pd.DataFrame(x[:5], columns=list(FEATURE_NAMES))
        info = mlflow.lightgbm.log_model(
            booster, name="model", registered_model_name=settings.model_name,
            signature=infer_signature(sample, booster.predict(x[:5])),
            # Explicit requirements: inferring them spawns a slow subprocess.
            pip_requirements=[f"lightgbm=={lgb.__version__}"],
            metadata={"feature_set_version": FEATURE_SET_VERSION,
                      "feature_names": list(FEATURE_NAMES),
                      "calibration": {"a": 1.0, "b": 0.0},
                      "cv_roc_auc": cv_auc},
        )
    version = str(info.registered_model_version)
    registry.set_alias(alias, version)
    timings["mlflow"] = time.perf_counter() - t
    return TrainResult(version, run.info.run_id, cv_auc, folds, len(y), timings)
