"""Which arm decides (the country's flag and the customer's sticky bucket), and the shadow.

    assign()        country flag + sticky bucket -> Assignment (decided_by model | legacy)
    start_shadow()  the other arm, on the shadow runner
    compare()       wait (within budget) for the shadow, compare, count; -> record section
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from audit.records import Comparison, FlagState, ShadowSection
from decision.arms import ArmOutcome, Case, DecisionArm, Pending, ShadowRunner
from feature_flags.bucketing import Bucketer
from feature_flags.live import LiveFlags
from shadow.metrics import RolloutMetrics

# The record of a decision made with no rollout configured: the model decides everything.
NO_ROLLOUT = FlagState(mode="full", decided_by="model")


@dataclass(frozen=True)
class Assignment:
    country: str
    mode: str
    percent_bp: int
    flag_version: int
    bucket: int
    decided_by: str  # model | legacy

    def state(self) -> FlagState:
        return FlagState(country=self.country, mode=self.mode, percent_bp=self.percent_bp,
                         flag_version=self.flag_version, bucket=self.bucket,
                         decided_by=self.decided_by)


class Rollout:
    def __init__(self, flags: LiveFlags, bucketer: Bucketer, runner: ShadowRunner,
                 metrics: RolloutMetrics) -> None:
        self.flags = flags
        self.bucketer = bucketer
        self.runner = runner
        self.metrics = metrics

    def assign(self, country: str, customer_id: str) -> Assignment:
        flag = self.flags.get(country)
        bucket = self.bucketer.bucket(customer_id)
        self.metrics.model_share.labels(country).set(flag.percent_bp / 10_000)
        return Assignment(country, flag.mode, flag.percent_bp, flag.version, bucket,
                          flag.arm_for(bucket))

    def start_shadow(self, arm: DecisionArm, case: Case) -> Pending:
        return self.runner.start(arm, case)

    async def compare(self, pending: Pending, live: ArmOutcome, country: str) -> ShadowSection:
        status, other, error = await self.runner.finish(pending)
        self.metrics.shadow_runs.labels(country, pending.arm, status).inc()
        elapsed_ms = round((time.perf_counter() - pending.started) * 1000, 3)
        if other is None:
            return ShadowSection(arm=pending.arm, status=status, error=error,
                                 elapsed_ms=elapsed_ms, result=None, comparison=None)
        legacy, model = (other, live) if other.arm == "legacy" else (live, other)
        self.metrics.compared(country, legacy.outcome, model.outcome)
        return ShadowSection(
            arm=pending.arm, status=status, error=error, elapsed_ms=elapsed_ms,
            result=other.result(),
            comparison=Comparison(legacy_outcome=legacy.outcome, model_outcome=model.outcome,
                                  legacy_points=legacy.points,
                                  model_probability=model.probability_of_default,
                                  agree=legacy.outcome == model.outcome))

    def close(self) -> None:
        self.flags.stop()
        self.runner.close()
