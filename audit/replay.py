"""Replay: re-score an audited decision from its record with the model version it recorded
(not today's champion) and compare probability, outcome and contributions exactly. A decision
the legacy scorecard made is re-run through the scorecard: outcome, points, knock-outs and
the points each attribute cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.policy import Policy
from models.features import as_dict, feature_row
from models.scorer import Scorer
from shadow.arms import Case, LegacyArm
from shadow.scorecard import Scorecard


@dataclass
class ReplayResult:
    decision_id: str
    decided_by: str  # model | legacy
    version: str  # the model version, or the scorecard version
    policy_version: str
    differences: list[str] = field(default_factory=list)
    replayed: dict[str, Any] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        r = self.replayed
        if self.decided_by == "legacy":
            return (f"scorecard {self.version}: outcome {r['outcome']}, {r['points']!r} points, "
                    f"knock-outs {r['knock_outs'] or 'none'}")
        return (f"model version {self.version}: probability {r['probability_of_default']!r}, "
                f"outcome {r['outcome']}, {len(r['contributions'])} contributions")


def _differ(out: list[str], what: str, recorded: Any, replayed: Any) -> None:
    if recorded != replayed:
        out.append(f"{what}: recorded {recorded!r}, replayed {replayed!r}")


def replay_record(record: dict[str, Any], scorer_for: Callable[[str], Scorer],
                  policy: Policy, scorecard: Scorecard | None = None) -> ReplayResult:
    """`scorer_for(version)` loads that registry version. Exact comparison: the same booster
    on the same raw inputs is deterministic, so any difference is a real one."""
    if record.get("legacy") is not None:
        return _replay_legacy(record, scorecard or Scorecard.load(), policy.version)
    version = record["model"]["version"]
    result = ReplayResult(record["decision_id"], "model", version, policy.version)
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


def _replay_legacy(record: dict[str, Any], scorecard: Scorecard,
                   policy_version: str) -> ReplayResult:
    recorded = record["legacy"]
    result = ReplayResult(record["decision_id"], "legacy", scorecard.version, policy_version)
    diffs = result.differences
    if recorded["version"] != scorecard.version:
        diffs.append(f"scorecard version: recorded {recorded['version']!r}, "
                     f"current scorecard is {scorecard.version!r}")
    raw = record["raw_inputs"]
    x = feature_row(raw)
    features = as_dict(x)
    degraded = [d["source"] for d in record["response"]["degraded"]]
    out = LegacyArm(scorecard).evaluate(Case(record["country"], x, raw, features, degraded))
    result.replayed = {"outcome": out.outcome, "points": out.points,
                       "knock_outs": out.knock_outs, "shortfalls": out.shortfalls}
    _differ(diffs, "features", record["features"], features)
    for what in ("outcome", "points", "knock_outs", "shortfalls"):
        if what in recorded:  # records written before shortfalls were kept lack them
            _differ(diffs, what, recorded[what], result.replayed[what])
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
