"""Release gates: configurable thresholds, each checked and recorded as pass or fail."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Thresholds:
    version: str = "1"
    min_test_roc_auc: float = 0.80
    max_test_brier: float = 0.18
    min_bad_rate_reduction: float = 0.20
    max_bad_row_fraction: float = 0.05
    min_demographic_parity_ratio: float = 0.50
    max_equalized_odds_difference: float = 0.40

    @classmethod
    def load(cls, path: Path | None = None) -> Thresholds:
        base = tomllib.loads(resources.files("training").joinpath("gates.toml").read_text())
        if path is not None:
            base.update(tomllib.loads(path.read_text()))
        known = {f.name for f in fields(cls)}
        unknown = set(base) - known
        if unknown:
            raise ValueError(f"unknown gate settings: {sorted(unknown)}")
        return cls(**base)


@dataclass(frozen=True)
class Gate:
    name: str
    value: float
    threshold: float
    kind: str  # "min" or "max"

    @property
    def passed(self) -> bool:
        if self.value != self.value:  # NaN never passes
            return False
        return self.value >= self.threshold if self.kind == "min" else self.value <= self.threshold


def check(t: Thresholds, *, test_auc: float, test_brier: float, reduction: float,
          bad_fraction: float, fairness: dict[str, dict]) -> list[Gate]:
    gates = [Gate("test_roc_auc", test_auc, t.min_test_roc_auc, "min"),
             Gate("test_brier", test_brier, t.max_test_brier, "max"),
             Gate("bad_rate_reduction", reduction, t.min_bad_rate_reduction, "min"),
             Gate("bad_row_fraction", bad_fraction, t.max_bad_row_fraction, "max")]
    for attr, f in fairness.items():
        gates.append(Gate(f"demographic_parity_ratio_{attr}", f["demographic_parity_ratio"],
                          t.min_demographic_parity_ratio, "min"))
        gates.append(Gate(f"equalized_odds_difference_{attr}", f["equalized_odds_difference"],
                          t.max_equalized_odds_difference, "max"))
    return gates
