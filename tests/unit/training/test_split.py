"""training.split: stratified, disjoint, deterministic."""

import numpy as np

from training.split import stratified_split


def test_parts_are_disjoint_cover_all_and_keep_the_bad_rate():
    y = (np.random.default_rng(0).random(5000) < 0.28).astype(int)
    sp = stratified_split(y, seed=7)
    allpos = np.concatenate([sp.train, sp.validation, sp.test])
    assert sorted(allpos) == list(range(5000))
    assert (len(sp.train), len(sp.validation), len(sp.test)) == (3000, 1000, 1000)
    for part in (sp.train, sp.validation, sp.test):
        assert abs(y[part].mean() - y.mean()) < 0.005


def test_same_seed_same_split_other_seed_other_split():
    y = (np.arange(1000) % 4 == 0).astype(int)
    a, b, c = stratified_split(y, seed=7), stratified_split(y, seed=7), stratified_split(y, seed=8)
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)
