"""Rollout modes, one country's flag, and which arm decides for a bucket.

Modes, from safest to full rollout:
  legacy  the legacy scorecard decides; the model runs in shadow (the kill switch target)
  shadow  the legacy scorecard decides; the model runs in shadow (the observation phase)
  canary  customers whose bucket is below `percent_bp` get the model, the rest legacy
  full    the model decides; the legacy scorecard runs in shadow

The canary share is in basis points of 10,000 buckets (0.01% granularity). A bucket is a
keyed hash of the customer id (feature_flags.bucketing), so raising the percentage only
adds customers to the model arm: nobody flips back and forth during a ramp-up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

Mode = Literal["legacy", "shadow", "canary", "full"]
Arm = Literal["model", "legacy"]
MODES: tuple[str, ...] = get_args(Mode)
BUCKETS = 10_000


class InvalidFlag(ValueError):
    """A flag change that makes no sense (unknown mode, bad percentage)."""


def percent_to_bp(percent: float | str | None, mode: str) -> int:
    """A percentage with at most two decimals -> basis points; fixed by the mode unless canary."""
    if mode not in MODES:
        raise InvalidFlag(f"mode must be one of {', '.join(MODES)}")
    if mode != "canary":
        if percent is not None:
            raise InvalidFlag("percent applies to canary mode only")
        return BUCKETS if mode == "full" else 0
    if percent is None:
        raise InvalidFlag("canary mode needs a percent (0-100, at most two decimals)")
    try:
        value = float(percent) * 100
    except (TypeError, ValueError):
        raise InvalidFlag("percent must be a number") from None
    bp = round(value) if math.isfinite(value) else -1
    # JSON numbers are binary floats: 33.33 is 3332.9999...; accept what is a whole number of
    # basis points up to float noise (the same tolerance as the API schema's multipleOf).
    if abs(value - bp) > 1e-6 or not 0 <= bp <= BUCKETS:
        raise InvalidFlag("percent must be between 0 and 100 with at most two decimals")
    return bp


@dataclass(frozen=True)
class CountryFlag:
    country: str
    mode: str = "full"
    percent_bp: int = BUCKETS  # share of buckets the model decides
    version: int = 0  # bumped on every change; 0 = never set (the settings default applies)
    updated_at: str | None = None
    updated_by: str | None = None
    reason: str | None = None

    def arm_for(self, bucket: int) -> Arm:
        if self.mode == "full":
            return "model"
        if self.mode == "canary":
            return "model" if bucket < self.percent_bp else "legacy"
        return "legacy"

    @property
    def percent(self) -> float:
        return self.percent_bp / 100

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CountryFlag:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def default_flag(country: str, mode: str) -> CountryFlag:
    return CountryFlag(country, mode, percent_to_bp(None, mode) if mode != "canary" else 0)
