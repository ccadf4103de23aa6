"""The legacy rules scorecard: points per attribute band, cut-offs and knock-out rules.

It reads the same feature rows as the model (models.features), so both arms of a shadow
comparison see identical inputs. Configuration: shadow/scorecard.toml (versioned).
Vectorized over a feature matrix: one row online, the whole data set offline.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from models.features import CATEGORIES, FEATURE_NAMES

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
# Each takes columns by feature index: a matrix's columns (x.T) or one row's values.
_KNOCK_OUTS = {
    # An unknown bureau answer (NaN) is not a knock-out; it is handled as a missing source.
    "bad_records": lambda c: c[_COL["records"]] == 1.0,
    "loan_exceeds_price": lambda c: c[_COL["amount"]] > c[_COL["price"]],
}
# The feature whose reason code tells the applicant why a knock-out declined them.
KNOCK_OUT_FEATURES = {"bad_records": "records", "loan_exceeds_price": "loan_to_price"}


@dataclass(frozen=True)
class LegacyResult:
    outcome: str  # approve | decline | refer
    points: float
    knock_outs: list[str]
    # Per scored attribute, the points below its best band: what it cost the applicant.
    shortfalls: dict[str, float]


class Scorecard:
    def __init__(self, config: dict[str, Any]) -> None:
        self.version: str = config["version"]
        self.approve_at = float(config["approve_at"])
        self.decline_below = float(config["decline_below"])
        self.knock_outs: list[str] = list(config["knock_outs"])
        unknown = set(self.knock_outs) - set(_KNOCK_OUTS)
        if unknown:
            raise ValueError(f"unknown knock-out rules: {sorted(unknown)}")
        self._bands = {f: (np.array([b for b, _ in c["bands"]], dtype=float),
                           np.array([p for _, p in c["bands"]], dtype=float), float(c["missing"]))
                       for f, c in config.get("bands", {}).items()}
        self._cats = {f: self._category_points(f, c) for f, c in config.get("categories", {}).items()}
        self._bands_py = {f: (u.tolist(), p.tolist(), m) for f, (u, p, m) in self._bands.items()}
        self._cats_py = {f: (c.tolist(), m) for f, (c, m) in self._cats.items()}
        self._best = {f: max([*p, m]) for f, (_, p, m) in self._bands_py.items()} | \
            {f: max([*c, m]) for f, (c, m) in self._cats_py.items()}

    @staticmethod
    def _category_points(field: str, conf: dict[str, Any]) -> tuple[np.ndarray, float]:
        # Feature rows hold category codes: points indexed by code.
        by_code = np.array([float(conf["points"].get(v, conf["missing"])) for v in CATEGORIES[field]])
        return by_code, float(conf["missing"])

    @classmethod
    def load(cls, path: Path | None = None) -> Scorecard:
        text = (path.read_text() if path else
                resources.files("shadow").joinpath("scorecard.toml").read_text())
        return cls(tomllib.loads(text))

    def points(self, x: np.ndarray) -> np.ndarray:
        """Total points for each row of a feature matrix (columns in FEATURE_NAMES order)."""
        total = np.zeros(len(x))
        for field, (upper, pts, missing) in self._bands.items():
            v = x[:, _COL[field]]
            idx = np.minimum(np.searchsorted(upper, np.nan_to_num(v), side="left"), len(pts) - 1)
            total += np.where(np.isnan(v), missing, pts[idx])
        for field, (by_code, missing) in self._cats.items():
            v = x[:, _COL[field]]
            total += np.where(np.isnan(v), missing, by_code[np.nan_to_num(v).astype(int)])
        return total

    def outcomes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outcome per row, points per row) for a feature matrix."""
        pts = self.points(x)
        out = np.where(pts >= self.approve_at, "approve",
                       np.where(pts < self.decline_below, "decline", "refer")).astype(object)
        for rule in self.knock_outs:
            out[_KNOCK_OUTS[rule](x.T)] = "decline"
        return out, pts

    def decide(self, row: np.ndarray) -> LegacyResult:
        """One application (a (1, n_features) row from models.features.feature_row).

        The same bands and rules as `outcomes`, in plain Python: on one row, numpy's per-call
        overhead costs ~20x the arithmetic (tests check both paths agree)."""
        v = row[0].tolist()
        got = {}
        for field, (upper, points, missing) in self._bands_py.items():
            x = v[_COL[field]]
            got[field] = missing if x != x else points[min(bisect_left(upper, x), len(points) - 1)]
        for field, (by_code, missing) in self._cats_py.items():
            x = v[_COL[field]]
            got[field] = missing if x != x else by_code[int(x)]
        pts = sum(got.values())
        fired = [rule for rule in self.knock_outs if _KNOCK_OUTS[rule](v)]
        if fired:
            outcome = "decline"
        elif pts >= self.approve_at:
            outcome = "approve"
        else:
            outcome = "decline" if pts < self.decline_below else "refer"
        return LegacyResult(outcome, pts, fired,
                            {f: self._best[f] - p for f, p in got.items()})

    def reason_weights(self, knock_outs: list[str],
                       shortfalls: dict[str, float]) -> list[tuple[str, float]]:
        """Why, most important first, as (feature, weight): the classic scorecard method.
        A knock-out declines whatever the points, so it comes first and weighs the whole
        approval cut-off; then the attributes by the points they cost, largest first."""
        fired = {KNOCK_OUT_FEATURES[k]: self.approve_at for k in knock_outs}
        lost = sorted(((f, w) for f, w in shortfalls.items() if w > 0 and f not in fired),
                      key=lambda fw: -fw[1])
        return [*fired.items(), *lost]
