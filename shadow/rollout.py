"""The orchestrator's one collaborator for rollout: which arm decides, and the shadow result.

    assign()        country flag + sticky bucket -> Assignment (decided_by model | legacy)
    start_shadow()  the other arm, on the shadow runner
    decide_legacy() the legacy arm as the live decision (inline: microseconds)
    compare()       wait (within budget) for the shadow, compare, count; -> record section
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from feature_flags.bucketing import Bucketer
from feature_flags.live import LiveFlags
from shadow.arms import ArmOutcome, Case, DecisionArm, Pending, ShadowRunner
from shadow.metrics import RolloutMetrics


@dataclass(frozen=True)
class Assignment:
    country: str
    mode: str
    percent_bp: int
    flag_version: int
    bucket: int
    decided_by: str  # model | legacy

    def record(self) -> dict[str, Any]:
        return asdict(self)


class Rollout:
    def __init__(self, flags: LiveFlags, bucketer: Bucketer, legacy: DecisionArm,
                 model: DecisionArm, runner: ShadowRunner, metrics: RolloutMetrics) -> None:
        self.flags = flags
        self.bucketer = bucketer
        self.legacy = legacy
        self.model = model
        self.runner = runner
        self.metrics = metrics

    def assign(self, country: str, customer_id: str) -> Assignment:
        flag = self.flags.get(country)
        bucket = self.bucketer.bucket(customer_id)
        self.metrics.model_share.labels(country).set(flag.percent_bp / 10_000)
        return Assignment(country, flag.mode, flag.percent_bp, flag.version, bucket,
                          flag.arm_for(bucket))

    def start_shadow(self, assignment: Assignment, case: Case) -> Pending:
        arm = self.legacy if assignment.decided_by == "model" else self.model
        return self.runner.start(arm, case)

    def decide_legacy(self, case: Case) -> ArmOutcome:
        return self.legacy.evaluate(case)

    async def compare(self, pending: Pending, live: ArmOutcome, country: str) -> dict[str, Any]:
        status, other, error = await self.runner.finish(pending)
        self.metrics.shadow_runs.labels(country, pending.arm, status).inc()
        section: dict[str, Any] = {
            "arm": pending.arm, "status": status, "error": error,
            "elapsed_ms": round((time.perf_counter() - pending.started) * 1000, 3),
            "result": None, "comparison": None}
        if other is None:
            return section
        legacy, model = (other, live) if other.arm == "legacy" else (live, other)
        section["result"] = other.record()
        section["comparison"] = {
            "legacy_outcome": legacy.outcome, "model_outcome": model.outcome,
            "legacy_points": legacy.points, "model_probability": model.probability_of_default,
            "agree": legacy.outcome == model.outcome}
        self.metrics.compared(country, legacy.outcome, model.outcome)
        return section

    def close(self) -> None:
        self.flags.stop()
        self.runner.close()
