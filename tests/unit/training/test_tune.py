"""training.tune: a deterministic, budgeted search."""

import numpy as np

from models.features import FEATURE_NAMES
from training.tune import candidates, tune


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(int)
    return x, y


def test_candidates_are_deterministic_and_start_with_the_base():
    assert candidates(5, 7) == candidates(5, 7)
    assert candidates(5, 7)[0] == {} and len(candidates(5, 7)) == 5
    assert candidates(5, 7) != candidates(5, 8)


def test_same_inputs_same_choice_and_budget_cuts_the_list():
    xt, yt = _data(800, 1)
    xv, yv = _data(400, 2)
    a = tune(xt, yt, xv, yv, trials=2, max_rounds=30)
    b = tune(xt, yt, xv, yv, trials=2, max_rounds=30)
    assert a.params == b.params and a.rounds == b.rounds and a.best_auc == b.best_auc
    assert len(a.trials) == 2 and a.best_auc > 0.8
    cut = tune(xt, yt, xv, yv, trials=5, max_rounds=30, budget_s=0.0)
    assert len(cut.trials) == 1 and cut.stopped_by_budget
