"""Replay: re-decide an audited decision from its record with the arm that decided it, the
model version it recorded (not today's champion), the policy version it recorded (loaded from
the policy history, not today's live rules) and the velocity it saw, and compare
probability, outcome and contributions exactly. A decision the legacy scorecard made is
re-run through the scorecard: outcome, points, knock-outs and the points each attribute
cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit.records import DecisionInputs, DecisionRecord
from decision.arms import Case, LegacyArm, ModelArm
from decision.policy import Policy
from models.features import as_dict, feature_row
from models.scorer import Scorer
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


def case_of(record: DecisionRecord, inputs: DecisionInputs,
            scorer: Scorer | None = None) -> Case:
    """The case both arms saw, rebuilt from the record and its inputs (RecordReader)."""
    x = feature_row(inputs.raw_inputs)
    return Case(record.country, x, inputs.raw_inputs, as_dict(x), record.degraded_sources,
                inputs.velocity, scorer)


def replay_record(record: DecisionRecord, inputs: DecisionInputs,
                  scorer_for: Callable[[str], Scorer],
                  policies: Policy | Callable[[str], Policy],
                  scorecard: Scorecard | None = None) -> ReplayResult:
    """`inputs` from RecordReader.inputs(record); `scorer_for(version)` loads that registry
    version; `policies(version)` that policy version from the history (given one fixed
    Policy instead, a record of another version is a difference). Exact comparison: the same
    booster and rules on the same raw inputs are deterministic, so any difference is a real
    one."""
    if record.legacy is not None:
        current = policies if isinstance(policies, Policy) else None
        return _replay_legacy(record, inputs, scorecard or Scorecard.load(),
                              current.version if current else "-")
    if record.policy is None or record.score is None or record.explanation is None:
        raise ValueError(f"decision {record.decision_id}: a model decision without its score, "
                         "explanation or policy")
    policy = policies if isinstance(policies, Policy) else policies(record.policy.version)
    version = record.model.version
    result = ReplayResult(record.decision_id, "model", version, policy.version)
    diffs = result.differences
    if record.policy.version != policy.version:
        diffs.append(f"policy version: recorded {record.policy.version!r}, "
                     f"current rules are {policy.version!r}")
    scorer = scorer_for(version)
    case = case_of(record, inputs, scorer)
    out = ModelArm(policy).evaluate(case, explain=True)
    score = out.score
    if score is None or score.contributions is None:
        raise RuntimeError("the model arm gave no explained score")
    contributions = dict(zip(scorer.feature_names, map(float, score.contributions), strict=True))
    result.replayed = {"probability_of_default": score.probability, "outcome": out.outcome,
                       "grade": out.grade, "base_value": score.base_value,
                       "contributions": contributions}
    _differ(diffs, "features", inputs.features, case.features)
    _differ(diffs, "probability_of_default", record.score.probability_of_default,
            score.probability)
    _differ(diffs, "outcome", record.policy.outcome, out.outcome)
    _differ(diffs, "grade", record.policy.grade, out.grade)
    _differ(diffs, "base_value", record.explanation.base_value, score.base_value)
    recorded_c = record.explanation.contributions
    for name in sorted(set(recorded_c) | set(contributions)):
        _differ(diffs, f"contribution {name}", recorded_c.get(name), contributions.get(name))
    return result


def _replay_legacy(record: DecisionRecord, inputs: DecisionInputs, scorecard: Scorecard,
                   policy_version: str) -> ReplayResult:
    recorded = record.legacy
    if recorded is None:
        raise ValueError(f"decision {record.decision_id}: no legacy section")
    result = ReplayResult(record.decision_id, "legacy", scorecard.version, policy_version)
    diffs = result.differences
    if recorded.version != scorecard.version:
        diffs.append(f"scorecard version: recorded {recorded.version!r}, "
                     f"current scorecard is {scorecard.version!r}")
    case = case_of(record, inputs)
    out = LegacyArm(scorecard).evaluate(case)
    result.replayed = {"outcome": out.outcome, "points": out.points,
                       "knock_outs": out.knock_outs, "shortfalls": out.shortfalls}
    _differ(diffs, "features", inputs.features, case.features)
    _differ(diffs, "outcome", recorded.outcome, out.outcome)
    _differ(diffs, "points", recorded.points, out.points)
    _differ(diffs, "knock_outs", recorded.knock_outs, out.knock_outs)
    if recorded.shortfalls is not None:  # records written before shortfalls were kept lack them
        _differ(diffs, "shortfalls", recorded.shortfalls, out.shortfalls)
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
