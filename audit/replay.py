"""Replay: re-score an audited decision from its record with the model version it recorded
(not today's champion) and compare probability, outcome and contributions exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.policy import Policy
from models.features import as_dict, feature_row
from models.scorer import Scorer


@dataclass
class ReplayResult:
    decision_id: str
    model_version: str
    policy_version: str
    differences: list[str] = field(default_factory=list)
    replayed: dict[str, Any] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not self.differences


def _differ(out: list[str], what: str, recorded: Any, replayed: Any) -> None:
    if recorded != replayed:
        out.append(f"{what}: recorded {recorded!r}, replayed {replayed!r}")


def replay_record(record: dict[str, Any], scorer_for: Callable[[str], Scorer],
                  policy: Policy) -> ReplayResult:
    """`scorer_for(version)` loads that registry version. Exact comparison: the same booster
    on the same raw inputs is deterministic, so any difference is a real one."""
    version = record["model"]["version"]
    result = ReplayResult(record["decision_id"], version, policy.version)
    diffs = result.differences
    if record["policy"]["version"] != policy.version:
        diffs.append(f"policy version: recorded {record['policy']['version']!r}, "
                     f"current rules are {policy.version!r}")
    raw = record["raw_inputs"]
    x = feature_row(raw)
    features = as_dict(x)
    scorer = scorer_for(version)
    score = scorer.score(x)
    contributions = dict(zip(scorer.feature_names, map(float, score.contributions), strict=True))
    degraded = [d["source"] for d in record["response"]["degraded"]]
    # The velocity counts of that moment are part of the inputs (they cannot be recounted).
    decided = policy.decide(record["country"], score.probability, raw, features, degraded,
                            velocity=record.get("velocity"))
    result.replayed = {"probability_of_default": score.probability, "outcome": decided.outcome,
                       "grade": decided.grade, "base_value": score.base_value,
                       "contributions": contributions}
    _differ(diffs, "features", record["features"], features)
    _differ(diffs, "probability_of_default", record["score"]["probability_of_default"],
            score.probability)
    _differ(diffs, "outcome", record["policy"]["outcome"], decided.outcome)
    _differ(diffs, "grade", record["policy"]["grade"], decided.grade)
    _differ(diffs, "base_value", record["explanation"]["base_value"], score.base_value)
    recorded_c = record["explanation"]["contributions"]
    for name in sorted(set(recorded_c) | set(contributions)):
        _differ(diffs, f"contribution {name}", recorded_c.get(name), contributions.get(name))
    return result


class ScorerCache:
    """Load each model version from the registry once."""

    def __init__(self, load: Callable[[str], Any]) -> None:
        self._load = load
        self._scorers: dict[str, Scorer] = {}

    def __call__(self, version: str) -> Scorer:
        if version not in self._scorers:
            self._scorers[version] = Scorer(self._load(version))
        return self._scorers[version]
