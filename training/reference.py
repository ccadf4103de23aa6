"""The training reference stored with each version, for drift monitoring (ADR 0101): the
binned distribution of every model feature over the whole development sample, and of the
calibrated PD over the rows the booster was not fitted on (validation and test), since
scores of rows a model was fitted on are more extreme than those it will see live."""

from __future__ import annotations

import numpy as np

from models.features import FEATURE_NAMES, FEATURE_SET_VERSION
from monitoring.reference import Reference

ARTIFACT = "reference/reference.json"  # run artifact; the version's `reference` tag names it


def fit(x_development: np.ndarray, held_out_pd: np.ndarray) -> Reference:
    return Reference.fit(x_development, FEATURE_NAMES, held_out_pd, FEATURE_SET_VERSION)


def summary(ref: Reference) -> str:
    bins = sum(b.size for b in ref.features.values())
    return (f"{len(ref.features)} features in {bins} bins over {ref.rows:,} rows; score in "
            f"{ref.score.size} bins over {ref.score_rows:,} held-out rows")
