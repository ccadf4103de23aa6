import asyncio
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from decision.arms import ArmOutcome, Case, LegacyArm, ModelArm, ShadowRunner
from decision.rollout import Rollout
from feature_flags.bucketing import Bucketer
from feature_flags.file import FileFlagStore
from feature_flags.live import LiveFlags
from models.features import feature_row
from shadow.metrics import RolloutMetrics
from shadow.scorecard import Scorecard

RAW = {"age": 45, "seniority": 12, "time": 36, "amount": 600.0, "price": 1200.0, "records": 0.0,
       "debt": 0.0, "income": 200.0, "expenses": 60.0, "assets": 9000.0, "home": "owner",
       "marital": "married", "job": "fixed"}


def case(degraded=()):
    x = feature_row(RAW)
    return Case("ES", x, RAW, {}, list(degraded))


class FixedArm:
    """A DecisionArm (our Protocol) answering a fixed outcome."""

    def __init__(self, name, outcome="approve"):
        self.name = name
        self.outcome = outcome

    def evaluate(self, case, explain=False):
        return ArmOutcome(self.name, self.outcome, "v", probability_of_default=0.1)


class FailingArm(FixedArm):
    def evaluate(self, case, explain=False):
        raise ZeroDivisionError("broken shadow")


class HangingArm(FixedArm):
    def __init__(self, name, release, started=None):
        super().__init__(name)
        self.release = release
        self.started = started or threading.Semaphore(0)

    def evaluate(self, case, explain=False):
        self.started.release()
        self.release.wait(5)
        return super().evaluate(case)


def run(coro):
    return asyncio.run(coro)


def test_legacy_arm_never_approves_on_missing_data():
    arm = LegacyArm(Scorecard.load())
    assert arm.evaluate(case()).outcome == "approve"
    degraded = arm.evaluate(case(["bureau"]))
    assert degraded.outcome == "refer" and degraded.points == arm.evaluate(case()).points


def test_runner_ok_error_timeout_busy():
    """A failing arm is 'error', a hanging one 'timeout' within budget, then 'busy'."""
    release, started = threading.Event(), threading.Semaphore(0)

    async def scenario():
        runner = ShadowRunner(budget_s=0.02, slots=2)
        ok = await runner.finish(runner.start(FixedArm("legacy"), case()))
        err = await runner.finish(runner.start(FailingArm("legacy"), case()))
        t0 = time.perf_counter()
        hung = []
        for _ in range(2):
            pending = runner.start(HangingArm("model", release, started), case())
            # Running, so it holds its slot (one timed out before its thread started would
            # be cancelled and give the slot back: a loaded machine does that).
            assert started.acquire(timeout=5)
            hung.append(await runner.finish(pending))
        waited = time.perf_counter() - t0
        busy = await runner.finish(runner.start(HangingArm("model", release), case()))
        release.set()
        await asyncio.sleep(0.05)
        again = await runner.finish(runner.start(FixedArm("model"), case()))
        runner.close()
        return ok, err, hung, waited, busy, again

    ok, err, hung, waited, busy, again = run(scenario())
    assert ok[0] == "ok" and ok[1].outcome == "approve"
    assert err == ("error", None, "ZeroDivisionError")
    assert [h[0] for h in hung] == ["timeout", "timeout"] and waited < 0.5
    assert busy == ("busy", None, None)
    assert again[0] == "ok"  # slots come back once the hung runs end


def test_slots_come_back_after_timeouts_and_cancellations():
    """With a zero budget most runs time out, some cancelled before they start: every slot
    must still be returned (a leak would leave the runner 'busy' for good)."""

    async def scenario():
        runner = ShadowRunner(budget_s=0.0, slots=2)
        statuses = [(await runner.finish(runner.start(FixedArm("legacy"), case())))[0]
                    for _ in range(200)]
        await asyncio.sleep(0.2)
        after = runner.start(FixedArm("legacy"), case())
        await asyncio.sleep(0.05)
        last = await runner.finish(after)
        runner.close()
        return statuses, last

    statuses, last = run(scenario())
    assert last[0] == "ok"
    assert statuses.count("busy") < 200


def make_rollout(tmp_path):
    metrics = RolloutMetrics(CollectorRegistry())
    flags = LiveFlags(FileFlagStore(tmp_path / "flags.json"), "full")
    return Rollout(flags, Bucketer(b"k" * 32), ShadowRunner(0.05), metrics), metrics


def test_compare_records_both_arms_and_counts(tmp_path):
    rollout, metrics = make_rollout(tmp_path)

    async def scenario():
        a = rollout.assign("ES", "C-1")
        assert a.decided_by == "model" and a.mode == "full" and 0 <= a.bucket < 10_000
        pending = rollout.start_shadow(LegacyArm(Scorecard.load()), case())
        live = ArmOutcome("model", "decline", "3", probability_of_default=0.7)
        return await rollout.compare(pending, live, "ES")

    section = run(scenario())
    assert section.arm == "legacy" and section.status == "ok"
    assert section.comparison.model_dump() == {
        "legacy_outcome": "approve", "model_outcome": "decline",
        "legacy_points": section.result.points, "model_probability": 0.7, "agree": False}
    assert metrics.pairs.labels("ES", "approve", "decline")._value.get() == 1
    assert metrics.agreement.labels("ES")._value.get() == 0.0
    rollout.close()


def test_failed_shadow_has_no_comparison(tmp_path):
    rollout, metrics = make_rollout(tmp_path)

    async def scenario():
        legacy = LegacyArm(Scorecard.load()).evaluate(case())
        pending = rollout.start_shadow(FailingArm("model"), case())
        return await rollout.compare(pending, legacy, "ES")

    section = run(scenario())
    assert section.status == "error" and section.comparison is None
    assert metrics.shadow_runs.labels("ES", "model", "error")._value.get() == 1
    rollout.close()


@pytest.mark.parametrize("budget", [0.0])
def test_zero_budget_still_takes_a_finished_result(budget):
    async def scenario():
        runner = ShadowRunner(budget)
        p = runner.start(FixedArm("legacy"), case())
        await asyncio.sleep(0.05)
        return await runner.finish(p)

    assert run(scenario())[0] == "ok"


def test_inline_arms_run_on_the_spot_and_their_errors_are_recorded():
    """An inline arm is done when start() returns (no thread); its failure is an error status."""
    runner = ShadowRunner(budget_s=0.001, slots=1)
    ok_arm, bad_arm = FixedArm("legacy"), FailingArm("legacy")
    ok_arm.inline = bad_arm.inline = True
    pending = runner.start(ok_arm, case())
    assert pending.future.done()
    assert run(runner.finish(pending))[0] == "ok"
    status, outcome, error = run(runner.finish(runner.start(bad_arm, case())))
    assert (status, outcome, error) == ("error", None, "ZeroDivisionError")
    runner.close()


def test_real_arms_are_inline():
    assert LegacyArm.inline and ModelArm.inline
