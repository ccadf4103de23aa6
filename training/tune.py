"""Budgeted hyperparameter search: a fixed, seeded sample of a small grid, each candidate
trained on the training split with early stopping on the validation split.

Deterministic for a given `trials` (same candidates in the same order, deterministic
LightGBM); the time budget only cuts the list short, and the run records how many were tried.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

from models.features import FEATURE_NAMES

BASE_PARAMS: dict = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 40,
    "feature_fraction": 0.7,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
# Below this many training rows one thread is faster than two (OpenMP overhead, shared cores).
SMALL_DATA_ROWS = 100_000
GRID: dict[str, list] = {
    "num_leaves": [7, 15, 31],
    "min_child_samples": [20, 40, 80],
    "feature_fraction": [0.7, 0.9],
    "lambda_l2": [0.0, 5.0],
}


@dataclass
class Tuning:
    params: dict
    rounds: int
    best_auc: float
    trials: list[dict] = field(default_factory=list)
    stopped_by_budget: bool = False


def dataset(x: np.ndarray, y: np.ndarray, reference: lgb.Dataset | None = None) -> lgb.Dataset:
    # feature_pre_filter off: candidates differ in min_child_samples on the same Dataset.
    return lgb.Dataset(x, label=y, feature_name=list(FEATURE_NAMES), reference=reference,
                       free_raw_data=False, params={"feature_pre_filter": False})


def threads_for(rows: int) -> int:
    return 1 if rows < SMALL_DATA_ROWS else 2


def candidates(trials: int, seed: int) -> list[dict]:
    """The base parameters first, then a seeded sample of the grid."""
    keys = list(GRID)
    grid = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*GRID.values())]
    order = np.random.default_rng(seed).permutation(len(grid))
    return [{}] + [grid[i] for i in order[: max(trials - 1, 0)]]


def tune(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
         trials: int = 6, max_rounds: int = 400, budget_s: float = 15.0, seed: int = 7,
         early_stopping: int = 30) -> Tuning:
    train_set = dataset(x_train, y_train)
    val_set = dataset(x_val, y_val, reference=train_set)
    start = time.perf_counter()
    best: Tuning | None = None
    log: list[dict] = []
    stopped = False
    for i, extra in enumerate(candidates(trials, seed)):
        if i > 0 and time.perf_counter() - start > budget_s:
            stopped = True
            break
        params = {**BASE_PARAMS, **extra, "seed": seed, "num_threads": threads_for(len(y_train))}
        t = time.perf_counter()
        booster = lgb.train(params, train_set, num_boost_round=max_rounds, valid_sets=[val_set],
                            callbacks=[lgb.early_stopping(early_stopping, verbose=False)])
        rounds = booster.best_iteration or max_rounds
        auc = float(roc_auc_score(y_val, booster.predict(x_val, num_iteration=rounds)))
        log.append({**extra, "trial": i, "rounds": rounds, "val_roc_auc": auc,
                    "seconds": round(time.perf_counter() - t, 3)})
        if best is None or auc > best.best_auc:
            best = Tuning(params, rounds, auc)
    if best is None:
        raise RuntimeError("tuning ran no trial")
    best.trials, best.stopped_by_budget = log, stopped
    return best
