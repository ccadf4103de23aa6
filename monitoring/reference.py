"""The training reference of a model version: how its development sample was distributed,
per model feature and for the score, in fixed bins. Training stores it with the version
(training/reference.py); monitoring counts live decisions into the same bins, so drift is
a comparison of two count vectors and never needs the rows themselves (ADR 0101).

Numeric features get the reference's deciles as bin edges (ties merged, so a feature with
few distinct values gets fewer bins); the categories of models.features get one bin each.
Every feature has a last bin for missing values: a source that stops answering shows as
drift in its features' missing share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.features import CATEGORIES

FORMAT = 1
SCORE = "score"  # the name the score's bins go by, beside the features
QUANTILES = np.linspace(0.1, 0.9, 9)


@dataclass(frozen=True)
class Bins:
    """Bin edges and the reference's count per bin; the last bin holds missing values."""

    kind: str                 # numeric | categorical
    edges: tuple[float, ...]  # interior edges, ascending: len(edges) + 1 value bins
    labels: tuple[str, ...]   # one per bin, missing included
    counts: tuple[int, ...]   # the reference's, one per bin, missing included

    @property
    def size(self) -> int:
        return len(self.edges) + 2

    def index(self, values: np.ndarray) -> np.ndarray:
        """Each value's bin (NaN: the missing bin)."""
        out = np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="right")
        out[np.isnan(values)] = self.size - 1
        return out

    def count(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.index(np.asarray(values, dtype=np.float64)),
                           minlength=self.size)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": list(self.edges), "labels": list(self.labels),
                "counts": list(self.counts)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Bins:
        return cls(d["kind"], tuple(map(float, d["edges"])), tuple(d["labels"]),
                   tuple(map(int, d["counts"])))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def numeric_bins(values: np.ndarray) -> Bins:
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    edges = tuple(np.unique(np.quantile(present, QUANTILES)).tolist()) if len(present) else ()
    labels = [f"< {_fmt(edges[0])}"] if edges else ["all"]
    labels += [f"{_fmt(a)} to < {_fmt(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    labels += [f">= {_fmt(edges[-1])}"] if edges else []
    partial = Bins("numeric", edges, (*labels, "missing"), ())
    return Bins("numeric", edges, partial.labels, tuple(partial.count(values).tolist()))


def categorical_bins(codes: np.ndarray, names: Sequence[str]) -> Bins:
    """Codes 0..k-1 (models.features): edges between them, one bin per category."""
    edges = tuple(i + 0.5 for i in range(len(names) - 1))
    partial = Bins("categorical", edges, (*names, "missing"), ())
    return Bins("categorical", edges, partial.labels, tuple(partial.count(codes).tolist()))


@dataclass(frozen=True)
class Reference:
    feature_set_version: str
    features: dict[str, Bins]
    score: Bins
    rows: int        # development rows behind the feature bins
    score_rows: int  # held-out rows behind the score bins

    @classmethod
    def fit(cls, x: np.ndarray, names: Sequence[str], scores: np.ndarray,
            feature_set_version: str) -> Reference:
        """From the development sample's feature matrix (columns in `names`) and the
        calibrated PDs of rows the booster was not fitted on."""
        features = {}
        for i, name in enumerate(names):
            column = x[:, i]
            features[name] = (categorical_bins(column, CATEGORIES[name]) if name in CATEGORIES
                              else numeric_bins(column))
        return cls(feature_set_version, features, numeric_bins(scores), len(x), len(scores))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "feature_set_version": self.feature_set_version,
                "rows": self.rows, "score_rows": self.score_rows,
                "features": {n: b.to_json() for n, b in self.features.items()},
                "score": self.score.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Reference:
        if d.get("format") != FORMAT:
            raise ValueError(f"reference format {d.get('format')!r}; this version reads {FORMAT}")
        return cls(str(d["feature_set_version"]),
                   {n: Bins.from_json(b) for n, b in d["features"].items()},
                   Bins.from_json(d["score"]), int(d["rows"]), int(d["score_rows"]))
