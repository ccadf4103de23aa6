"""Stratified train / validation / test split with a fixed seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    train: np.ndarray       # row positions
    validation: np.ndarray
    test: np.ndarray


def stratified_split(y: np.ndarray, *, validation: float = 0.2, test: float = 0.2,
                     seed: int = 7) -> Split:
    """Positions of each part; every part keeps the bad rate of the whole."""
    pos = np.arange(len(y))
    rest, test_idx = train_test_split(pos, test_size=test, stratify=y, random_state=seed)
    train_idx, val_idx = train_test_split(rest, test_size=validation / (1 - test),
                                          stratify=y[rest], random_state=seed)
    return Split(np.sort(train_idx), np.sort(val_idx), np.sort(test_idx))
