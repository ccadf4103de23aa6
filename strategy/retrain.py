"""The training set from the recorded history (`credit train --from-audit`, ADR 0133).

Point-in-time: each row is what a decision recorded (its raw inputs as the sources answered
then, never today's data), with the outcome of that loan; the features are recomputed by the
feature function of this build, so only records of this build's feature set version are
used (a record of another version would need that version's function).

Declined applicants (and referrals nobody approved) have no outcome: they are excluded,
explicitly and counted, not given an inferred label (see the ADR for what this does to the
evaluation). Approved loans reported as not taken have no performance either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from models.dataset import LABEL
from models.features import FEATURE_SET_VERSION, RAW_FIELDS


@dataclass(frozen=True)
class TrainingSetStats:
    decisions: int
    with_outcome: int
    without_outcome: int            # declined, referred, not taken, or not yet reported
    other_feature_set: int          # recorded with another feature set version
    rows: int
    bad_rate: float | None

    def to_json(self) -> dict:
        return asdict(self)


def training_set(history: pd.DataFrame) -> tuple[pd.DataFrame, TrainingSetStats]:
    """History rows (strategy.history.COLUMNS) -> raw fields + `bad` + `country`."""
    has_outcome = history["defaulted"].notna()
    same_version = history["feature_set_version"] == FEATURE_SET_VERSION
    keep = has_outcome & same_version
    out = history.loc[keep, [*RAW_FIELDS, "country"]].copy()
    out[LABEL] = history.loc[keep, "defaulted"].astype(np.int8)
    out = out.reset_index(drop=True)
    stats = TrainingSetStats(
        decisions=len(history), with_outcome=int(has_outcome.sum()),
        without_outcome=int((~has_outcome).sum()),
        other_feature_set=int((has_outcome & ~same_version).sum()), rows=len(out),
        bad_rate=float(out[LABEL].mean()) if len(out) else None)
    return out, stats
